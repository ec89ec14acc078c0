import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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
 * Plugins listed in the Mesh, in the control plane on a fake clock: loaded at start and on a
 * reload that changes them, rejected like any invalid config when they cannot be loaded, run for
 * proxyless gRPC apps too, and applied again to rotated certificates.
 */
const HOUR = 3600_000;
const mesh = (plugins: string) => `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, ca: {workloadCertTTL: 2h, rotationRatio: 0.5}, plugins: ${plugins}}
`;
const WORKLOADS = `apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: grpc, protocol: GRPC}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: backend-1, namespace: shop}
spec:
  serviceAccount: backend
  address: 127.0.0.11
  inbound: [{service: backend, port: grpc, listenPort: 18080, targetPort: 8080}]
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: client-1, namespace: shop}
spec: {serviceAccount: client, address: 127.0.0.12, proxyless: true, outbound: [{service: backend, port: grpc}]}
`;
/** Adds a generic secret (Envoys only) and sets a connect timeout on every cluster, saying where it ran. */
const MARKER_PLUGIN = `export default (options) => ({
  name: 'marker',
  onCluster: (c, ctx) => ({ ...c, connect_timeout: { seconds: ctx.proxyless ? 7 : options.timeout ?? 3 } }),
  onResources: (r, ctx) => (ctx.proxyless ? r : { ...r, secrets: [...r.secrets, { name: 'plugin-extra', generic_secret: { secret: { inline_string: 'x' } } }] }),
});
`;

let cp: ControlPlane | undefined;
let dir = '';
afterEach(async () => {
  await cp?.stop();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(plugins: string) {
  dir = mkdtempSync(join(tmpdir(), 'meshplane-cp-plugins-'));
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  mkdirSync(join(dir, 'plugins'));
  writeFileSync(join(dir, 'plugins/marker.mjs'), MARKER_PLUGIN);
  writeFileSync(join(configDir, 'mesh.yaml'), mesh(plugins));
  writeFileSync(join(configDir, 'workloads.yaml'), WORKLOADS);
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
  const decode = (node: string, typeUrl: string, typeName: string, name: string) => {
    const entry = cp!.cache.getSnapshot(node)!.get(typeUrl).resources.get(name);
    if (!entry) return undefined;
    const type = protoType(typeName);
    return type.toObject(type.decode(entry.any.value), { longs: Number }) as Record<string, any>;
  };
  const secret = (node: string, name: string) => decode(node, TYPE_URL.secret, 'envoy.extensions.transport_sockets.tls.v3.Secret', name);
  const cluster = (node: string, name: string) => decode(node, TYPE_URL.cluster, 'envoy.config.cluster.v3.Cluster', name);
  const debug = async (path: string) => (await httpGet(`http://127.0.0.1:${cp!.adminPort}/debug/${path}`)).json as any;
  return { cp, clock, configDir, secret, cluster, debug };
}

describe('Mesh spec.plugins in the control plane', () => {
  it('run for every proxy, proxyless gRPC apps included (told so); listed on /debug/plugins', async () => {
    const { cluster, secret, debug } = await start('[{file: ../plugins/marker.mjs, options: {timeout: 4}, onError: skip-plugin}]');
    expect(cluster('backend-1.shop', 'local:127.0.0.1:8080')!.connect_timeout).toEqual({ seconds: 4 });
    expect(secret('backend-1.shop', 'plugin-extra')).toBeDefined();
    expect(cluster('client-1.shop', 'outbound:backend.shop:grpc')!.connect_timeout).toEqual({ seconds: 7 });
    expect(await debug('plugins')).toEqual([
      { name: 'marker', file: join(dir, 'plugins/marker.mjs'), listedIn: 'mesh.yaml: spec.plugins[0]', onError: 'skip-plugin', stages: ['onCluster', 'onResources'] },
    ]);
  });

  it("a plugin's changes to secrets survive certificate rotation", async () => {
    const { clock, secret } = await start('[{file: ../plugins/marker.mjs}]');
    const before = secret('backend-1.shop', 'default')!.tls_certificate.certificate_chain.inline_string;
    await clock.advance(HOUR + 1000);
    expect(secret('backend-1.shop', 'default')!.tls_certificate.certificate_chain.inline_string).not.toBe(before);
    expect(secret('backend-1.shop', 'plugin-extra')).toBeDefined();
  });

  it('a reload that changes the list or a plugin file loads them again; one that cannot load is rejected and the last good plugins keep serving', async () => {
    const { cp, configDir, cluster, debug } = await start('[{file: ../plugins/marker.mjs, options: {timeout: 4}}]');
    writeFileSync(join(configDir, 'mesh.yaml'), mesh('[{file: ../plugins/marker.mjs, options: {timeout: 5}}]'));
    await cp.reload();
    expect(cluster('backend-1.shop', 'local:127.0.0.1:8080')!.connect_timeout).toEqual({ seconds: 5 });

    writeFileSync(join(configDir, 'mesh.yaml'), mesh('[{file: ../plugins/marker.mjs}, {file: ../plugins/gone.mjs}]'));
    await cp.reload();
    const { lastLoad } = await debug('config');
    expect(lastLoad.ok).toBe(false);
    expect(lastLoad.violations).toEqual([expect.stringMatching(/^mesh\.yaml: spec\.plugins\[1\]\.file: plugin module \.\.\/plugins\/gone\.mjs does not exist: the path is relative to the config directory/)]);
    expect(cluster('backend-1.shop', 'local:127.0.0.1:8080')!.connect_timeout).toEqual({ seconds: 5 });
    expect((await debug('plugins')).map((p: { name: string }) => p.name)).toEqual(['marker']);

    // The Mesh as it was, but the plugin file edited: the new code runs.
    writeFileSync(join(configDir, 'mesh.yaml'), mesh('[{file: ../plugins/marker.mjs, options: {timeout: 5}}]'));
    writeFileSync(join(dir, 'plugins/marker.mjs'), MARKER_PLUGIN.replace("options.timeout ?? 3", '9'));
    utimesSync(join(dir, 'plugins/marker.mjs'), new Date(), new Date(Date.now() + 5000));
    await cp.reload();
    expect((await debug('config')).lastLoad.ok).toBe(true);
    expect(cluster('backend-1.shop', 'local:127.0.0.1:8080')!.connect_timeout).toEqual({ seconds: 9 });
  });

  it('a plugin that cannot be loaded stops the start, naming the Mesh file and field', async () => {
    const err = await start('[{file: ../plugins/missing.ts}]').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/mesh\.yaml: a plugin in spec\.plugins cannot be loaded; fix the errors above$/) });
    expect((err as { violations: { path: string }[] }).violations.map((v) => v.path)).toEqual(['spec.plugins[0].file']);
  });
});
