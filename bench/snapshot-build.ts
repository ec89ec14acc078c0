/**
 * How long meshplane takes to turn a config of N sidecar workloads into encoded snapshots, and
 * what that costs in memory: parse+validate, plan, translate, certificate issuance, snapshot
 * encoding (each distinct resource encoded once). Prints the figures and writes them to
 * bench/results/snapshot-build.json.
 *
 *   npx tsx bench/snapshot-build.ts [workloads=1000]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAuthority } from '../src/ca/authority.ts';
import { WorkloadCertificates } from '../src/ca/workload-certs.ts';
import { toResourceSet } from '../src/resource-set.ts';
import { parseModelFiles } from '../src/model/load-model.ts';
import { buildProxyPlans } from '../src/plan/build-proxy-plans.ts';
import { translateProxy, type ProxyResources } from '../src/translate/translate-proxy.ts';
import { SnapshotCache } from '../src/xds/snapshot-cache.ts';

const N = Number(process.argv[2] ?? 1000);
const SERVICES = Math.max(1, Math.floor(N / 4)); // four replicas per service
const OUTBOUNDS = 3;

function meshYaml(): string {
  const docs = [
    'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\nspec: {}',
    'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: mesh-system}\nspec: {mtls: {mode: STRICT}}',
  ];
  for (let s = 0; s < SERVICES; s++) {
    docs.push(`apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: svc-${s}, namespace: ns-${s % 10}}\nspec: {ports: [{name: http-api}, {name: tcp-data}]}`);
  }
  for (let w = 0; w < N; w++) {
    const s = w % SERVICES;
    const ip = `127.${1 + Math.floor(w / 65000)}.${Math.floor(w / 250) % 250}.${(w % 250) + 1}`;
    const outbound = Array.from({ length: OUTBOUNDS }, (_, i) => {
      const t = (s + 1 + i) % SERVICES;
      return `    - {service: svc-${t}.ns-${t % 10}, port: http-api, listenPort: ${20000 + i}, bind: ${ip}}`;
    }).join('\n');
    docs.push(`apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: wl-${w}, namespace: ns-${s % 10}, labels: {app: svc-${s}}}
spec:
  serviceAccount: svc-${s}
  address: ${ip}
  inbound:
    - {service: svc-${s}, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: svc-${s}, port: tcp-data, listenPort: 18090, targetPort: 9090}
  outbound:
${outbound}`);
  }
  return docs.join('\n---\n');
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

const text = meshYaml();
if (process.env.DUMP) writeFileSync(process.env.DUMP, text);
let t = process.hrtime.bigint();
const { model, violations } = parseModelFiles([{ file: 'mesh.yaml', text }]);
if (!model) throw new Error(violations.slice(0, 5).map((v) => v.message).join('\n'));
const parseMs = ms(t);

t = process.hrtime.bigint();
const plans = buildProxyPlans(model);
const planMs = ms(t);

const stateDir = mkdtempSync(join(tmpdir(), 'meshplane-bench-'));
const { authority } = await loadOrCreateAuthority(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });
const certs = new WorkloadCertificates(model.mesh.ca, { signer: () => authority });
t = process.hrtime.bigint();
const issued = await Promise.all(plans.map((p) => certs.ensure(p.nodeId, p.spiffeId)));
const issueMs = ms(t);

t = process.hrtime.bigint();
const translated: ProxyResources[] = plans.map((p, i) => translateProxy(p, { ...issued[i]!, trustBundlePem: authority.trustBundlePem }));
const translateMs = ms(t);

const cache = new SnapshotCache();
const heapBefore = process.memoryUsage().heapUsed;
t = process.hrtime.bigint();
plans.forEach((p, i) => cache.setSnapshot(p.nodeId, toResourceSet(translated[i]!)));
const encodeMs = ms(t);
const resources = translated.reduce((n, r) => n + r.listeners.length + r.clusters.length + r.secrets.length, 0);
const encodes = cache.encoder.encodes;

// A second, unchanged round: what a debounced config reload costs when nothing changed.
t = process.hrtime.bigint();
const again = plans.map((p, i) => translateProxy(p, { ...issued[i]!, trustBundlePem: authority.trustBundlePem }));
plans.forEach((p, i) => cache.setSnapshot(p.nodeId, toResourceSet(again[i]!)));
const unchangedMs = ms(t);
global.gc?.();
const mem = process.memoryUsage();
rmSync(stateDir, { recursive: true, force: true });

const figures = {
  date: new Date().toISOString(),
  node: process.version,
  workloads: N,
  services: SERVICES,
  resources,
  distinctEncodes: encodes,
  ms: { parseValidate: Math.round(parseMs), plan: Math.round(planMs), issueCerts: Math.round(issueMs), translate: Math.round(translateMs), encodeSnapshots: Math.round(encodeMs), unchangedRebuild: Math.round(unchangedMs) },
  perWorkloadMs: Math.round(((parseMs + planMs + translateMs + encodeMs) / N) * 1000) / 1000,
  memoryMB: { rss: mb(mem.rss), heapUsed: mb(mem.heapUsed), snapshotsHeapDelta: mb(mem.heapUsed - heapBefore) },
};
console.log(JSON.stringify(figures, null, 2));
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', `snapshot-build-${N}.json`), `${JSON.stringify(figures, null, 2)}\n`);
