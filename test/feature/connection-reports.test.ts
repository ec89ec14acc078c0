import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { issueWorkloadCert } from '../../src/ca/issue.ts';
import { xdsClientSpiffeId } from '../../src/ca/spiffe.ts';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { accessLogServiceDefinition } from '../../src/edges/access-log-service.ts';
import { EDGE_LOG } from '../../src/translate/edge-reporting.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { quietLogger } from './ads-raw-client.ts';

/**
 * The connection reports over the secure xDS port, as a sidecar sends them (Envoy's gRPC access
 * log service on its xDS cluster: TLS with its xDS client certificate, no token), through the
 * control plane's views: /debug/edges and /debug/advise-strict.
 */
const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local}
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
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: other-1, namespace: shop}
spec: {serviceAccount: other, address: 127.0.0.12}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: legacy-1, namespace: shop}
spec: {address: 127.0.0.13, sidecar: false}
`;
const AlsClient = grpc.makeGenericClientConstructor(accessLogServiceDefinition(), 'AccessLogService');

let cp: ControlPlane | undefined;
const clients: grpc.Client[] = [];
let dir = '';
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cp?.stop();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(existingDir?: string) {
  dir = existingDir ?? mkdtempSync(join(tmpdir(), 'meshplane-reports-'));
  const configDir = join(dir, 'config');
  const stateDir = join(dir, 'state');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'mesh.yaml'), MESH);
  cp = await ControlPlane.start({ configDir, stateDir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', csdsAddress: '127.0.0.1:0', insecureXds: false, logger: quietLogger().logger });
  const { authority } = await openStateDir(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local', create: false });
  /** A report stream presenting `workload`'s xDS client certificate (what its bootstrap holds). */
  const reporter = async (workload: string) => {
    const cert = await issueWorkloadCert(authority, { spiffeId: xdsClientSpiffeId('cluster.local', 'shop', workload), ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
    const client = new AlsClient(`127.0.0.1:${cp!.xdsPort}`, grpc.credentials.createSsl(Buffer.from(authority.trustBundlePem), Buffer.from(cert.privateKeyPem), Buffer.from(cert.certChainPem)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    clients.push(client);
    return client;
  };
  return { reporter, admin: (path: string) => fetch(`http://127.0.0.1:${cp!.adminPort}${path}`) };
}

const socket = (address: string, port_value: number) => ({ socket_address: { address, port_value } });
const plaintextEntry = (from: string) => ({ common_properties: { downstream_remote_address: socket(from, 40000), downstream_local_address: socket('127.0.0.11', 18080) } });

/** Streams `messages` and resolves with the call's status. */
function report(client: grpc.Client, messages: object[]): Promise<grpc.StatusObject | { code: 0 }> {
  return new Promise((resolve) => {
    const call = (client as unknown as { StreamAccessLogs(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<object> }).StreamAccessLogs((err) => resolve(err ?? { code: 0 }));
    for (const m of messages) call.write(m);
    call.end();
  });
}
const first = (node: string, logName: string = EDGE_LOG.served) => ({ identifier: { node: { id: node }, log_name: logName } });

describe('connection reports', () => {
  it('a sidecar reports its plaintext callers; /debug/edges shows them and advise-strict calls the namespace unsafe', async () => {
    const { reporter, admin } = await start();
    const backend = await reporter('backend-1');
    const status = await report(backend, [{ ...first('backend-1.shop'), http_logs: { log_entry: [plaintextEntry('127.0.0.13')] } }, { http_logs: { log_entry: [plaintextEntry('127.0.0.13')] } }]);
    expect(status.code).toBe(0);
    const edges = (await (await admin('/debug/edges?namespace=shop')).json()) as { edges: { to: string; port: { targetPort: number }; from: { mtls: boolean; address: string }; count: number }[] };
    expect(edges.edges).toMatchObject([{ to: 'shop/backend-1', port: { targetPort: 8080 }, from: { mtls: false, address: '127.0.0.13' }, count: 2 }]);
    const advice = (await (await admin('/debug/advise-strict?namespace=shop&since=10m')).json()) as { verdict: string; summary: string };
    expect(advice.verdict).toBe('UNSAFE');
    expect(advice.summary).toContain('shop/legacy-1 (127.0.0.13) -> shop/backend-1:8080');
    const metrics = await (await admin('/metrics')).text();
    expect(metrics).toContain('meshplane_connection_reports_total 2');
    expect(metrics).toContain('meshplane_inbound_callers{transport="plaintext"} 1');
    expect(metrics).toContain('meshplane_inbound_callers{transport="mtls"} 0');
    expect(metrics).toContain('meshplane_connection_report_streams 0');
  });

  it('a stream may report only for the node its xDS client certificate names', async () => {
    const { reporter, admin } = await start();
    const other = await reporter('other-1');
    const status = await report(other, [{ ...first('backend-1.shop'), http_logs: { log_entry: [plaintextEntry('127.0.0.66')] } }]);
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    const edges = (await (await admin('/debug/edges')).json()) as { edges: unknown[] };
    expect(edges.edges).toEqual([]);
    expect(await (await admin('/metrics')).text()).toContain('meshplane_connection_report_streams_rejected_total 1');
  });

  it('a first message without a node or with a foreign log name is refused', async () => {
    const { reporter } = await start();
    const backend = await reporter('backend-1');
    expect((await report(backend, [{ http_logs: { log_entry: [plaintextEntry('127.0.0.13')] } }])).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await report(backend, [first('backend-1.shop', 'some.other.log')])).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('bad queries are a 400 naming the fix', async () => {
    const { admin } = await start();
    const cases: [string, RegExp][] = [
      ['/debug/advise-strict?since=soon', /since=soon is not a positive duration/],
      ['/debug/advise-strict?namespace=nope', /no workloads in namespace nope; namespaces with workloads: shop/],
      ['/debug/advise-strict?workload=shop/nope', /no workload shop\/nope in the config/],
      ['/debug/advise-strict?since=200h', /since=200h is longer than the 168h reports are kept/],
    ];
    for (const [path, message] of cases) {
      const res = await admin(path);
      expect(res.status, path).toBe(400);
      expect(await res.text(), path).toMatch(message);
    }
  });

  it('the edges survive a control-plane restart (kept in the state dir)', async () => {
    const { reporter } = await start();
    await report(await reporter('backend-1'), [{ ...first('backend-1.shop'), http_logs: { log_entry: [plaintextEntry('127.0.0.13')] } }]);
    for (const c of clients.splice(0)) c.close();
    await cp!.stop();
    const { admin } = await start(dir);
    await waitFor(async () => ((await (await admin('/debug/edges')).json()) as { edges: unknown[] }).edges.length === 1, { what: 'the edge kept from before the restart', timeoutMs: 5000 });
  });
});
