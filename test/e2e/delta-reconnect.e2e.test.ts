import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundListenerName, serviceClusterName } from '../../src/translate/names.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { debugProxies, startTraffic } from './mesh-probes.ts';

/**
 * Delta ADS across a control plane restart: Envoy reconnects announcing what it holds
 * (initial_resource_versions), and what was removed from the config while the control plane was
 * down reaches it as removed_resources. SotW would resend everything; Delta must name removals.
 */
let mesh: LocalMesh;

beforeAll(async () => {
  mesh = await startLocalMesh('STRICT', { delta: true });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
});

const names = async (envoy: EnvoyProcess) => ({
  listeners: (await envoy.configDump<{ configs: { name: string; active_state?: unknown }[] }>('dynamic_listeners')).configs.filter((c) => c.active_state).map((c) => c.name).sort(),
  clusters: (await envoy.configDump<{ configs: { cluster: { name: string } }[] }>('dynamic_active_clusters')).configs.map((c) => c.cluster.name).sort(),
});

describe('Delta: control plane restart with a removal in between', () => {
  it('Envoy reconnects (same process) announcing its resources, and drops the removed listener and cluster; the rest keeps serving', async () => {
    const legacyListener = outboundListenerName('127.0.0.1', mesh.ports.clientOutLegacy);
    const legacyCluster = serviceClusterName('legacy.shop', 'http');
    const before = await names(mesh.client);
    expect(before.listeners).toContain(legacyListener);
    expect(before.clusters).toContain(legacyCluster);
    expect((await httpGet(`http://127.0.0.1:${mesh.ports.clientOutLegacy}/legacy`)).json.app).toBe('legacy');
    const [clientPid, serverPid] = [mesh.client.pid, mesh.server.pid];
    const streamBefore = (await debugProxies(mesh)).find((p) => p.nodeId === 'client-1.shop')!;
    expect(streamBefore.transport).toBe('delta');

    const traffic = startTraffic(async (i) => {
      const res = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/hello`);
      return res.status === 200 && (await tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload: `n${i}` })) === `n${i}` ? res : false;
    });
    await mesh.controlPlane.stop('SIGTERM');
    await mesh.client.waitForStat('control_plane.connected_state', (v) => v === 0, 10_000);
    // While it is down, client-1 loses its outbound to legacy.
    const workloads = readFileSync(join(mesh.configDir, 'workloads.yaml'), 'utf8');
    const withoutLegacy = workloads.replace(`\n    - {service: legacy, port: http, listenPort: ${mesh.ports.clientOutLegacy}}`, '');
    expect(withoutLegacy).not.toBe(workloads);
    mesh.writeConfig('workloads.yaml', withoutLegacy);

    mesh.controlPlane = await mesh.startControlPlane();
    await mesh.client.waitForStat('control_plane.connected_state', (v) => v === 1, 20_000);
    await mesh.server.waitForStat('control_plane.connected_state', (v) => v === 1, 20_000);

    // The new stream started from what Envoy announced it holds, not from nothing.
    const stream = await waitFor(
      async () => {
        const p = (await debugProxies(mesh)).find((s) => s.nodeId === 'client-1.shop');
        const synced = p?.types.filter((t) => t.typeUrl !== TYPE_URL.secret).every((t) => t.state === 'SYNCED');
        return p && synced && p.types.length >= 3 && p;
      },
      { what: 'client-1 on a new Delta stream, CDS and LDS SYNCED' },
    );
    expect(stream.transport).toBe('delta');
    const byType = (url: string) => stream.types.find((t) => t.typeUrl === url)!;
    expect(byType(TYPE_URL.cluster).initialResourceVersions).toBe(before.clusters.length);
    expect(byType(TYPE_URL.listener).initialResourceVersions).toBe(before.listeners.length);
    // What the server believes the client holds now: everything but the removed pair.
    expect([byType(TYPE_URL.cluster).resources, byType(TYPE_URL.listener).resources]).toEqual([before.clusters.length - 1, before.listeners.length - 1]);

    // removed_resources reached Envoy: both are gone, and nothing else is.
    const after = await waitFor(async () => { const n = await names(mesh.client); return !n.listeners.includes(legacyListener) && !n.clusters.includes(legacyCluster) && n; }, { what: 'the legacy listener and cluster to leave client-1' });
    expect(after).toEqual({ listeners: before.listeners.filter((l) => l !== legacyListener), clusters: before.clusters.filter((c) => c !== legacyCluster) });
    await expect(httpGet(`http://127.0.0.1:${mesh.ports.clientOutLegacy}/legacy`)).rejects.toThrow(/ECONNREFUSED/);

    const { ok, failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    expect([mesh.client.pid, mesh.server.pid, mesh.client.running, mesh.server.running]).toEqual([clientPid, serverPid, true, true]);
    for (const envoy of [mesh.client, mesh.server]) {
      const rejected = await envoy.stats('update_rejected');
      for (const [name, value] of rejected) expect({ envoy: envoy.name, name, value }).toEqual({ envoy: envoy.name, name, value: 0 });
    }
  });
});
