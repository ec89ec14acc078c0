/**
 * Delta reconnects: initial_resource_versions skip what the client holds and report what is gone, also
 * after a control-plane restart; per-stream state is dropped (docs/delta-ads.md "known";
 * reference/xds-protocol.md 1.7 "Reconnect", 1.9, checklist 13, 15; bugs 13, 25, 26).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, SDS, cluster, resources, secret } from './ads-fixtures.ts';
import { eventually, sorted, streamStatus, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const clusters = (...specs: [string, number][]) => resources({ clusters: specs.map(([n, p]) => cluster(n, p)) });

/** Connects, takes the CDS wildcard response, ACKs it, disconnects; returns what the client holds. */
async function holdAndLeave(node = 'n1'): Promise<Record<string, string>> {
  const d = h.deltaOpen();
  d.ack(await d.request({ node: { id: node }, type_url: CDS }));
  await d.settle();
  const held = d.held(CDS);
  d.cancel();
  await eventually(() => streamStatus(h, node) === undefined, 'the old stream to be dropped');
  return held;
}

describe('reconnect with initial_resource_versions (Envoy: empty subscribe lists = wildcard)', () => {
  it('nothing changed: the first request is answered, empty; nothing is resent; the versions count as known', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    const held = await holdAndLeave();
    expect(Object.keys(held)).toEqual(['c1', 'c2']);
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: held });
    expect(r).toMatchObject({ type_url: CDS, names: [], removed: [] });
    expect(typeStatus(h, 'n1', CDS)).toMatchObject({ subscribed: '*', resources: 2, initialResourceVersions: 2 });
    d.ack(r);
    expect(await d.settle()).toEqual([]);
    // Known versions are used for later diffs too: a change to c2 sends c2 only.
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9102]));
    expect((await d.next()).names).toEqual(['c2']);
  });

  it('changes while disconnected: changed and added resources sent, deleted ones in removed_resources (bug 26, checklist 13)', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002], ['c3', 9003]));
    const held = await holdAndLeave();
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9102], ['c4', 9004]));
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: held });
    expect(sorted(r.names)).toEqual(['c2', 'c4']);
    expect(r.removed).toEqual(['c3']);
    d.ack(r);
    expect(await d.settle()).toEqual([]);
  });

  it('a control-plane restart with one cluster gone: same versions, only the removal is sent (bug 25, 1.9)', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['stale', 9002]));
    const held = await holdAndLeave();
    await h.close();
    h = await AdsHarness.start(); // new process: new cache and encoder
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: held });
    expect(r).toMatchObject({ names: [], removed: ['stale'] });
  });

  it('an announced version the server does not recognise is replaced', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    const held = await holdAndLeave();
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: { ...held, c1: 'from-another-control-plane' } });
    expect(r.names).toEqual(['c1']);
    expect(r.versions.c1).toBe(held.c1);
  });

  it('named: unchanged held names are not resent, changed are, gone ones are removed, new ones are sent', async () => {
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('b'), secret('gone')] }));
    const d1 = h.deltaOpen();
    const first = await d1.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a', 'b', 'gone'] });
    d1.ack(first);
    await d1.settle();
    const held = d1.held(SDS);
    d1.cancel();
    await eventually(() => streamStatus(h, 'n1') === undefined, 'the old stream to be dropped');

    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('b', 'rotated'), secret('new')] }));
    const d = h.deltaOpen();
    const r = await d.request({
      node: { id: 'n1' },
      type_url: SDS,
      resource_names_subscribe: ['a', 'b', 'gone', 'new'],
      initial_resource_versions: held,
    });
    expect(sorted(r.names)).toEqual(['b', 'new']);
    expect(r.removed).toEqual(['gone']);
    expect(typeStatus(h, 'n1', SDS)).toMatchObject({ subscribed: ['a', 'b', 'gone', 'new'], initialResourceVersions: 3 });
  });

  it('a reconnect without initial_resource_versions gets everything again (nothing survives the old stream)', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    await holdAndLeave();
    const d = h.deltaOpen();
    expect(sorted((await d.request({ node: { id: 'n1' }, type_url: CDS })).names)).toEqual(['c1', 'c2']);
  });

  it('nonces of the old stream are not special: a first request carrying one is answered like any first request', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const d1 = h.deltaOpen();
    const old = await d1.request({ node: { id: 'n1' }, type_url: CDS });
    d1.cancel();
    await eventually(() => streamStatus(h, 'n1') === undefined, 'the old stream to be dropped');
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, response_nonce: old.nonce, initial_resource_versions: d1.held(CDS) });
    expect(r).toMatchObject({ type_url: CDS, names: [], removed: [] });
  });
});

describe('per-stream state (bug 13, checklist 15)', () => {
  it('is dropped on disconnect: many reconnects leave exactly the live stream, and it is served', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    for (let i = 0; i < 20; i++) {
      const d = h.deltaOpen();
      await d.request({ node: { id: 'n1' }, type_url: CDS, resource_names_subscribe: i % 2 ? ['*'] : [] });
      if (i % 3 === 0) d.end();
      else d.cancel();
    }
    await eventually(() => h.server.status().length === 0, 'every closed stream to be dropped');
    const live = h.deltaOpen();
    live.ack(await live.request({ node: { id: 'n1' }, type_url: CDS }));
    expect(h.server.status().map((p) => [p.nodeId, p.transport])).toEqual([['n1', 'delta']]);
    h.cache.setSnapshot('n1', clusters(['c1', 9101]));
    expect((await live.next()).names).toEqual(['c1']);
  });

  it('two delta streams of one node (a reconnect overlapping the old stream) are each served their own diff', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const a = h.deltaOpen();
    a.ack(await a.request({ node: { id: 'n1' }, type_url: CDS }));
    const b = h.deltaOpen();
    const rb = await b.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: a.held(CDS) });
    expect(rb.names).toEqual([]);
    b.ack(rb);
    h.cache.setSnapshot('n1', clusters(['c1', 9001], ['c2', 9002]));
    expect((await a.next()).names).toEqual(['c2']);
    expect((await b.next()).names).toEqual(['c2']);
    expect(h.server.status().filter((p) => p.transport === 'delta')).toHaveLength(2);
  });
});

describe('stream end', () => {
  it('a client half-close ends the stream with OK and forgets it', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const d = h.deltaOpen();
    await d.request({ node: { id: 'n1' }, type_url: CDS });
    d.end();
    expect((await d.status).code).toBe(grpc.status.OK);
    await eventually(() => h.server.status().length === 0, 'the stream to be dropped');
  });

  it('server close() ends delta streams with OK (Envoy reconnects, with initial_resource_versions)', async () => {
    h.cache.setSnapshot('n1', clusters(['c1', 9001]));
    const d = h.deltaOpen();
    await d.request({ node: { id: 'n1' }, type_url: CDS });
    await h.server.close();
    expect((await d.status).code).toBe(grpc.status.OK);
    expect(h.server.streams).toBe(0);
  });
});
