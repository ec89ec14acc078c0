import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

/**
 * A config change translates again only the proxies whose inputs changed (plan, certificate, trust
 * bundle, plugins, labels), and still reaches every proxy whose resources changed: a policy change
 * reaches the workloads it selects, a Workload change the callers of its service too, a Mesh change
 * every proxy; rotated certificates and lingering clusters are not lost to the skipping.
 */
const HOUR = 3600_000;
const mesh = (extra = '') => `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, ca: {workloadCertTTL: 2h, rotationRatio: 0.5}${extra}}
`;
const workload = (name: string, app: string, n: number, outbound = 'backend') => `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop, labels: {app: ${app}}}
spec:
  serviceAccount: ${app}
  address: 127.0.0.${n}
  inbound: [{service: ${app}, port: http-api, listenPort: 18080, targetPort: 8080}]
  outbound: [{service: ${outbound}, port: http-api, listenPort: 19001, bind: 127.0.0.${n}}]
`;
const services = ['backend', 'frontend', 'other']
  .map((s) => `apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: ${s}, namespace: shop}\nspec: {ports: [{name: http-api}]}\n`)
  .join('---\n');
const topology = (backend2 = 12, otherOutbound = 'other') =>
  [services, workload('backend-1', 'backend', 11), workload('backend-2', 'backend', backend2), workload('frontend-1', 'frontend', 13), workload('other-1', 'other', 14, otherOutbound)].join('---\n');
const policy = (path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  rules: [{to: [{operation: {methods: [GET], paths: ["${path}"]}}]}]
`;
const NODES = ['backend-1.shop', 'backend-2.shop', 'frontend-1.shop', 'other-1.shop'];

let cp: ControlPlane | undefined;
let dir = '';
afterEach(async () => {
  await cp?.stop();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start() {
  dir = mkdtempSync(join(tmpdir(), 'meshplane-incremental-'));
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  const write = (file: string, text: string) => writeFileSync(join(configDir, file), text);
  write('mesh.yaml', mesh());
  write('topology.yaml', topology());
  write('policies.yaml', policy('/v1/*'));
  const clock = new FakeClock(Date.now());
  cp = await ControlPlane.start({
    configDir,
    stateDir: join(dir, 'state'),
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    csdsAddress: '127.0.0.1:0',
    insecureXds: true,
    logger: pino({ level: process.env.CP_LOG ?? 'silent' }),
    clock,
  });
  clock.idle = () => cp!.settled();
  const { cache } = cp;
  // Which nodes were handed a new snapshot (translated again), and which snapshots changed.
  const translated: string[] = [];
  const changed: string[] = [];
  const setSnapshot = cache.setSnapshot.bind(cache);
  cache.setSnapshot = (node, resources) => {
    translated.push(node);
    return setSnapshot(node, resources);
  };
  cache.onUpdate((node) => changed.push(node));
  /** Applies `edit` (a reload, as the file watch would trigger it) and says who was touched. */
  const change = async (edit: () => void) => {
    edit();
    translated.length = 0;
    changed.length = 0;
    await cp!.reload();
    await cp!.settled();
    return { translated: [...new Set(translated)].sort(), changed: [...new Set(changed)].sort() };
  };
  const decode = (node: string, typeUrl: string, typeName: string, name: string) => {
    const entry = cache.getSnapshot(node)!.get(typeUrl).resources.get(name);
    const type = protoType(typeName);
    return entry && (type.toObject(type.decode(entry.any.value), { longs: Number }) as Record<string, any>);
  };
  /** The listener's encoded bytes as text: the RBAC paths show in it. */
  const listenerText = (node: string, name: string) => cache.getSnapshot(node)!.get(TYPE_URL.listener).resources.get(name)!.any.value.toString('latin1');
  const secretSerialPem = (node: string) => decode(node, TYPE_URL.secret, 'envoy.extensions.transport_sockets.tls.v3.Secret', 'default')!.tls_certificate.certificate_chain.inline_string as string;
  const clusters = (node: string) => [...cache.getSnapshot(node)!.get(TYPE_URL.cluster).resources.keys()];
  return { cp, clock, write, change, listenerText, secretSerialPem, clusters };
}

describe('a config change translates again only what it reaches', () => {
  it('a policy change: only the workloads it selects are translated, and they get the new rule', async () => {
    const { write, change, listenerText } = await start();
    const inbound = 'inbound:127.0.0.11:18080';
    expect(listenerText('backend-1.shop', inbound)).toContain('/v1/');
    const { translated, changed } = await change(() => write('policies.yaml', policy('/v2/*')));
    expect(translated).toEqual(['backend-1.shop', 'backend-2.shop']);
    expect(changed).toEqual(['backend-1.shop', 'backend-2.shop']);
    expect(listenerText('backend-1.shop', inbound)).toContain('/v2/');
    expect(listenerText('backend-1.shop', inbound)).not.toContain('/v1/');

    // Back as it was: the same two again.
    expect(await change(() => write('policies.yaml', policy('/v1/*')))).toEqual({ translated: ['backend-1.shop', 'backend-2.shop'], changed: ['backend-1.shop', 'backend-2.shop'] });
  });

  it("a Workload change: everything is planned again, but only proxies whose plan changed are translated: the workload and its service's callers", async () => {
    const { write, change } = await start();
    // backend-2 moves: its own listeners change, and so do the endpoints of every caller of backend.
    const { translated, changed } = await change(() => write('topology.yaml', topology(22)));
    expect(translated).toEqual(['backend-1.shop', 'backend-2.shop', 'frontend-1.shop']);
    expect(changed).toEqual(['backend-1.shop', 'backend-2.shop', 'frontend-1.shop']);
    // other-1 now calls backend as well: only other-1 changes.
    expect(await change(() => write('topology.yaml', topology(22, 'backend')))).toEqual({ translated: ['other-1.shop'], changed: ['other-1.shop'] });
  });

  it('a Mesh change translates every proxy again, even when their resources come out the same', async () => {
    const { write, change } = await start();
    const { translated, changed } = await change(() => write('mesh.yaml', mesh(', rootNamespace: istio-system')));
    expect(translated).toEqual(NODES);
    expect(changed).toEqual([]);
  });

  it('a rotated certificate survives a later config change that skips its proxy', async () => {
    const { clock, write, change, secretSerialPem } = await start();
    const before = secretSerialPem('other-1.shop');
    await clock.advance(HOUR + 1000); // past the rotation point: every certificate rotated
    const rotated = secretSerialPem('other-1.shop');
    expect(rotated).not.toBe(before);
    await change(() => write('policies.yaml', policy('/v3/*')));
    expect(secretSerialPem('other-1.shop')).toBe(rotated);
    // And a skipped proxy stays skipped after that: nothing of other-1 changed.
    const { translated } = await change(() => write('policies.yaml', policy('/v4/*')));
    expect(translated).toEqual(['backend-1.shop', 'backend-2.shop']);
  });

  it('a cluster a change removed lingers once, and the re-apply drops it although nothing else changed', async () => {
    const { write, change, clusters } = await start();
    expect(clusters('other-1.shop')).toContain('outbound:other.shop:http-api');
    await change(() => write('topology.yaml', topology(12, 'frontend')));
    expect(clusters('other-1.shop')).toEqual(expect.arrayContaining(['outbound:frontend.shop:http-api', 'outbound:other.shop:http-api']));
    await sleep(5500); // served-configs.ts CLUSTER_LINGER_MS, then the re-apply
    await cp!.settled();
    expect(clusters('other-1.shop')).toContain('outbound:frontend.shop:http-api');
    expect(clusters('other-1.shop')).not.toContain('outbound:other.shop:http-api');
  }, 20_000);
});
