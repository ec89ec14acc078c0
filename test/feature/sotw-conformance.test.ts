/**
 * SotW ADS conformance items not already covered by ads-*.test.ts (reference/xds-protocol.md 1.3, 1.4, 1.9,
 * checklist 3, 6-8, 12, 16, 17; bugs 4-9, 21, 22, 24); the mapping is in docs/xds-conformance.md.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, EDS, LDS, RDS, SDS, cluster, endpoints, listener, resources, route, secret } from './ads-fixtures.ts';
import { eventually, streamStatus, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const world = (o: { pem?: string; e2?: number; extra?: boolean } = {}) =>
  resources({
    secrets: [secret('a', o.pem ?? 'a1'), secret('b'), secret('c')],
    clusters: [cluster('c1', 9001), cluster('c2', 9002), ...(o.extra ? [cluster('c3', 9003)] : [])],
    endpoints: [endpoints('c1', 8001), endpoints('c2', o.e2 ?? 8002)],
    listeners: [listener('l1', 10001, 'c1')],
    routes: [route('r1', 'c1')],
  });

describe('subscriptions (1.4)', () => {
  it('the spec sequence on a named type: [] = wildcard, ["*","a"] = wildcard + a, ["a"] = only a, [] = nothing', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const all = await s.request({ node: { id: 'n1' }, type_url: SDS });
    expect(all.names).toEqual(['a', 'b', 'c']);
    s.ack(all, ['*', 'a']); // a newly requested name is (re)sent, with the rest of the wildcard
    const both = await s.next();
    expect(both.names).toEqual(['a', 'b', 'c']);
    expect(typeStatus(h, 'n1', SDS, 'sotw')?.subscribed).toBe('*');
    s.ack(both, ['a']);
    const onlyA = await s.next();
    expect(onlyA.names).toEqual(['a']);
    s.ack(onlyA, []);
    expect((await s.next()).names).toEqual([]);
  });

  it('request A, unsubscribe everything, request A again: answered each time (bugs 4, 5, 6; checklist 6)', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const a = await s.request({ node: { id: 'n1' }, type_url: RDS, resource_names: ['r1'] });
    expect(a.names).toEqual(['r1']);
    s.ack(a, []);
    const none = await s.next();
    expect(none.names).toEqual([]);
    s.ack(none, ['r1']);
    const again = await s.next();
    expect(again.names).toEqual(['r1']);
    expect(again.version_info).toBe(a.version_info);
  });

  it('EDS for a subset, a superset and a missing name: the intersection now, the missing name when it appears (bugs 7-9, 24)', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    const eds = await s.request({ type_url: EDS, resource_names: ['c1', 'static-eds'] });
    expect(eds.names).toEqual(['c1']); // snapshot holds c2 too: not a reason to stay silent
    s.ack(eds, ['c1', 'static-eds']);
    expect(await s.settle()).toEqual([]);
    h.cache.setSnapshot('n1', resources({ ...parts(world()), endpoints: [endpoints('c1', 8001), endpoints('c2', 8002), endpoints('static-eds', 8009)] }));
    expect((await s.next()).names).toEqual(['c1', 'static-eds']);
  });

  it('a first request for names none of which exist is answered, empty (bug 24)', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const r = await s.request({ node: { id: 'n1' }, type_url: EDS, resource_names: ['nowhere'] });
    expect(r).toMatchObject({ type_url: EDS, names: [] });
  });

  it('duplicate requested names are answered once; a snapshot with duplicate names is refused and nothing is pushed (checklist 16)', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const r = await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a', 'a', 'b'] });
    expect(r.names).toEqual(['a', 'b']);
    s.ack(r, ['a', 'a', 'b']);
    const dup = new Map(world());
    dup.set(SDS, [{ name: 'a', resource: secret('a', 'x') }, { name: 'a', resource: secret('a', 'y') }]);
    expect(() => h.cache.setSnapshot('n1', dup)).toThrow(/duplicate/);
    expect(await s.settle()).toEqual([]);
  });
});

describe('NACK (1.3)', () => {
  it('named type, name added, NACK carrying the version just sent: still a NACK, no resend (checklist 3, envoy#14841)', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const a = await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a'] });
    s.ack(a, ['a']);
    s.ack(a, ['a', 'b']);
    const ab = await s.next();
    expect(ab.names).toEqual(['a', 'b']);
    s.nack(ab, 'secret b is invalid', ab.version_info, ['a', 'b']);
    expect(await s.settle()).toEqual([]);
    expect(h.server.nacks).toBe(1);
    expect(typeStatus(h, 'n1', SDS, 'sotw')).toMatchObject({ state: 'NACKED', versionAcked: a.version_info, lastNack: { nonce: ab.nonce } });
  });
});

describe('EDS after CDS (checklist 10, bug 12)', () => {
  it('a NACKed CLA version is not re-sent after a cluster update', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    const good = await s.request({ type_url: EDS, resource_names: ['c1', 'c2'] });
    s.ack(good, ['c1', 'c2']);
    h.cache.setSnapshot('n1', world({ e2: 8102 }));
    const bad = await s.next();
    s.nack(bad, 'bad endpoints', good.version_info, ['c1', 'c2']);
    await s.settle();
    h.cache.setSnapshot('n1', resources({ ...parts(world({ e2: 8102 })), clusters: [cluster('c1', 9101), cluster('c2', 9002)] }));
    expect((await s.settle()).map((r) => r.type_url)).toEqual([CDS]);
  });
});

describe('full state for LDS and CDS (1.4, checklist 8)', () => {
  it('every CDS response carries the complete set: an addition keeps the others, a removal leaves them out', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    h.cache.setSnapshot('n1', world({ extra: true }));
    const added = await s.next();
    expect(added.names).toEqual(['c1', 'c2', 'c3']);
    s.ack(added);
    h.cache.setSnapshot('n1', resources({ ...parts(world()), clusters: [cluster('c2', 9002)] }));
    expect((await s.next()).names).toEqual(['c2']);
  });
});

describe('per-resource-set versions (checklist 12, bug 22)', () => {
  it('a CLA change reaches only the streams that subscribe to that CLA', async () => {
    h.cache.setSnapshot('n1', world());
    const c1 = h.open();
    const c2 = h.open();
    c1.ack(await c1.request({ node: { id: 'n1' }, type_url: EDS, resource_names: ['c1'] }), ['c1']);
    c2.ack(await c2.request({ node: { id: 'n1' }, type_url: EDS, resource_names: ['c2'] }), ['c2']);
    h.cache.setSnapshot('n1', world({ e2: 8102 }));
    expect(await c1.settle()).toEqual([]);
    expect((await c2.settle()).map((r) => r.names)).toEqual([['c2']]);
  });
});

describe('type URLs (checklist 17)', () => {
  it('every Any has the response type_url, for each type', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    s.send({ node: { id: 'n1' }, type_url: CDS });
    const got = [
      await s.next(),
      await s.request({ type_url: EDS, resource_names: ['c1', 'c2'] }),
      await s.request({ type_url: LDS }),
      await s.request({ type_url: RDS, resource_names: ['r1'] }),
      await s.request({ type_url: SDS, resource_names: ['a'] }),
    ];
    expect(got.map((r) => r.type_url)).toEqual([CDS, EDS, LDS, RDS, SDS]);
    for (const r of got) {
      expect(r.resources.length).toBeGreaterThan(0);
      for (const res of r.resources) expect(res.type_url).toBe(r.type_url);
    }
  });
});

describe('stale nonces (1.3, bug 21)', () => {
  it('after an ignored stale request, later updates are still pushed', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const v1 = await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a'] });
    s.ack(v1, ['a']);
    h.cache.setSnapshot('n1', world({ pem: 'a2' }));
    const v2 = await s.next();
    s.ack(v1, ['a']); // stale
    s.ack(v2, ['a']);
    expect(await s.settle()).toEqual([]);
    h.cache.setSnapshot('n1', world({ pem: 'a3' }));
    expect((await s.next()).resources[0]?.object.tls_certificate.certificate_chain.inline_string).toBe('a3');
  });
});

describe('restarts and reconnects (1.9)', () => {
  it('versions are the same after a control-plane restart with the same content', async () => {
    h.cache.setSnapshot('n1', world());
    const before = await h.open().request({ node: { id: 'n1' }, type_url: CDS });
    await h.close();
    h = await AdsHarness.start();
    h.cache.setSnapshot('n1', world());
    const after = await h.open().request({ node: { id: 'n1' }, type_url: CDS });
    expect(after.version_info).toBe(before.version_info);
  });

  it('a new stream whose first request carries the current version (and maybe the dead stream\'s nonce) gets the full state', async () => {
    h.cache.setSnapshot('n1', world());
    const old = await h.open().request({ node: { id: 'n1' }, type_url: CDS });
    const modern = await h.open().request({ node: { id: 'n1' }, type_url: CDS, version_info: old.version_info });
    expect(modern.names).toEqual(['c1', 'c2']);
    const legacy = await h.open().request({ node: { id: 'n1' }, type_url: CDS, version_info: old.version_info, response_nonce: old.nonce });
    expect(legacy.names).toEqual(['c1', 'c2']);
  });
});

describe('status() of a SotW stream', () => {
  it('transport sotw; STALE with pendingNonce, SYNCED after ACK, NACKED after NACK; resources = names in the latest response', async () => {
    h.cache.setSnapshot('n1', world());
    const s = h.open();
    const cds = await s.request({ node: { id: 'n1' }, type_url: CDS });
    expect(streamStatus(h, 'n1', 'sotw')).toMatchObject({ transport: 'sotw', queued: 0 });
    expect(typeStatus(h, 'n1', CDS, 'sotw')).toMatchObject({ state: 'STALE', pendingNonce: cds.nonce, resources: 2 });
    s.ack(cds);
    await s.settle();
    expect(typeStatus(h, 'n1', CDS, 'sotw')?.state).toBe('SYNCED');
    expect(typeStatus(h, 'n1', CDS, 'sotw')?.pendingNonce).toBeUndefined();
    h.cache.setSnapshot('n1', world({ extra: true }));
    const more = await s.next();
    expect(typeStatus(h, 'n1', CDS, 'sotw')).toMatchObject({ state: 'STALE', pendingNonce: more.nonce, resources: 3 });
    s.nack(more, 'no', cds.version_info);
    await s.settle();
    expect(typeStatus(h, 'n1', CDS, 'sotw')).toMatchObject({ state: 'NACKED', lastNack: { nonce: more.nonce } });
    expect(typeStatus(h, 'n1', CDS, 'sotw')?.pendingNonce).toBeUndefined();
  });

  it('queued while the stream is blocked (back-pressure); NOT SENT for a type of which nothing was sent yet', async () => {
    const big = (i: number) => resources({ secrets: [secret('a', `${String(i).padStart(4, '0')}:${'x'.repeat(256 * 1024)}`)] });
    h.cache.setSnapshot('n1', big(0));
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a'] }), ['a']);
    await s.settle();
    s.pause();
    for (let i = 1; i <= 60; i++) h.cache.setSnapshot('n1', big(i));
    await eventually(() => streamStatus(h, 'n1', 'sotw')?.queued === 1, 'the SDS response to be queued');
    s.send({ type_url: CDS });
    await eventually(() => streamStatus(h, 'n1', 'sotw')?.queued === 2, 'the CDS response to be queued');
    expect(typeStatus(h, 'n1', SDS, 'sotw')?.state).toBe('STALE');
    const cdsState = typeStatus(h, 'n1', CDS, 'sotw')?.state;
    s.resume();
    const got = await s.settle();
    expect(got.at(-1)).toMatchObject({ type_url: CDS, names: [] });
    expect(streamStatus(h, 'n1', 'sotw')?.queued).toBe(0);
    expect(cdsState).toBe('NOT SENT'); // proxy-status.ts: "NOT SENT: nothing of this type was sent on this stream yet"
  });
});

/** Back from a ResourceSet to fixture lists, to vary one type. */
function parts(set: ReturnType<typeof world>) {
  const list = (t: string) => set.get(t)?.map((e) => e.resource) ?? [];
  return { secrets: list(SDS), clusters: list(CDS), endpoints: list(EDS), listeners: list(LDS), routes: list(RDS) };
}
