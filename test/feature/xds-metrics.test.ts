/**
 * What /metrics says about xDS: proxies per transport, per type and state, which proxy has a
 * NACKed type (computed from the same status the admin and `meshplane status` show, once per
 * scrape), and pushes, NACKs, push latency and convergence by type, for SotW and Delta.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createMetrics, type Metrics } from '../../src/admin/metrics.ts';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, cluster, listener, resources } from './ads-fixtures.ts';

let h: AdsHarness;
let metrics: Metrics;
/** The server's clock (ms): it stands still unless a test moves it, so latencies are exact. */
let clockMs = 0;

async function start(opts: { realClock?: boolean } = {}) {
  h = await AdsHarness.start(opts.realClock ? {} : { now: () => clockMs });
  const noCa = () => ({ issued: 0, failed: 0, phase: 'stable', trustedRoots: 1, certs: [], roots: [], signerNotAfter: 0 });
  metrics = createMetrics({ ads: h.server, cache: h.cache, lastLoad: () => ({ ok: true, at: '' }), ca: noCa });
}
beforeEach(() => {
  clockMs = 1000;
});
afterEach(async () => {
  metrics.close();
  await h.close();
});

const scrape = () => metrics.registry.metrics();

/** The value of one series (`name{labels}` exactly as exposed) in a scrape, or undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const snap = (port: number) => resources({ clusters: [cluster('c1', 9001)], listeners: [listener('l1', port, 'c1')] });

it('counts proxies by transport and by type and state, and names the NACKed one', async () => {
  await start();
  h.cache.setSnapshot('good.ns', resources({ clusters: [cluster('c1', 9001)], listeners: [listener('l1', 10001, 'c1')] }));
  h.cache.setSnapshot('bad.ns', resources({ clusters: [cluster('c1', 9001)], listeners: [listener('l1', 10002, 'c1')] }));

  const good = h.open();
  const cds = await good.request({ node: { id: 'good.ns' }, type_url: CDS });
  good.ack(cds);
  const lds = await good.request({ type_url: LDS });
  good.ack(lds);
  await good.settle();

  const bad = h.open();
  const badLds = await bad.request({ node: { id: 'bad.ns' }, type_url: LDS });
  bad.nack(badLds, 'Error adding/updating listener(s) l1: malformed IP address: not-an-ip');
  await bad.request({ type_url: CDS }); // sent, never ACKed: STALE
  await bad.settle();

  const m = await scrape();
  expect(m).toMatch(/^meshplane_xds_connected_proxies\{transport="sotw"\} 2$/m);
  expect(m).toMatch(/^meshplane_xds_connected_proxies\{transport="delta"\} 0$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="LDS",state="SYNCED"\} 1$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="LDS",state="NACKED"\} 1$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="CDS",state="SYNCED"\} 1$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="CDS",state="STALE"\} 1$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="SDS",state="NOT SENT"\} 0$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_nacked\{node="bad.ns",type="LDS"\} 1$/m);
  expect(m).not.toMatch(/^meshplane_xds_proxy_nacked\{node="good.ns"/m);
  expect(m).toMatch(/^meshplane_xds_nacks_total\{type="LDS"\} 1$/m);
  // The probe type URLs of settle() are client-chosen: they count as `other`, never as their own series.
  expect(m).not.toMatch(/meshplane\.test/);
  expect(sample(m, 'meshplane_xds_pushes_total{type="other"}')).toBeGreaterThan(0);

  // The next different version is ACKed: the NACK flag goes away.
  h.cache.setSnapshot('bad.ns', resources({ clusters: [cluster('c1', 9001)], listeners: [listener('l1', 10003, 'c1')] }));
  const fixed = await bad.next();
  expect(fixed.type_url).toBe(LDS);
  bad.ack(fixed);
  await bad.settle();
  const after = await scrape();
  expect(after).not.toMatch(/^meshplane_xds_proxy_nacked\{/m);
  expect(after).toMatch(/^meshplane_xds_proxy_sync\{type="LDS",state="SYNCED"\} 2$/m);
});

it('SotW: pushes by type; latency from the snapshot change to the write; convergence to the ACK, none for a NACK', async () => {
  await start();
  h.cache.setSnapshot('n.ns', snap(10001));
  const s = h.open();
  s.ack(await s.request({ node: { id: 'n.ns' }, type_url: CDS }));
  s.ack(await s.request({ type_url: LDS }));
  await s.settle();
  let m = await scrape();
  expect([sample(m, 'meshplane_xds_pushes_total{type="CDS"}'), sample(m, 'meshplane_xds_pushes_total{type="LDS"}')]).toEqual([1, 1]);
  // Answers to first requests were caused by no change: no latency, no convergence.
  expect(sample(m, 'meshplane_xds_push_latency_seconds_count{type="LDS"}')).toBe(0);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_count{type="LDS"}')).toBe(0);

  clockMs = 2000;
  h.cache.setSnapshot('n.ns', snap(10002)); // written at once: the clock has not moved
  const pushed = await s.next();
  expect(pushed.type_url).toBe(LDS);
  clockMs = 2250; // the proxy takes 250 ms to apply it
  s.ack(pushed);
  await s.settle();
  m = await scrape();
  expect(sample(m, 'meshplane_xds_pushes_total{type="LDS"}')).toBe(2);
  expect(sample(m, 'meshplane_xds_pushes_total{type="CDS"}')).toBe(1); // CDS did not change
  expect(sample(m, 'meshplane_xds_push_latency_seconds_count{type="LDS"}')).toBe(1);
  expect(sample(m, 'meshplane_xds_push_latency_seconds_sum{type="LDS"}')).toBe(0);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_count{type="LDS"}')).toBe(1);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_sum{type="LDS"}')).toBe(0.25);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_bucket{le="0.1",type="LDS"}')).toBe(0);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_bucket{le="0.25",type="LDS"}')).toBe(1);

  // A NACK: counted, latency observed (it was written), no convergence.
  clockMs = 3000;
  h.cache.setSnapshot('n.ns', snap(10003));
  s.nack(await s.next(), 'Error adding/updating listener(s) l1: cannot bind');
  await s.settle();
  m = await scrape();
  expect(sample(m, 'meshplane_xds_nacks_total{type="LDS"}')).toBe(1);
  expect(sample(m, 'meshplane_xds_nacks_total{type="CDS"}')).toBe(0);
  expect(sample(m, 'meshplane_xds_push_latency_seconds_count{type="LDS"}')).toBe(2);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_count{type="LDS"}')).toBe(1);

  // The fix converges from its own change, not from the rejected one's.
  clockMs = 4000;
  h.cache.setSnapshot('n.ns', snap(10004));
  const fixed = await s.next();
  clockMs = 4100;
  s.ack(fixed);
  await s.settle();
  m = await scrape();
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_count{type="LDS"}')).toBe(2);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_sum{type="LDS"}')).toBeCloseTo(0.35, 9);
});

it('Delta, on the real clock: pushes, latency and convergence by type; a NACK counts without convergence', async () => {
  await start({ realClock: true });
  h.cache.setSnapshot('n.ns', snap(10001));
  const d = h.deltaOpen();
  d.ack(await d.request({ node: { id: 'n.ns' }, type_url: CDS }));
  d.ack(await d.request({ type_url: LDS }));
  await d.settle();

  h.cache.setSnapshot('n.ns', resources({ clusters: [cluster('c1', 9001), cluster('c2', 9002)], listeners: [listener('l1', 10002, 'c1')] }));
  const pushed = [await d.next(), await d.next()];
  expect(pushed.map((r) => r.type_url)).toEqual([CDS, LDS]); // push order
  for (const r of pushed) d.ack(r);
  await d.settle();
  let m = await scrape();
  for (const type of ['CDS', 'LDS']) {
    expect(sample(m, `meshplane_xds_pushes_total{type="${type}"}`)).toBe(2);
    expect(sample(m, `meshplane_xds_push_latency_seconds_count{type="${type}"}`)).toBe(1);
    expect(sample(m, `meshplane_xds_push_latency_seconds_sum{type="${type}"}`)).toBeGreaterThanOrEqual(0);
    expect(sample(m, `meshplane_xds_proxy_convergence_seconds_count{type="${type}"}`)).toBe(1);
    expect(sample(m, `meshplane_xds_proxy_convergence_seconds_sum{type="${type}"}`)).toBeGreaterThanOrEqual(0);
    expect(sample(m, `meshplane_xds_proxy_convergence_seconds_bucket{le="+Inf",type="${type}"}`)).toBe(1);
  }

  h.cache.setSnapshot('n.ns', resources({ clusters: [cluster('c1', 9001), cluster('c2', 9002)], listeners: [listener('l1', 10003, 'c1')] }));
  d.nack(await d.next(), 'Error adding/updating listener(s) l1: cannot bind');
  await d.settle();
  m = await scrape();
  expect(sample(m, 'meshplane_xds_nacks_total{type="LDS"}')).toBe(1);
  expect(sample(m, 'meshplane_xds_push_latency_seconds_count{type="LDS"}')).toBe(2);
  expect(sample(m, 'meshplane_xds_proxy_convergence_seconds_count{type="LDS"}')).toBe(1);
  expect(h.server.nacks).toBe(1);
});

it('a scrape reads the proxies\' status once, however many series derive from it', async () => {
  await start();
  h.cache.setSnapshot('n.ns', snap(10001));
  const s = h.open();
  s.ack(await s.request({ node: { id: 'n.ns' }, type_url: LDS }));
  await s.settle();
  const status = vi.spyOn(h.server, 'status');
  const m = await scrape();
  expect(m).toMatch(/^meshplane_xds_connected_streams 1$/m);
  expect(m).toMatch(/^meshplane_xds_proxy_sync\{type="LDS",state="SYNCED"\} 1$/m);
  expect(status).toHaveBeenCalledTimes(1);
  await scrape();
  expect(status).toHaveBeenCalledTimes(2);
});

it('an observer stops observing once the metrics are closed', async () => {
  await start();
  metrics.close();
  h.cache.setSnapshot('n.ns', snap(10001));
  const s = h.open();
  await s.request({ node: { id: 'n.ns' }, type_url: LDS });
  expect(sample(await scrape(), 'meshplane_xds_pushes_total{type="LDS"}')).toBe(0);
  expect(h.server.pushes).toBe(1);
});
