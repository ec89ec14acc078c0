/**
 * /metrics of a running control plane: config reloads (applied, rejected) with the time of the last
 * one, and every expiry an alert watches: roots, the workload signer, the xDS server certificate
 * and each workload certificate.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane.ts';
import { httpGet } from '../helpers/clients.ts';
import { waitFor } from '../helpers/wait-for.ts';

const DAY = 24 * 3600;
const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, ca: {workloadCertTTL: 24h}}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: http}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: backend-1, namespace: shop}
spec:
  serviceAccount: backend
  address: 127.0.0.11
  inbound: [{service: backend, port: http, listenPort: 18080, targetPort: 8080}]
`;

let cp: ControlPlane;
let dir = '';
let configDir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshplane-cp-metrics-'));
  configDir = join(dir, 'config');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'mesh.yaml'), MESH);
  cp = await ControlPlane.start({
    configDir, stateDir: join(dir, 'state'), xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', csdsAddress: '127.0.0.1:0', insecureXds: false, logger: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const scrape = async () => (await httpGet(`http://127.0.0.1:${cp.adminPort}/metrics`)).body;
/** The value of one series (`name{labels}` as exposed; a regex source), or undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const m = new RegExp(`^${series} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
const nowSeconds = () => Date.now() / 1000;

it('reports the expiry of the roots, the signer, the xDS server certificate and each workload certificate', async () => {
  const m = await scrape();
  const now = nowSeconds();
  const xdsRoot = sample(m, 'meshplane_ca_root_expiry_timestamp_seconds\\{purpose="xds",fingerprint="[0-9a-f]{64}"\\}')!;
  const workloadRoot = sample(m, 'meshplane_ca_root_expiry_timestamp_seconds\\{purpose="workload",fingerprint="[0-9a-f]{64}"\\}')!;
  expect(xdsRoot).toBeGreaterThan(now + 9 * 365 * DAY); // rootCertTTL defaults to 10 years
  expect(workloadRoot).toBeGreaterThan(now + 9 * 365 * DAY);
  expect(sample(m, 'meshplane_ca_signer_expiry_timestamp_seconds')).toBe(workloadRoot);
  const server = sample(m, 'meshplane_xds_server_cert_expiry_timestamp_seconds')!;
  expect(server).toBeGreaterThan(now + 364 * DAY);
  expect(server).toBeLessThanOrEqual(now + 366 * DAY);
  const workload = sample(m, 'meshplane_workload_cert_expiry_timestamp_seconds\\{node="backend-1.shop"\\}')!;
  expect(workload).toBeGreaterThan(now + DAY - 3600);
  expect(workload).toBeLessThanOrEqual(now + DAY + 60);
  expect(sample(m, 'meshplane_ca_certs_issued_total')).toBe(1);
  expect(sample(m, 'meshplane_ca_cert_issue_failures_total')).toBe(0);
});

it('counts config reloads by result, rejections apart, with the time of the last one', async () => {
  const before = await scrape();
  expect(sample(before, 'meshplane_config_reloads_total\\{result="applied"\\}')).toBe(0);
  expect(sample(before, 'meshplane_config_reloads_total\\{result="rejected"\\}')).toBe(0);
  expect(sample(before, 'meshplane_config_last_load_ok')).toBe(1);
  const started = sample(before, 'meshplane_config_last_reload_timestamp_seconds')!;
  expect(Math.abs(started - nowSeconds())).toBeLessThan(120); // the initial load

  writeFileSync(join(configDir, 'broken.yaml'), 'apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: bad, namespace: shop}\nspec: {portz: []}\n');
  const rejected = await waitFor(async () => {
    const m = await scrape();
    return sample(m, 'meshplane_config_reloads_total\\{result="rejected"\\}') === 1 && m;
  }, { what: 'the rejection counted' });
  expect(sample(rejected, 'meshplane_config_last_load_ok')).toBe(0);
  expect(sample(rejected, 'meshplane_config_reloads_total\\{result="applied"\\}')).toBe(0);
  expect(sample(rejected, 'meshplane_config_last_reload_timestamp_seconds')).toBeGreaterThanOrEqual(started);

  writeFileSync(join(configDir, 'broken.yaml'), 'apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: fixed, namespace: shop}\nspec: {ports: [{name: http}]}\n');
  const applied = await waitFor(async () => {
    const m = await scrape();
    return sample(m, 'meshplane_config_reloads_total\\{result="applied"\\}') === 1 && m;
  }, { what: 'the fix applied' });
  expect(sample(applied, 'meshplane_config_last_load_ok')).toBe(1);
  expect(sample(applied, 'meshplane_config_reloads_total\\{result="rejected"\\}')).toBe(1);
});
