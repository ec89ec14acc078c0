import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypeStatus } from '../../src/xds/proxy-status.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { httpGet } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { BAD_LISTENER } from './fixtures/bad-listener-plugin.ts';
import { ADDR, MESHPLANE, startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { debugProxies, metricsText, startTraffic, statusCli, typeStatus } from './mesh-probes.ts';

/**
 * A config Envoy rejects, end to end: a test plugin (switched on by a workload label) adds a
 * listener whose address is no IP. Envoy NACKs it and keeps its last good listeners; meshplane
 * shows the NACK with Envoy's reason, does not resend it, and the next good version is ACKed.
 */
const PLUGIN = join(import.meta.dirname, 'fixtures/bad-listener-plugin.ts');
const CLIENT = 'client-1.shop';
/** The sum of every series of `name` (all label values). */
const metric = (text: string, name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);

/** Active listeners with the version Envoy applied them at; a rejected one has no active_state. */
async function activeListeners(envoy: EnvoyProcess): Promise<Record<string, string>> {
  const dump = await envoy.configDump<{ configs: { name: string; active_state?: { version_info: string } }[] }>('dynamic_listeners');
  return Object.fromEntries(dump.configs.filter((c) => c.active_state).map((c) => [c.name, c.active_state!.version_info]));
}

/** `meshplane status` as {column: value} for one node. */
async function statusRow(mesh: LocalMesh, node: string): Promise<Record<string, string>> {
  const [header, ...rows] = (await statusCli(mesh)).map((line) => line.split(/\s{2,}/));
  const row = rows.find((r) => r[0] === node) ?? [];
  return Object.fromEntries(header!.map((h, i) => [h, row[i] ?? '']));
}

describe.each(['sotw', 'delta'] as const)('%s', (transport) => {
  let mesh: LocalMesh;
  let workloads0: string;
  beforeAll(async () => {
    mesh = await startLocalMesh('STRICT', { delta: transport === 'delta', plugins: [PLUGIN] });
    workloads0 = readFileSync(join(mesh.configDir, 'workloads.yaml'), 'utf8');
  }, 120_000);
  afterAll(async () => {
    await mesh?.close();
  });

  const viaClient = () => httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/hello`);
  /** Rewrites client-1's labels (and optionally more of workloads.yaml), as a user edits the file. */
  const labelClient = (extra: string, edit = (text: string) => text) =>
    mesh.writeConfig('workloads.yaml', edit(workloads0.replace('labels: {app: client}', `labels: {app: client${extra}}`)));
  const clientLds = () => typeStatus(mesh, CLIENT, TYPE_URL.listener);
  let good: Record<string, string>;
  let nacked: TypeStatus;

  it('Envoy NACKs the listener: NACKED with its reason on /debug/proxies, `meshplane status` and /metrics; traffic keeps flowing on the last good listeners', async () => {
    good = await activeListeners(mesh.client);
    const before = (await clientLds())!;
    expect(before.state).toBe('SYNCED');
    expect(await mesh.client.stat('listener_manager.lds.update_rejected')).toBe(0);
    const traffic = startTraffic(() => viaClient());

    labelClient(', test.meshplane.dev/bad-listener: "true"');
    await mesh.client.waitForStat('listener_manager.lds.update_rejected', (v) => v === 1);
    nacked = await waitFor(async () => { const t = await clientLds(); return t?.state === 'NACKED' && t; }, { what: 'LDS NACKED on /debug/proxies' });
    expect(nacked.lastNack!.version).toBe(nacked.versionSent);
    expect(nacked.versionSent).not.toBe(before.versionSent);
    expect(nacked.versionAcked).toBe(before.versionAcked);
    // Envoy's own words, e.g. "Error adding/updating listener(s) test-bad-listener: malformed IP address: not-an-ip".
    expect(nacked.lastNack!.message).toMatch(new RegExp(`${BAD_LISTENER}[\\s\\S]*not-an-ip`));

    const row = await statusRow(mesh, CLIENT);
    expect(row).toMatchObject({ XDS: transport === 'delta' ? 'Delta' : 'SotW', CDS: 'SYNCED', LDS: 'NACKED', SDS: 'SYNCED' });
    expect(row['LAST NACK']).toMatch(new RegExp(`^LDS ${nacked.lastNack!.at}: .*not-an-ip`));
    expect(await statusRow(mesh, 'server-1.shop')).toMatchObject({ LDS: 'SYNCED', 'LAST NACK': '-' });
    expect(metric(await metricsText(mesh), 'meshplane_xds_nacks_total')).toBe(1);

    // Envoy still runs the listeners of the last ACKed version, and not the rejected one.
    expect(await activeListeners(mesh.client)).toEqual(good);
    expect((await viaClient()).status).toBe(200);
    const { ok, failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(5);
  });

  it('the NACKed version is not resent: no new push, Envoy rejects nothing more', async () => {
    const pushes = metric(await metricsText(mesh), 'meshplane_xds_pushes_total');
    // An observation window, not a timing assertion: a resend loop would show within it.
    await sleep(3000);
    expect(await mesh.client.stat('listener_manager.lds.update_rejected')).toBe(1);
    const text = await metricsText(mesh);
    expect([metric(text, 'meshplane_xds_pushes_total'), metric(text, 'meshplane_xds_nacks_total')]).toEqual([pushes, 1]);
    expect(await clientLds()).toMatchObject({ state: 'NACKED', nonceSent: nacked.nonceSent, versionSent: nacked.versionSent });
  });

  it('removing the label: the next version is ACKed (SYNCED), nothing more rejected', async () => {
    const success = (await mesh.client.stat('listener_manager.lds.update_success'))!;
    mesh.writeConfig('workloads.yaml', workloads0);
    await mesh.client.waitForStat('listener_manager.lds.update_success', (v) => v > success);
    const lds = await waitFor(async () => { const t = await clientLds(); return t?.state === 'SYNCED' && t; }, { what: 'LDS SYNCED again' });
    expect(lds.versionAcked).toBe(lds.versionSent);
    expect(lds.versionSent).not.toBe(nacked.versionSent);
    expect(await mesh.client.stat('listener_manager.lds.update_rejected')).toBe(1);
    expect(Object.keys(await activeListeners(mesh.client))).toEqual(Object.keys(good));
    expect((await statusRow(mesh, CLIENT)).LDS).toBe('SYNCED');
    expect((await viaClient()).status).toBe(200);
  });

  it("a plugin throwing for one proxy (fail-closed): that proxy keeps its config, the other's pushes go on, no stream closes", async () => {
    const streams = async () => Object.fromEntries((await debugProxies(mesh)).map((p) => [p.nodeId, p.streamId]));
    const streams0 = await streams();
    const clientUpdates = async () => [await mesh.client.stat('listener_manager.lds.update_success'), await mesh.client.stat('cluster_manager.cds.update_success')];
    const updates0 = await clientUpdates();
    // A new outbound for the client (it must not get it) and PERMISSIVE for the server (it must).
    const extraPort = await freePort();
    const addOutbound = (text: string) => text.replace(/(\n {4}- \{service: legacy, port: http, listenPort: \d+\})/, `$1\n    - {service: server, port: http-api, listenPort: ${extraPort}}`);
    labelClient(', test.meshplane.dev/plugin-throws: "true"', addOutbound);
    await mesh.controlPlane.waitForLine(/plugin \\?"throws-on-label\\?" failed for client-1\.shop: refusing client-1\.shop/, 15_000);
    mesh.setMode('PERMISSIVE');
    await waitFor(async () => (await httpGet(`http://${ADDR.server}:${mesh.ports.serverHttp}/plain`, { localAddress: ADDR.legacy })).status === 200, { what: 'the server to go PERMISSIVE' });

    expect(await clientUpdates()).toEqual(updates0);
    await expect(httpGet(`http://127.0.0.1:${extraPort}/new`)).rejects.toThrow(/ECONNREFUSED/);
    expect((await viaClient()).status).toBe(200);
    expect(await streams()).toEqual(streams0);
    for (const envoy of [mesh.client, mesh.server]) expect(await envoy.stat('control_plane.connected_state')).toBe(1);

    // Fixed: the client gets what it missed.
    labelClient('', addOutbound);
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${extraPort}/new`)).status === 200, { what: 'the new outbound on the client' });
    expect(await streams()).toEqual(streams0);
    mesh.writeConfig('workloads.yaml', workloads0);
    mesh.setMode('STRICT');
    await waitFor(async () => !(await httpGet(`http://127.0.0.1:${extraPort}/new`).catch(() => undefined)), { what: 'the extra outbound to go' });
    expect(await mesh.client.stat('listener_manager.lds.update_rejected')).toBe(1);
  });
});

describe('meshplane serve --plugin', () => {
  it('a module that is no plugin stops the start with an error naming the file and what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshplane-bad-plugin-'));
    try {
      const bad = join(dir, 'typo-plugin.mjs');
      writeFileSync(bad, `export default { name: 'typo', onResource: (r) => r };\n`);
      const args = [MESHPLANE, 'serve', '--config', dir, '--state-dir', join(dir, 'state'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--plugin', bad];
      const err = await promisify(execFile)(process.execPath, args, { timeout: 20_000 }).then(() => undefined, (e: unknown) => e as { code: number; stderr: string });
      expect(err?.code).toBe(1);
      expect(err?.stderr).toContain(`meshplane serve: plugin module ${bad} default (plugin "typo") has no stage: define onListener, onCluster or onResources ("onResource": did you mean "onResources"?)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
