import { describe, expect, it } from 'vitest';
import { parseTestYaml, serviceYaml } from '../model/model-test-helpers.ts';
import type { MeshModel } from '../model/types.ts';
import { adviseStrict } from './advise-strict.ts';
import { EdgeStore } from './edge-store.ts';
import { manualClock, mtlsFrom, plaintextFrom, silentLogger, T0 } from './edges-test-helpers.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const workload = (name: string, address: string, labels: string, inbound: string) => `---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop, labels: ${labels}}
spec:
  serviceAccount: ${name}
  address: ${address}
  inbound: ${inbound}
`;
const MESH_PERMISSIVE = `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: mesh-system}
spec: {mtls: {mode: PERMISSIVE}}
`;
const BASE =
  serviceYaml('backend', 'shop', '[{name: http-api}, {name: tcp-echo}]') +
  workload('backend-1', '127.0.0.11', '{app: backend}', '[{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}, {service: backend, port: tcp-echo, listenPort: 18090, targetPort: 9090}]') +
  `---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: legacy-1, namespace: shop}
spec: {address: 127.0.0.13, sidecar: false}
` +
  MESH_PERMISSIVE;

function model(extra = ''): MeshModel {
  const result = parseTestYaml(BASE + extra);
  if (!result.model) throw new Error(JSON.stringify(result.violations));
  return result.model;
}

async function edgesOf(record: (s: EdgeStore) => void) {
  const store = await EdgeStore.open({ stateDir: mkdtempSync(join(tmpdir(), 'meshplane-advise-')), clock: manualClock(), logger: silentLogger() });
  record(store);
  await store.close();
  return store.edges();
}

const connected = new Map([['backend-1.shop', T0 - 3600_000]]);
const since = T0 - 1800_000;

describe('adviseStrict', () => {
  it('a plaintext caller on a port that would become STRICT makes it unsafe, naming the caller workload', async () => {
    const edges = await edgesOf((s) => {
      s.record('backend-1.shop', plaintextFrom('127.0.0.13', 18080));
      s.record('backend-1.shop', mtlsFrom('spiffe://cluster.local/ns/shop/sa/frontend', 18090));
    });
    const a = adviseStrict({ model: model(), scope: { kind: 'namespace', namespace: 'shop' }, edges, since, connectedSince: connected });
    expect(a.verdict).toBe('UNSAFE');
    expect(a.change).toBe('a new namespace-wide PeerAuthentication shop/default with mtls.mode STRICT');
    expect(a.summary).toBe('NOT safe to enforce: shop/legacy-1 (127.0.0.13) -> shop/backend-1:8080 would be refused');
    const backend = a.workloads.find((w) => w.workload === 'shop/backend-1')!;
    expect(backend.ports.map((p) => [p.targetPort, p.modeNow, p.modeAfter, p.verdict])).toEqual([
      [8080, 'PERMISSIVE', 'STRICT', 'UNSAFE'],
      [9090, 'PERMISSIVE', 'STRICT', 'SAFE'],
    ]);
    expect(backend.ports[1]!.mtlsCallers).toMatchObject([{ identity: 'spiffe://cluster.local/ns/shop/sa/frontend', count: 1 }]);
    expect(a.workloads.find((w) => w.workload === 'shop/legacy-1')).toMatchObject({ verdict: 'SAFE', ports: [] });
  });

  it('with only mTLS callers, or none, it is safe to enforce', async () => {
    const edges = await edgesOf((s) => s.record('backend-1.shop', mtlsFrom('spiffe://cluster.local/ns/shop/sa/frontend', 18080)));
    const a = adviseStrict({ model: model(), scope: { kind: 'workload', namespace: 'shop', name: 'backend-1' }, edges, since, connectedSince: connected });
    expect(a.verdict).toBe('SAFE');
    expect(a.summary).toMatch(/^safe to enforce/);
    expect(a.workloads.map((w) => w.workload)).toEqual(['shop/backend-1']);
  });

  it('a sidecar that is not connected and reported nothing gives no evidence: UNKNOWN, never SAFE', () => {
    const a = adviseStrict({ model: model(), scope: { kind: 'mesh' }, edges: [], since, connectedSince: new Map() });
    expect(a.verdict).toBe('UNKNOWN');
    expect(a.workloads.find((w) => w.workload === 'shop/backend-1')!.verdict).toBe('UNKNOWN');
  });

  it('a narrower policy keeps a port PERMISSIVE after a namespace goes STRICT: its plaintext callers are not at risk', async () => {
    const portLevel = `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: backend-http, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  portLevelMtls: {8080: {mode: PERMISSIVE}}
`;
    const edges = await edgesOf((s) => s.record('backend-1.shop', plaintextFrom('127.0.0.13', 18080)));
    const a = adviseStrict({ model: model(portLevel), scope: { kind: 'namespace', namespace: 'shop' }, edges, since, connectedSince: connected });
    expect(a.verdict).toBe('SAFE');
    const http = a.workloads[0]!.ports.find((p) => p.targetPort === 8080)!;
    expect(http).toMatchObject({ modeAfter: 'PERMISSIVE', decidedBy: 'shop/backend-http', verdict: 'SAFE' });
    expect(http.reason).toBe('unchanged: stays PERMISSIVE (decided by shop/backend-http, port scope)');
  });

  it('sets an existing policy at the scope to STRICT, keeping its port-level settings', () => {
    const workloadPolicy = `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: backend, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls: {9090: {mode: DISABLE}}
`;
    const a = adviseStrict({ model: model(workloadPolicy), scope: { kind: 'workload', namespace: 'shop', name: 'backend-1' }, edges: [], since, connectedSince: connected });
    expect(a.change).toBe('PeerAuthentication shop/backend set to mtls.mode STRICT (its portLevelMtls kept)');
    expect(a.workloads[0]!.ports.map((p) => [p.targetPort, p.modeAfter])).toEqual([
      [8080, 'STRICT'],
      [9090, 'DISABLE'],
    ]);
  });

  it('a port that is STRICT already is safe, and shows the plaintext callers it refuses', async () => {
    const strict = MESH_PERMISSIVE.replace('PERMISSIVE', 'STRICT');
    const edges = await edgesOf((s) => s.record('backend-1.shop', { ...plaintextFrom('127.0.0.13', 18080), refused: true }));
    const m = parseTestYaml(BASE.replace(MESH_PERMISSIVE, strict)).model!;
    const a = adviseStrict({ model: m, scope: { kind: 'mesh' }, edges, since, connectedSince: connected });
    expect(a.verdict).toBe('SAFE');
    expect(a.change).toBe('PeerAuthentication mesh-system/default set to mtls.mode STRICT');
    expect(a.workloads[0]!.ports[0]).toMatchObject({ modeNow: 'STRICT', reason: 'already STRICT', plaintextCallers: [{ address: '127.0.0.13', refused: 1 }] });
  });

  it('notes when the sidecar has been reporting for less than the window', () => {
    const late = new Map([['backend-1.shop', since + 60_000]]);
    const a = adviseStrict({ model: model(), scope: { kind: 'namespace', namespace: 'shop' }, edges: [], since, connectedSince: late });
    expect(a.verdict).toBe('SAFE');
    expect(a.workloads[0]!.reason).toMatch(/reporting only since .*after the window began/);
  });
});
