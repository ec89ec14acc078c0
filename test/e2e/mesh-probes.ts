/** Probes shared by the e2e files: steady traffic, the control plane's admin views, an impostor Envoy. */
import { execFile } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { csdsServiceDefinition, type ClientStatusRequestMessage, type ClientStatusResponseMessage } from '../../src/xds/csds-service.ts';
import type { ProxyStatus } from '../../src/xds/proxy-status.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { httpGet, type HttpGetResult } from '../helpers/clients.ts';
import { startEnvoy, type ConfigDump } from '../helpers/envoy-process.ts';
import { MESHPLANE, type LocalMesh } from './local-mesh.ts';

/** `/debug/proxies` of the control plane. */
export async function debugProxies(mesh: LocalMesh): Promise<ProxyStatus[]> {
  return (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/proxies`)).json as ProxyStatus[];
}

/** One type's status for one node on its current stream; undefined while it is not connected. */
export async function typeStatus(mesh: LocalMesh, nodeId: string, typeUrl: string) {
  return (await debugProxies(mesh)).find((p) => p.nodeId === nodeId)?.types.find((t) => t.typeUrl === typeUrl);
}

export async function metricsText(mesh: LocalMesh): Promise<string> {
  return (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/metrics`)).body;
}

/** `meshplane status` against the mesh's control plane; its stdout lines. */
export async function statusCli(mesh: LocalMesh): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'status', '--admin-address', `127.0.0.1:${mesh.ports.cpAdmin}`]);
  return stdout.trim().split('\n');
}

/**
 * CSDS FetchClientStatus as any gRPC tool would call it; the raw response bytes go to `raw` (to
 * search them for what must never be there).
 */
export async function fetchClientStatus(address: string, request: ClientStatusRequestMessage, raw: Buffer[] = []): Promise<ClientStatusResponseMessage> {
  const definition = csdsServiceDefinition();
  const fetch = definition.FetchClientStatus!;
  const keepRaw = { ...fetch, responseDeserialize: (bytes: Buffer) => (raw.push(bytes), fetch.responseDeserialize(bytes)) };
  const Client = grpc.makeGenericClientConstructor({ ...definition, FetchClientStatus: keepRaw }, 'ClientStatusDiscoveryService');
  const client = new Client(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      (client as any).FetchClientStatus(request, (err: Error | null, res: ClientStatusResponseMessage) => (err ? reject(err) : resolve(res))),
    );
  } finally {
    client.close();
  }
}

/**
 * Calls `send` back to back until stopped (10 ms apart); every failure is kept, and which apps
 * answered. `send` resolves with an HTTP result (200 = ok) or `true`, and may throw.
 */
export function startTraffic(send: (i: number) => Promise<HttpGetResult | boolean>) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const apps = new Set<string>();
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const res = await send(i);
        if (res === true) ok++;
        else if (res === false) failures.push(`request ${i} failed`);
        else if (res.status === 200) {
          ok++;
          apps.add(res.json?.app);
        } else failures.push(`HTTP ${res.status} ${res.body.slice(0, 80)}`);
      } catch (err) {
        failures.push(String(err));
      }
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failures, apps };
    },
  };
}

/** Starts an Envoy with `bootstrapYaml`, waits for the control plane to log its rejection, and checks it got nothing. */
export async function expectNoResources(mesh: LocalMesh, bootstrapYaml: string, rejectionLine: RegExp) {
  // Envoy never becomes ready without its initial config: wait for the rejected stream instead.
  const impostor = await startEnvoy({ name: 'impostor', adminPort: mesh.ports.spareAdmin, bootstrapYaml, logDir: mesh.dir, waitFor: 'admin' });
  try {
    await mesh.controlPlane.waitForLine(rejectionLine, 15_000);
    await sleep(1500);
    const dump = await impostor.configDump();
    const dynamic = dump.configs.flatMap((c) => [...(c.dynamic_listeners ?? []), ...(c.dynamic_active_clusters ?? []), ...(c.dynamic_active_secrets ?? [])]);
    expect(dynamic).toEqual([]);
    expect(await impostor.stat('listener_manager.lds.update_success')).toBe(0);
    expect(await impostor.stat('cluster_manager.cds.update_success')).toBe(0);
  } finally {
    await impostor.stop();
  }
}

/**
 * Both Envoys speak `transport`: their bootstrap says so (config_dump), the control plane's
 * /debug/proxies says so, and they are connected. Under Delta, Envoy keeps each cluster's own
 * version (the per-resource hash), never the response's system_version_info.
 */
export async function expectTransport(mesh: LocalMesh, transport: 'sotw' | 'delta') {
  const proxies = await debugProxies(mesh);
  expect(proxies.map((p) => [p.nodeId, p.transport]).sort()).toEqual([['client-1.shop', transport], ['server-1.shop', transport]]);
  for (const envoy of [mesh.client, mesh.server]) {
    expect(await envoy.stat('control_plane.connected_state')).toBe(1);
    const dump = await envoy.configDump<ConfigDump>();
    const ads = dump.configs.find((c) => c['@type'].endsWith('.BootstrapConfigDump'))?.bootstrap?.dynamic_resources?.ads_config;
    expect({ envoy: envoy.name, api_type: ads?.api_type }).toEqual({ envoy: envoy.name, api_type: transport === 'delta' ? 'DELTA_GRPC' : 'GRPC' });
  }
  if (transport !== 'delta') return;
  const cds = proxies.find((p) => p.nodeId === 'client-1.shop')!.types.find((t) => t.typeUrl === TYPE_URL.cluster)!;
  const versions = (await mesh.client.configDump<{ configs: { version_info: string }[] }>('dynamic_active_clusters')).configs.map((c) => c.version_info);
  expect(versions.length).toBeGreaterThan(1);
  expect(new Set(versions).size).toBe(versions.length);
  expect(versions).not.toContain(cds.versionSent);
}
