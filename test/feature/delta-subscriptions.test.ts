/**
 * Delta subscriptions: legacy and explicit wildcard, named resources, subscribe/unsubscribe, re-subscription,
 * stale nonces (docs/delta-ads.md "Subscription per type"; reference/xds-protocol.md 1.7, checklist 5, 6, 14,
 * 16, 17; bugs 4-6, 14, 15 in their Delta form).
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

const snap = (o: { a?: string; b?: string; extraCluster?: boolean } = {}) =>
  resources({
    secrets: [secret('a', o.a ?? 'a1'), secret('b', o.b ?? 'b1'), secret('c')],
    clusters: [cluster('c1', 9001), cluster('c2', 9002), ...(o.extraCluster ? [cluster('c3', 9003)] : [])],
    listeners: [listener('l1', 10001, 'c1')],
  });

/** A delta stream for n1 whose CDS (legacy wildcard) response was ACKed. */
async function connect(): Promise<DeltaTestStream> {
  const d = h.deltaOpen();
  d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
  return d;
}

describe('wildcard', () => {
  it('legacy: a first request with both lists empty; later only the added resource is pushed', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', snap({ extraCluster: true }));
    const pushed = await d.next();
    expect(pushed).toMatchObject({ type_url: CDS, names: ['c3'], removed: [] });
    expect(typeStatus(h, 'n1', CDS)?.subscribed).toBe('*');
  });

  it('explicit: "*" in resource_names_subscribe', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    expect(sorted((await d.request({ type_url: SDS, resource_names_subscribe: ['*'] })).names)).toEqual(['a', 'b', 'c']);
  });

  it('an empty request after named subscriptions is not a wildcard', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    d.send({ type_url: SDS });
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', snap({ b: 'b2' }));
    expect(await d.settle()).toEqual([]);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a']);
  });

  it('"*" subscribed after names sends the rest of the type, not what the client holds', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    d.subscribe(SDS, ['*']);
    expect(sorted((await d.next()).names)).toEqual(['b', 'c']);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toBe('*');
  });

  it('"*" in unsubscribe leaves the wildcard: no response; names only the wildcard covered are forgotten, explicit names stay', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['*', 'a'] }));
    d.subscribe(SDS, [], ['*']);
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', snap({ a: 'a2', b: 'b2' }));
    const pushed = await d.settle();
    expect(pushed.map((r) => [r.type_url, r.names, r.removed])).toEqual([[SDS, ['a'], []]]);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a']);
  });

  it('wildcard + explicit name: unsubscribing the name re-sends the resource the wildcard still covers (1.7)', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const all = await d.request({ type_url: SDS, resource_names_subscribe: ['*', 'a'] });
    d.ack(all);
    d.subscribe(SDS, [], ['a']);
    const again = await d.next();
    expect(again).toMatchObject({ type_url: SDS, names: ['a'], removed: [] });
    expect(again.versions.a).toBe(all.versions.a);
    expect(await d.settle()).toEqual([]);
  });

  it('wildcard + explicit name of the same resource: it appears once per response (checklist 16)', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS, resource_names_subscribe: ['*', 'c1'] });
    expect(sorted(r.names)).toEqual(['c1', 'c2']);
    d.ack(r);
    h.cache.setSnapshot('n1', resources({ ...setsOf(snap()), clusters: [cluster('c1', 9100), cluster('c2', 9002)] }));
    expect((await d.next()).names).toEqual(['c1']);
  });
});

describe('named', () => {
  it('only the subscribed names are sent; a change to another name sends nothing', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const a = await d.request({ type_url: SDS, resource_names_subscribe: ['a'] });
    expect(a.names).toEqual(['a']);
    d.ack(a);
    h.cache.setSnapshot('n1', snap({ b: 'b2' }));
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', snap({ a: 'a2', b: 'b2' }));
    expect((await d.next()).names).toEqual(['a']);
  });

  it('a further subscribe sends only the newly subscribed names; duplicates once', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    d.subscribe(SDS, ['b', 'b']);
    expect((await d.next()).names).toEqual(['b']);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a', 'b']);
  });

  it('subscribing a name the client already holds re-sends it at the same version (1.7, checklist 14)', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const first = await d.request({ type_url: SDS, resource_names_subscribe: ['a', 'b'] });
    d.ack(first);
    d.subscribe(SDS, ['a']);
    const again = await d.next();
    expect(again.names).toEqual(['a']);
    expect(again.versions.a).toBe(first.versions.a);
  });

  it('...also on a wildcard type: subscribing a held cluster by name re-sends it', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.subscribe(CDS, ['c1']);
    expect((await d.next()).names).toEqual(['c1']);
  });

  it('unsubscribe: no response, later changes are not sent; resubscribe at an unchanged version re-sends (bugs 4-6)', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const ab = await d.request({ type_url: SDS, resource_names_subscribe: ['a', 'b'] });
    d.ack(ab);
    d.subscribe(SDS, [], ['b']);
    expect(await d.settle()).toEqual([]);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a']);
    d.subscribe(SDS, ['b']);
    const back = await d.next();
    expect(back.names).toEqual(['b']);
    expect(back.versions.b).toBe(ab.versions.b);
    d.ack(back);
    d.subscribe(SDS, [], ['b']);
    await d.settle();
    h.cache.setSnapshot('n1', snap({ b: 'b2' }));
    expect(await d.settle()).toEqual([]);
  });

  it('a phantom unsubscribe (never subscribed) is ignored cleanly', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    d.subscribe(SDS, [], ['never', 'c']);
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('n1', snap({ a: 'a2' }));
    expect((await d.next()).names).toEqual(['a']);
  });

  it('subscribe and unsubscribe in one request', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    d.subscribe(SDS, ['b'], ['a']);
    expect((await d.next()).names).toEqual(['b']);
    h.cache.setSnapshot('n1', snap({ a: 'a2', b: 'b2' }));
    expect((await d.settle()).map((r) => r.names)).toEqual([['b']]);
  });
});

describe('requests are never dropped for a stale nonce (checklist 5)', () => {
  it('a subscription change carrying an older nonce is honoured', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const v1 = await d.request({ type_url: SDS, resource_names_subscribe: ['a'] });
    d.ack(v1);
    await d.settle();
    h.cache.setSnapshot('n1', snap({ a: 'a2' }));
    const v2 = await d.next();
    expect(v2.nonce).not.toBe(v1.nonce);
    d.ack(v1, { subscribe: ['b'] }); // crossed the push
    expect((await d.next()).names).toEqual(['b']);
    expect(typeStatus(h, 'n1', SDS)?.subscribed).toEqual(['a', 'b']);
  });

  it('an ACK that also subscribes is both: recorded and answered with the new name only', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const a = await d.request({ type_url: SDS, resource_names_subscribe: ['a'] });
    d.ack(a, { subscribe: ['c'] });
    const c = await d.next();
    expect(c.names).toEqual(['c']);
    d.ack(c);
    await d.settle();
    expect(typeStatus(h, 'n1', SDS)).toMatchObject({ state: 'SYNCED', subscribed: ['a', 'c'] });
  });
});

describe('watches keep working (bugs 14, 15)', () => {
  it('after an immediate response, after a subscription change and after an ACK, updates still arrive', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    const a = await d.request({ type_url: SDS, resource_names_subscribe: ['a'] });
    h.cache.setSnapshot('n1', snap({ a: 'a2' })); // before any ACK
    expect((await d.next()).names).toEqual(['a']);
    d.ack(a, { subscribe: ['b'] });
    d.ack(await d.next());
    for (let i = 3; i < 6; i++) {
      h.cache.setSnapshot('n1', snap({ a: `a${i}`, b: `b${i}` }));
      const r = await d.next();
      expect(sorted(r.names)).toEqual(['a', 'b']);
      expect(r.resources.find((x) => x.name === 'a')?.object.tls_certificate.certificate_chain.inline_string).toBe(`a${i}`);
      d.ack(r);
    }
    expect(await d.settle()).toEqual([]);
  });
});

describe('types', () => {
  it('nothing is sent for a type the stream never subscribed to (checklist 17)', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = await connect();
    await d.settle();
    h.cache.setSnapshot('n1', resources({ ...setsOf(snap({ a: 'a9' })), listeners: [listener('l1', 10009, 'c1')] }));
    expect(await d.settle()).toEqual([]);
  });
});

/** Back from a ResourceSet to fixture lists, to vary one type. */
function setsOf(set: ReturnType<typeof snap>) {
  const list = (t: string) => set.get(t)?.map((e) => e.resource) ?? [];
  return { secrets: list(SDS), clusters: list(CDS), listeners: list(LDS) };
}
