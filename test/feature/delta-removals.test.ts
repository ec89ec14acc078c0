/**
 * Delta removals and non-existence: removed_resources for deleted resources (once), for subscribed names
 * that do not exist, and nothing for names out of scope (docs/delta-ads.md "Each response";
 * reference/xds-protocol.md 1.4 "Non-existence (delta)", 1.7; bug 16).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';
import { type DeltaTestStream, sorted, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const secrets = (...names: string[]) => resources({ secrets: names.map((n) => secret(n)) });
const clusters = (...specs: [string, number][]) => resources({ clusters: specs.map(([n, p]) => cluster(n, p)) });

async function sds(names: string[]): Promise<{ d: DeltaTestStream; first: Awaited<ReturnType<DeltaTestStream['next']>> }> {
  const d = h.deltaOpen();
  const first = await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: names });
  d.ack(first);
  expect(await d.settle()).toEqual([]);
  return { d, first };
}

describe('wildcard', () => {
  it('a resource deleted from the snapshot is sent in removed_resources, once', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const gone = await d.next();
    expect(gone).toMatchObject({ type_url: CDS, names: [], removed: ['c2'] });
    d.ack(gone);
    expect(typeStatus(h, 'n1', CDS)?.resources).toBe(1);
    h.cache.setSnapshot('n1', clusters(['c1', 9101]));
    expect(await d.next()).toMatchObject({ names: ['c1'], removed: [] });
  });

  it('a deleted resource that comes back unchanged is sent again (the client dropped it)', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    const d = h.deltaOpen();
    const first = await d.request({ node: { id: 'n1' }, type_url: CDS });
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    expect((await d.next()).removed).toEqual(['c2']);
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    const back = await d.next();
    expect(back).toMatchObject({ names: ['c2'], removed: [] });
    expect(back.versions.c2).toBe(first.versions.c2);
  });

  it('a delete and an add in one update: one response with both', async () => {
    h.cache.setSnapshot('n1', clusters(['old', 9001]));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
    h.cache.setSnapshot('n1', clusters(['new', 9002]));
    expect((await d.settle()).map((r) => [r.names, r.removed])).toEqual([[['new'], ['old']]]);
  });

  it('removing the node snapshot removes everything of every subscribed type, in push order', async () => {
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a')], clusters: [cluster('c1', 9001), cluster('c2', 9002)], listeners: [listener('l1', 10001, 'c1')] }));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
    d.ack(await d.request({ type_url: LDS }));
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    h.cache.removeSnapshot('n1');
    expect((await d.settle()).map((r) => [r.type_url, r.names, sorted(r.removed)])).toEqual([
      [SDS, [], ['a']],
      [CDS, [], ['c1', 'c2']],
      [LDS, [], ['l1']],
    ]);
    expect(d.held(CDS)).toEqual({});
  });

  it('names only covered by a wildcard the client left produce no removals', async () => {
    h.cache.setSnapshot('n1', secrets('a', 'b'));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['*'] }));
    d.subscribe(SDS, [], ['*']);
    await d.settle();
    h.cache.setSnapshot('n1', secrets('a'));
    expect(await d.settle()).toEqual([]);
  });
});

describe('named', () => {
  it('a subscribed name that does not exist is reported in removed_resources (non-existence; bug 16)', async () => {
    h.cache.setSnapshot('n1', secrets('a'));
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a', 'missing'] });
    expect(r).toMatchObject({ names: ['a'], removed: ['missing'] });
  });

  it('non-existence is told once; the name stays subscribed and is pushed when it appears', async () => {
    h.cache.setSnapshot('n1', secrets('a'));
    const { d } = await sds(['a', 'missing']);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a', 'missing']);
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a', 'rotated')] }));
    expect(await d.next()).toMatchObject({ names: ['a'], removed: [] });
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a', 'rotated'), secret('missing')] }));
    expect(await d.next()).toMatchObject({ names: ['missing'], removed: [] });
  });

  it('non-existence is told again when the missing name is subscribed again', async () => {
    const { d } = await sds(['missing']);
    d.subscribe(SDS, ['missing']);
    expect(await d.next()).toMatchObject({ names: [], removed: ['missing'] });
  });

  it('a non-existent name subscribed later is reported then', async () => {
    h.cache.setSnapshot('n1', secrets('a'));
    const { d } = await sds(['a']);
    d.subscribe(SDS, ['later']);
    expect(await d.next()).toMatchObject({ names: [], removed: ['later'] });
  });

  it('a held resource deleted from the snapshot is removed; it stays subscribed and comes back', async () => {
    h.cache.setSnapshot('n1', secrets('a', 'b'));
    const { d, first } = await sds(['a', 'b']);
    h.cache.setSnapshot('n1', secrets('a'));
    const gone = await d.next();
    expect(gone).toMatchObject({ names: [], removed: ['b'] });
    d.ack(gone);
    h.cache.setSnapshot('n1', secrets('a', 'b'));
    const back = await d.next();
    expect(back).toMatchObject({ names: ['b'], removed: [] });
    expect(back.versions.b).toBe(first.versions.b);
  });

  it('the removal of a resource whose last version was NACKed is still signalled', async () => {
    h.cache.setSnapshot('n1', secrets('a', 'b'));
    const { d } = await sds(['a', 'b']);
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('b', 'bad')] }));
    d.nack(await d.next(), 'bad certificate b');
    await d.settle();
    h.cache.setSnapshot('n1', secrets('a'));
    expect(await d.next()).toMatchObject({ names: [], removed: ['b'] });
  });

  it('an unsubscribed name that is then deleted produces nothing; unsubscribed names not held produce nothing either', async () => {
    h.cache.setSnapshot('n1', secrets('a', 'b'));
    const { d } = await sds(['a', 'b', 'missing']);
    d.subscribe(SDS, [], ['b', 'missing']);
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', secrets('a'));
    expect(await d.settle()).toEqual([]);
    expect(typeStatus(h, 'n1', SDS)?.resources).toBe(1);
  });
});
