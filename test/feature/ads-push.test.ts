/**
 * Snapshot updates: who gets pushed what, in which order, and encode-once across nodes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness, type AdsTestStream } from './ads-client.ts';
import { CDS, EDS, LDS, SDS, cluster, endpoints, listener, resources, secret } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

/** Opens a stream for `node` subscribed like Envoy (CDS, LDS wildcard; SDS by name), everything ACKed. */
async function envoyLike(node: string, secrets = ['cert']): Promise<AdsTestStream> {
  const s = h.open();
  s.send({ node: { id: node }, type_url: CDS });
  s.ack(await s.next());
  s.ack(await s.request({ type_url: LDS }));
  s.ack(await s.request({ type_url: SDS, resource_names: secrets }), secrets);
  expect(await s.settle()).toEqual([]);
  return s;
}

const snap = (o: { pem?: string; port?: number; lport?: number; extra?: boolean } = {}) =>
  resources({
    secrets: [secret('cert', o.pem ?? 'v1'), ...(o.extra ? [secret('cert-2')] : [])],
    clusters: [cluster('c1', o.port ?? 9001), ...(o.extra ? [cluster('c2', 9002)] : [])],
    listeners: [listener('l1', o.lport ?? 10001, 'c1'), ...(o.extra ? [listener('l2', 10002, 'c2')] : [])],
  });

describe('pushes on snapshot update', () => {
  it('go only to the changed node, and only for the changed types', async () => {
    h.cache.setSnapshot('n1', snap());
    h.cache.setSnapshot('n2', snap());
    const s1 = await envoyLike('n1');
    const s2 = await envoyLike('n2');

    expect(h.cache.setSnapshot('n1', snap({ pem: 'rotated' }))).toEqual([SDS]);
    const pushed = await s1.settle();
    expect(pushed.map((r) => r.type_url)).toEqual([SDS]);
    expect(pushed[0]?.resources[0]?.object.tls_certificate.certificate_chain.inline_string).toBe('rotated');
    expect(await s2.settle()).toEqual([]);
  });

  it('reach every stream of the node (e.g. an Envoy reconnecting while the old stream lingers)', async () => {
    h.cache.setSnapshot('n1', snap());
    const a = await envoyLike('n1');
    const b = await envoyLike('n1');
    h.cache.setSnapshot('n1', snap({ port: 9100 }));
    expect((await a.settle()).map((r) => r.type_url)).toEqual([CDS]);
    expect((await b.settle()).map((r) => r.type_url)).toEqual([CDS]);
  });

  it('send secrets before clusters before listeners when one update changes all three', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = await envoyLike('n1', ['cert', 'cert-2']);
    expect(h.cache.setSnapshot('n1', snap({ pem: 'v2', extra: true }))).toEqual([SDS, CDS, LDS]);
    const pushed = await s.settle();
    expect(pushed.map((r) => r.type_url)).toEqual([SDS, CDS, LDS]);
    expect(pushed.map((r) => r.names)).toEqual([
      ['cert', 'cert-2'],
      ['c1', 'c2'],
      ['l1', 'l2'],
    ]);
  });

  it('skip types the stream never requested', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    h.cache.setSnapshot('n1', snap({ pem: 'v2', lport: 10009 }));
    expect(await s.settle()).toEqual([]);
  });

  it('serve empty LDS/CDS once the node snapshot is removed', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = await envoyLike('n1');
    h.cache.removeSnapshot('n1');
    const pushed = await s.settle();
    expect(pushed.map((r) => [r.type_url, r.names])).toEqual([
      [SDS, []],
      [CDS, []],
      [LDS, []],
    ]);
  });

  it('resend the EDS subscription after every CDS response, so updated EDS clusters finish warming', async () => {
    const withEds = (port: number) =>
      resources({ clusters: [cluster('c1', port)], endpoints: [endpoints('c1', 9001)], listeners: [listener('l1', 10001, 'c1')] });
    h.cache.setSnapshot('n1', withEds(9001));
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    const cla = await s.request({ type_url: EDS, resource_names: ['c1'] });
    s.ack(cla, ['c1']);
    await s.settle();
    h.cache.setSnapshot('n1', withEds(9002)); // cluster changed, endpoints did not
    const pushed = await s.settle();
    expect(pushed.map((r) => r.type_url)).toEqual([CDS, EDS]);
    expect(pushed[1]?.version_info).toBe(cla.version_info);
    expect(pushed[1]?.names).toEqual(['c1']);
  });
});

describe('encode once', () => {
  it('encodes each resource once across two nodes sharing it, across streams and pushes', async () => {
    const shared = { secrets: [secret('trust-bundle')], clusters: [cluster('backend', 9001)] };
    const before = h.cache.encoder.encodes;
    h.cache.setSnapshot('n1', resources({ ...shared, listeners: [listener('l1', 10001, 'backend')] }));
    h.cache.setSnapshot('n2', resources({ ...shared, listeners: [listener('l2', 10002, 'backend')] }));
    expect(h.cache.encoder.encodes - before).toBe(4); // trust-bundle, backend, l1, l2

    const s1 = await envoyLike('n1', ['trust-bundle']);
    const s2 = await envoyLike('n2', ['trust-bundle']);
    h.cache.setSnapshot('n1', resources({ ...shared, listeners: [listener('l1', 10001, 'backend'), listener('l3', 10003, 'backend')] }));
    expect((await s1.settle()).map((r) => r.names)).toEqual([['l1', 'l3']]);
    await s2.settle();
    expect(h.cache.encoder.encodes - before).toBe(5); // only l3 was new
  });

  it('drops encoded bytes no snapshot references any longer', () => {
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a')], clusters: [cluster('c', 1)] }));
    h.cache.setSnapshot('n2', resources({ secrets: [secret('a')] }));
    expect(h.cache.encoder.size).toBe(2);
    h.cache.setSnapshot('n1', resources({ secrets: [secret('b')] }));
    expect(h.cache.encoder.size).toBe(2); // a (n2), b (n1)
    h.cache.removeSnapshot('n2');
    expect(h.cache.encoder.size).toBe(1);
    h.cache.removeSnapshot('n1');
    expect(h.cache.encoder.size).toBe(0);
  });
});
