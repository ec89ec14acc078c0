/**
 * Delta push order, CDS -> EDS re-send, and back-pressure (docs/delta-ads.md "Snapshot change",
 * "CDS -> EDS", "Back-pressure"; reference/xds-protocol.md 1.4 (EDS warming), 1.5, checklist 10, 11, 19, 20;
 * bugs 10-12, 20).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, EDS, LDS, RDS, SDS, cluster, endpoints, listener, resources, route, secret } from './ads-fixtures.ts';
import { type DeltaTestStream, eventually, sorted, streamStatus, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const world = (v: number, o: { c1?: number; c2?: number; e1?: number; e2?: number } = {}) =>
  resources({
    secrets: [secret('cert', `pem-${v}`)],
    clusters: [cluster('c1', o.c1 ?? 9001), cluster('c2', o.c2 ?? 9002)],
    endpoints: [endpoints('c1', o.e1 ?? 8001), endpoints('c2', o.e2 ?? 8002)],
    listeners: [listener('l1', 10000 + v, 'c1')],
    routes: [route('r1', v % 2 ? 'c1' : 'c2')],
  });

/** Subscribes like Envoy: CDS, EDS(names), LDS, RDS(r1), SDS(cert); everything ACKed. */
async function envoyLike(eds = ['c1', 'c2']): Promise<DeltaTestStream> {
  const d = h.deltaOpen();
  d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
  d.ack(await d.request({ type_url: EDS, resource_names_subscribe: eds }));
  d.ack(await d.request({ type_url: LDS }));
  d.ack(await d.request({ type_url: RDS, resource_names_subscribe: ['r1'] }));
  d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['cert'] }));
  expect(await d.settle()).toEqual([]);
  return d;
}

describe('push order (1.5, checklist 11)', () => {
  it('one change touching every type: one response per type, Secret, Cluster, CLA, Listener, Route', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike();
    h.cache.setSnapshot('n1', world(2, { c1: 9101, e1: 8101 }));
    const got = await d.settle();
    expect(got.map((r) => [r.type_url, r.names])).toEqual([
      [SDS, ['cert']],
      [CDS, ['c1']],
      [EDS, ['c1']],
      [LDS, ['l1']],
      [RDS, ['r1']],
    ]);
  });

  it('types with nothing to say for this stream get no response', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike(['c1']);
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), secrets: [secret('cert', 'pem-1'), secret('other')], endpoints: [endpoints('c1', 8001), endpoints('c2', 8102)] }));
    expect(await d.settle()).toEqual([]);
  });
});

describe('CDS -> EDS (1.4 warming, checklist 10, bugs 10, 12)', () => {
  it('a cluster update re-sends the subscribed CLA of that cluster right after, unchanged; not the others', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
    const cla = await d.request({ type_url: EDS, resource_names_subscribe: ['c1', 'c2'] });
    d.ack(cla);
    await d.settle();
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), clusters: [cluster('c1', 9101), cluster('c2', 9002)] }));
    const got = await d.settle();
    expect(got.map((r) => [r.type_url, r.names])).toEqual([
      [CDS, ['c1']],
      [EDS, ['c1']],
    ]);
    expect(got[1]?.versions.c1).toBe(cla.versions.c1);
  });

  it('when cluster and CLA both change, the CLA follows once', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike();
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), clusters: [cluster('c1', 9101), cluster('c2', 9002)], endpoints: [endpoints('c1', 8101), endpoints('c2', 8002)] }));
    const got = await d.settle();
    expect(got.map((r) => [r.type_url, r.names])).toEqual([
      [CDS, ['c1']],
      [EDS, ['c1']],
    ]);
    expect(got[1]?.resources[0]?.object.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(8101);
  });

  it('a CLA the stream does not subscribe to is not sent when its cluster changes', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike(['c2']);
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), clusters: [cluster('c1', 9101), cluster('c2', 9002)] }));
    expect((await d.settle()).map((r) => r.type_url)).toEqual([CDS]);
  });

  it('a NACKed CLA is not re-sent after a cluster update (like SotW: "a NACKed version is never resent")', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike();
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), endpoints: [endpoints('c1', 8101), endpoints('c2', 8002)] }));
    const bad = await d.next();
    expect(bad).toMatchObject({ type_url: EDS, names: ['c1'] });
    d.nack(bad, 'bad endpoints for c1');
    await d.settle();
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), clusters: [cluster('c1', 9101), cluster('c2', 9002)], endpoints: [endpoints('c1', 8101), endpoints('c2', 8002)] }));
    expect((await d.settle()).map((r) => [r.type_url, r.names])).toEqual([[CDS, ['c1']]]);
  });

  it('a CDS response to a re-subscription also re-sends the CLA', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike();
    d.subscribe(CDS, ['c2']);
    expect((await d.settle()).map((r) => [r.type_url, r.names])).toEqual([
      [CDS, ['c2']],
      [EDS, ['c2']],
    ]);
  });

  it('a removed cluster does not trigger a CLA re-send; its CLA removal comes in EDS order', async () => {
    h.cache.setSnapshot('n1', world(1));
    const d = await envoyLike();
    h.cache.setSnapshot('n1', resources({ ...parts(world(1)), clusters: [cluster('c1', 9001)], endpoints: [endpoints('c1', 8001)] }));
    expect((await d.settle()).map((r) => [r.type_url, r.names, r.removed])).toEqual([
      [CDS, [], ['c2']],
      [EDS, [], ['c2']],
    ]);
  });
});

describe('back-pressure (checklist 20) and unsubscribe (checklist 19, bug 20)', () => {
  const big = (i: number, extra = 'x') => `${String(i).padStart(4, '0')}:${extra.repeat(256 * 1024)}`;
  const bigSecrets = (i: number) => resources({ secrets: [secret('a', big(i)), secret('b', big(i, 'y'))] });

  it('at most one response per type is owed, built from the latest state; status shows it queued', async () => {
    h.cache.setSnapshot('n1', bigSecrets(0));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a'] }));
    await d.settle();
    d.pause();
    for (let i = 1; i <= 60; i++) h.cache.setSnapshot('n1', bigSecrets(i));
    await eventually(() => (streamStatus(h, 'n1')?.queued ?? 0) === 1, 'one type queued');
    d.send({ type_url: CDS }); // a first request while blocked: owed too
    await eventually(() => streamStatus(h, 'n1')?.queued === 2, 'two types queued');
    expect(typeStatus(h, 'n1', SDS)?.state).toBe('STALE');
    d.resume();
    const got = await d.settle();
    const sds = got.filter((r) => r.type_url === SDS);
    expect(sds.length).toBeLessThan(30);
    expect(sds.at(-1)?.resources[0]?.object.tls_certificate.certificate_chain.inline_string.slice(0, 4)).toBe('0060');
    expect(got.at(-1)).toMatchObject({ type_url: CDS, names: [] });
    expect(streamStatus(h, 'n1')?.queued).toBe(0);
  });

  it('a response owed before an unsubscribe is not sent after it', async () => {
    h.cache.setSnapshot('n1', bigSecrets(0));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a'] }));
    await d.settle();
    d.pause();
    for (let i = 1; i <= 60; i++) h.cache.setSnapshot('n1', bigSecrets(i));
    await eventually(() => (streamStatus(h, 'n1')?.queued ?? 0) === 1, 'the SDS response to be queued');
    d.subscribe(SDS, [], ['a']);
    await eventually(() => typeStatus(h, 'n1', SDS)?.resources === 0, 'the unsubscribe to be processed');
    d.resume();
    const got = await d.settle();
    const contents = got.flatMap((r) => r.resources.map((x) => x.object.tls_certificate.certificate_chain.inline_string.slice(0, 4)));
    expect(contents).not.toContain('0060');
    expect(sorted(got.flatMap((r) => r.names))).not.toContain('b');
  });
});

/** Back from a ResourceSet to fixture lists, to vary one type. */
function parts(set: ReturnType<typeof world>) {
  const list = (t: string) => set.get(t)?.map((e) => e.resource) ?? [];
  return { secrets: list(SDS), clusters: list(CDS), endpoints: list(EDS), listeners: list(LDS), routes: list(RDS) };
}
