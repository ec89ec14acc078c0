import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { httpGet } from '../helpers/clients.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

/**
 * Workload certificate rotation in the control plane, on a fake clock: what is pushed, to whom,
 * and when. The cache's update notifications are exactly what the ADS streams push.
 */
const HOUR = 3600_000;
const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, ca: {workloadCertTTL: 2h, rotationRatio: 0.5}}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: http}]}
`;
const workload = (name: string, sa: string, address: string) => `---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop}
spec:
  serviceAccount: ${sa}
  address: ${address}
  inbound: [{service: backend, port: http, listenPort: 18080, targetPort: 8080}]
`;

let cp: ControlPlane | undefined;
let dir = '';
afterEach(async () => {
  await cp?.stop();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(workloads: string) {
  dir = mkdtempSync(join(tmpdir(), 'meshplane-rotation-'));
  const configDir = join(dir, 'config');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'mesh.yaml'), MESH + workloads);
  const clock = new FakeClock(Date.now());
  cp = await ControlPlane.start({
    configDir,
    stateDir: join(dir, 'state'),
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    csdsAddress: '127.0.0.1:0',
    insecureXds: true,
    logger: pino({ level: 'silent' }),
    clock,
  });
  clock.idle = () => cp!.settled();
  const pushes: { node: string; types: string[] }[] = [];
  cp.cache.onUpdate((node, types) => pushes.push({ node, types }));
  /** The certificate chain PEM in the node's `default` secret, decoded from the bytes the streams send. */
  const secretOf = (node: string) => {
    const { value } = cp!.cache.getSnapshot(node)!.get(TYPE_URL.secret).resources.get('default')!.any;
    const type = protoType('envoy.extensions.transport_sockets.tls.v3.Secret');
    const secret = type.toObject(type.decode(value)) as { tls_certificate: { certificate_chain: { inline_string: string } } };
    return secret.tls_certificate.certificate_chain.inline_string;
  };
  return { cp, clock, pushes, secretOf, configDir };
}

describe('workload certificate rotation', () => {
  it('each certificate is replaced at 45–50% of its life, pushed as the `default` secret of that proxy only', async () => {
    const { cp, clock, pushes, secretOf } = await start(workload('a-1', 'a', '127.0.0.11') + workload('b-1', 'b', '127.0.0.12'));
    const first = { a: secretOf('a-1.shop'), b: secretOf('b-1.shop') };
    const listeners = cp.cache.getSnapshot('a-1.shop')!.version(TYPE_URL.listener);

    await clock.advance(0.45 * 2 * HOUR - 1000);
    expect(pushes).toEqual([]); // nothing before the jitter window opens

    await clock.advance(0.05 * 2 * HOUR + 2000);
    expect(secretOf('a-1.shop')).not.toBe(first.a);
    expect(secretOf('b-1.shop')).not.toBe(first.b);
    // Only secrets were pushed, once per proxy (unless both fell due at the same instant).
    expect(new Set(pushes.flatMap((p) => p.types))).toEqual(new Set([TYPE_URL.secret]));
    expect(pushes.map((p) => p.node).sort()).toEqual(['a-1.shop', 'b-1.shop']);
    expect(cp.cache.getSnapshot('a-1.shop')!.version(TYPE_URL.listener)).toBe(listeners);
  });

  it('three rotations in a row, each certificate valid when it is replaced', async () => {
    const { clock, secretOf } = await start(workload('a-1', 'a', '127.0.0.11'));
    const seen = new Set([secretOf('a-1.shop')]);
    for (let i = 0; i < 3; i++) {
      await clock.advance(HOUR + 1000);
      seen.add(secretOf('a-1.shop'));
    }
    expect(seen.size).toBe(4);
  });

  it('a new service account is a new identity: a new certificate at once', async () => {
    const { cp, secretOf, configDir } = await start(workload('a-1', 'a', '127.0.0.11'));
    const before = secretOf('a-1.shop');
    writeFileSync(join(configDir, 'mesh.yaml'), MESH + workload('a-1', 'renamed', '127.0.0.11'));
    await cp.reload();
    const after = secretOf('a-1.shop');
    expect(after).not.toBe(before);
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(after).subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/renamed');
  });

  it('a removed workload loses its snapshot (and so its certificate and key) and is not rotated again', async () => {
    const { cp, clock, pushes, configDir } = await start(workload('a-1', 'a', '127.0.0.11') + workload('b-1', 'b', '127.0.0.12'));
    writeFileSync(join(configDir, 'mesh.yaml'), MESH + workload('a-1', 'a', '127.0.0.11'));
    await cp.reload();
    expect(cp.cache.getSnapshot('b-1.shop')).toBeUndefined();
    pushes.length = 0;
    await clock.advance(2 * HOUR);
    expect(pushes.map((p) => p.node)).not.toContain('b-1.shop');
    expect(pushes.map((p) => p.node)).toContain('a-1.shop');
  });

  it('/metrics: issued certificates, failures, and the expiry of each workload', async () => {
    const { cp, clock } = await start(workload('a-1', 'a', '127.0.0.11'));
    await clock.advance(HOUR + 1000);
    const metrics = (await httpGet(`http://127.0.0.1:${cp.adminPort}/metrics`)).body;
    expect(metrics).toMatch(/^meshplane_ca_certs_issued_total 2$/m);
    expect(metrics).toMatch(/^meshplane_ca_cert_issue_failures_total 0$/m);
    const expiry = Number(/^meshplane_workload_cert_expiry_timestamp_seconds\{node="a-1\.shop"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(expiry * 1000).toBeGreaterThan(clock.now());
  });
});
