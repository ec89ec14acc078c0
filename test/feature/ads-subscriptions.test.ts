/**
 * Wildcard and named subscriptions, ACKs and stale nonces on a SotW ADS stream.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness, type AdsTestStream } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const full = () =>
  resources({
    secrets: [secret('a'), secret('b'), secret('c')],
    clusters: [cluster('c1', 9001), cluster('c2', 9002)],
    listeners: [listener('l1', 10001, 'c1'), listener('l2', 10002, 'c2')],
  });

async function connect(node = 'n1'): Promise<AdsTestStream> {
  const s = h.open();
  s.send({ node: { id: node }, type_url: CDS });
  s.ack(await s.next());
  return s;
}

describe('wildcard types (LDS, CDS)', () => {
  it('carry every resource of the snapshot, decoded intact (nested Any included)', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    const cds = await s.request({ node: { id: 'n1' }, type_url: CDS });
    expect(cds.names).toEqual(['c1', 'c2']);
    expect(cds.resources.every((r) => r.type_url === CDS)).toBe(true);
    expect(cds.resources[0]?.object).toMatchObject({ name: 'c1', type: 'STATIC', connect_timeout: { seconds: '1' } });
    const lds = await s.request({ type_url: LDS });
    expect(lds.names).toEqual(['l1', 'l2']);
    expect(lds.resources[1]?.object.filter_chains[0].filters[0].typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      stat_prefix: 'l2',
      cluster: 'c2',
    });
  });

  it('send the complete set on every change, including a removal', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: LDS }));
    h.cache.setSnapshot('n1', resources({ ...setsOf(full()), listeners: [listener('l2', 10002, 'c2'), listener('l3', 10003, 'c1')] }));
    expect((await s.next()).names).toEqual(['l2', 'l3']);
    h.cache.setSnapshot('n1', resources({ ...setsOf(full()), listeners: [] }));
    expect((await s.next()).names).toEqual([]);
  });

  it('treat an explicit "*" like the legacy wildcard', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    expect((await s.request({ node: { id: 'n1' }, type_url: CDS, resource_names: ['*'] })).names).toEqual(['c1', 'c2']);
  });
});

describe('named types (SDS)', () => {
  it('answer with the intersection of requested and existing names', async () => {
    h.cache.setSnapshot('n1', full());
    const s = await connect();
    const sds = await s.request({ type_url: SDS, resource_names: ['b', 'zzz', 'a'] });
    expect(sds.names).toEqual(['a', 'b']);
    expect(sds.resources[0]?.object.tls_certificate.certificate_chain.inline_string).toContain('a');
  });

  it('push a requested name when it appears later, and nothing for unrequested names', async () => {
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a')] }));
    const s = await connect();
    const first = await s.request({ type_url: SDS, resource_names: ['a', 'late'] });
    expect(first.names).toEqual(['a']);
    s.ack(first, ['a', 'late']);
    expect(await s.settle()).toEqual([]);

    // A change to a secret nobody on this stream asked for sends nothing.
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('other')] }));
    expect(await s.settle()).toEqual([]);

    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('other'), secret('late')] }));
    const pushed = await s.next();
    expect(pushed.names).toEqual(['a', 'late']);
    expect(pushed.version_info).not.toBe(first.version_info);
  });

  it('resend the requested resources when the subscription changes, even if unchanged', async () => {
    h.cache.setSnapshot('n1', full());
    const s = await connect();
    const ab = await s.request({ type_url: SDS, resource_names: ['a', 'b'] });
    s.ack(ab, ['a', 'b']);
    expect(await s.settle()).toEqual([]);

    // Unsubscribe b, then subscribe it again: both changes are answered although nothing changed.
    s.ack(ab, ['a']);
    const onlyA = await s.next();
    expect(onlyA.names).toEqual(['a']);
    s.ack(onlyA, ['a', 'b']);
    const again = await s.next();
    expect(again.names).toEqual(['a', 'b']);
    expect(again.version_info).toBe(ab.version_info);
    expect(again.nonce).not.toBe(ab.nonce);
  });

  it('treat an empty list after explicit names as "nothing", not as wildcard', async () => {
    h.cache.setSnapshot('n1', full());
    const s = await connect();
    const a = await s.request({ type_url: SDS, resource_names: ['a'] });
    s.ack(a, []);
    const none = await s.next();
    expect(none.names).toEqual([]);
    s.ack(none, []);
    h.cache.setSnapshot('n1', resources({ ...setsOf(full()), secrets: [secret('a', 'rotated')] }));
    expect(await s.settle()).toEqual([]);
  });

  it('serve a legacy wildcard (empty first request) with every resource of the type', async () => {
    h.cache.setSnapshot('n1', full());
    const s = await connect();
    expect((await s.request({ type_url: SDS })).names).toEqual(['a', 'b', 'c']);
  });
});

describe('ACK', () => {
  it('records the acked version and gets no response', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    const cds = await s.request({ node: { id: 'n1' }, type_url: CDS });
    const pushesBefore = h.server.pushes;
    s.ack(cds);
    expect(await s.settle()).toEqual([]);
    expect(h.server.pushes).toBe(pushesBefore + 1); // only the probe's answer
    const cdsStatus = h.server.status()[0]?.types.find((t) => t.typeUrl === CDS);
    expect(cdsStatus).toMatchObject({ versionSent: cds.version_info, versionAcked: cds.version_info, nonceSent: cds.nonce, subscribed: '*' });
  });

  it('an identical snapshot set again pushes nothing', async () => {
    h.cache.setSnapshot('n1', full());
    const s = await connect();
    expect(h.cache.setSnapshot('n1', full())).toEqual([]);
    expect(await s.settle()).toEqual([]);
  });
});

describe('stale nonce', () => {
  it('a request carrying an older nonce is ignored', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    const v1 = await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a'] });
    s.ack(v1, ['a']);
    await s.settle();
    h.cache.setSnapshot('n1', resources({ ...setsOf(full()), secrets: [secret('a', 'v2'), secret('b')] }));
    const v2 = await s.next();
    expect(v2.version_info).not.toBe(v1.version_info);

    // A subscription change on the old nonce crossed the push: stale, ignored (its successor will come).
    s.ack(v1, ['a', 'b']);
    expect(await s.settle()).toEqual([]);
    const sds = h.server.status()[0]?.types.find((t) => t.typeUrl === SDS);
    expect(sds?.subscribed).toEqual(['a']);
    expect(sds?.versionAcked).toBe(v1.version_info);

    // The ACK of the latest nonce carries the new names and is answered.
    s.ack(v2, ['a', 'b']);
    expect((await s.next()).names).toEqual(['a', 'b']);
  });

  it('a request without nonce after a response was sent is stale too', async () => {
    h.cache.setSnapshot('n1', full());
    const s = h.open();
    await s.request({ node: { id: 'n1' }, type_url: CDS });
    s.send({ type_url: CDS });
    expect(await s.settle()).toEqual([]);
  });
});

/** Back from a ResourceSet to fixture lists, to vary one type of a snapshot. */
function setsOf(set: ReturnType<typeof full>) {
  const list = (t: string) => set.get(t)?.map((e) => e.resource) ?? [];
  return { secrets: list(SDS), clusters: list(CDS), listeners: list(LDS) };
}
