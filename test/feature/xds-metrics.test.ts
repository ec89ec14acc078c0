/**
 * What /metrics says about sync state: proxies per transport, per type and state, and which proxy
 * has a NACKed type — computed from the same status the admin and `meshplane status` show.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, cluster, listener, resources } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const noCa = () => ({ issued: 0, failed: 0, phase: 'stable', trustedRoots: 1, certs: [] });

async function scrape(): Promise<string> {
  const { registry } = createMetrics(h.server, h.cache, () => ({ ok: true }), noCa);
  return registry.metrics();
}

it('counts proxies by transport and by type and state, and names the NACKed one', async () => {
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
  expect(m).toMatch(/^meshplane_xds_nacks 1$/m);

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
