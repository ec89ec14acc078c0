import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGES_FILE } from '../../src/edges/edge-store.ts';
import { certSerialFor } from '../helpers/certs.ts';
import { httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { freePorts } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { debugProxies, startTraffic } from './mesh-probes.ts';

/**
 * SIGKILL of `meshplane serve` under steady HTTP + TCP load, three times, each followed by a start
 * on the same ports and state dir: once with a config change made while it was dead, once 150 ms
 * after a config change (inside the debounce + settle window: read, not yet pushed), once right
 * after a workload certificate rotation reached server-1. Target: zero failed requests; the same
 * roots, state files and identities; the same Envoy processes reconnected and SYNCED; every
 * change applied after the restart. Over SotW and over Delta.
 */
const CERT_TTL = '{workloadCertTTL: 30s, rotationRatio: 0.5}'; // a rotation every ~15 s, >13 s of validity left at any time
const figures: Record<string, unknown>[] = [];
afterAll(() => console.log(`control plane kill figures: ${JSON.stringify(figures)}`));

describe.each(['sotw', 'delta'] as const)('control plane SIGKILLed under load (%s)', (transport) => {
  let mesh: LocalMesh;
  let extraPorts: number[];
  beforeAll(async () => {
    mesh = await startLocalMesh('STRICT', { meshCa: CERT_TTL, delta: transport === 'delta' });
    extraPorts = await freePorts(2);
  }, 120_000);
  afterAll(async () => {
    await mesh?.close();
  });

  const envoys = () => [mesh.client, mesh.server];
  const nodes = ['client-1.shop', 'server-1.shop'];

  /** Every file of the state dir -> sha256 of its bytes; not edges.json, the callers seen (it grows with traffic). */
  const stateFiles = () => {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name !== EDGES_FILE) out[relative(mesh.stateDir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
      }
    };
    walk(mesh.stateDir);
    return out;
  };
  const caView = async () => {
    const ca = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/ca`)).json as { signer: string; roots: unknown[]; xdsRoot: { fingerprint: string } };
    return { signer: ca.signer, roots: ca.roots, xdsRoot: ca.xdsRoot.fingerprint };
  };
  /** The SPIFFE URI SANs of the certificates an Envoy holds, and the serials of the CAs it trusts. */
  const identities = async (envoy: EnvoyProcess) => {
    const certs = (await envoy.certs()).certificates;
    const sans = certs.flatMap((c) => c.cert_chain ?? []).flatMap((l) => l.subject_alt_names.map((s) => s.uri));
    return { sans: [...new Set(sans)].sort(), cas: [...new Set(certs.flatMap((c) => c.ca_cert ?? []).map((c) => c.serial_number))].sort() };
  };
  const allSynced = () =>
    waitFor(
      async () => {
        const proxies = await debugProxies(mesh);
        return nodes.every((n) => {
          const p = proxies.find((s) => s.nodeId === n);
          return p?.transport === transport && p.types.length >= 3 && p.types.every((t) => t.state === 'SYNCED');
        });
      },
      { what: `${nodes.join(' and ')} SYNCED over ${transport}`, timeoutMs: 30_000 },
    );
  /** Adds an outbound of client-1 to the legacy app on `port`: a new listener, nothing else touched. */
  const addOutbound = (port: number) => {
    const file = join(mesh.configDir, 'workloads.yaml');
    const anchor = `    - {service: legacy, port: http, listenPort: ${mesh.ports.clientOutLegacy}}\n`;
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(anchor);
    mesh.writeConfig('workloads.yaml', text.replace(anchor, `${anchor}    - {service: legacy, port: http, listenPort: ${port}}\n`));
  };
  const legacyVia = (port: number) => httpGet(`http://127.0.0.1:${port}/via-${port}`).then((r) => r.json?.app as string, (e: Error) => e.message);

  async function kill(): Promise<void> {
    const exit = await mesh.controlPlane.stop('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    for (const envoy of envoys()) await envoy.waitForStat('control_plane.connected_state', (v) => v === 0, 10_000);
  }
  async function restart(): Promise<void> {
    mesh.controlPlane = await mesh.startControlPlane();
    for (const envoy of envoys()) await envoy.waitForStat('control_plane.connected_state', (v) => v === 1, 30_000);
    await allSynced();
  }

  it('3 kills and restarts: zero failed requests, same roots, state and identities, same Envoys SYNCED, every change applied', async () => {
    await allSynced();
    const before = { files: stateFiles(), ca: await caView(), client: await identities(mesh.client), server: await identities(mesh.server) };
    expect(before.server.sans).toContain(`spiffe://${TRUST_DOMAIN}/ns/shop/sa/server`);
    const pids = envoys().map((e) => e.pid);
    let [http, tcp] = [0, 0];
    const traffic = startTraffic(async (i) => {
      const res = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/load`);
      if (res.status !== 200) return res;
      http++;
      if ((await tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload: `n${i}`, timeoutMs: 3000 })) !== `n${i}`) return false;
      tcp++;
      return res;
    });
    // A TCP connection opened before the first kill must still echo after the last one.
    const longLived = connect({ host: '127.0.0.1', port: mesh.ports.clientOutTcp });
    let echoed = '';
    longLived.setEncoding('utf8').on('data', (d: string) => (echoed += d));
    longLived.write('before\n');
    await waitFor(() => echoed.includes('before'), { what: 'the long-lived connection to echo' });

    // 1. Killed; the config changes while it is dead; the new process applies it.
    await kill();
    addOutbound(extraPorts[0]!);
    await sleep(500); // the Envoys keep serving on their own meanwhile
    await restart();
    await waitFor(async () => (await legacyVia(extraPorts[0]!)) === 'legacy', { what: 'the outbound added while the control plane was dead' });

    // 2. Killed 150 ms after an edit: inside the debounce + settle window (200 ms at least), so
    // read at most, not pushed — unless this machine is slow enough to stretch the 150 ms (noted).
    addOutbound(extraPorts[1]!);
    await sleep(150);
    await kill();
    const cutShort = /ECONNREFUSED/.test(await legacyVia(extraPorts[1]!));
    await restart();
    await waitFor(async () => (await legacyVia(extraPorts[1]!)) === 'legacy', { what: 'the outbound whose apply the kill cut short' });

    // 3. Killed right after a workload certificate rotation reached server-1.
    const serverSpiffe = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/server`;
    const serial = await certSerialFor(mesh.server, serverSpiffe);
    await waitFor(async () => (await certSerialFor(mesh.server, serverSpiffe)) !== serial, { what: 'a rotation of the server certificate', timeoutMs: 30_000, intervalMs: 25 });
    await kill();
    await restart();
    // The new process issues fresh leaves (they are not persisted) and SDS swaps them in place.
    const rotated = await certSerialFor(mesh.server, serverSpiffe);
    await waitFor(async () => (await certSerialFor(mesh.server, serverSpiffe)) !== rotated, { what: 'a certificate from the restarted control plane', timeoutMs: 30_000 });

    await sleep(1000);
    const { ok, failures } = await traffic.stop();
    longLived.write('after\n');
    await waitFor(() => echoed.includes('after'), { what: 'the long-lived connection to echo after three kills' });
    longLived.destroy();
    figures.push({ transport, kills: 3, httpRequests: http, tcpEchoes: tcp, iterationsOk: ok, failed: failures.length, killLandedBeforePush: cutShort });
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);

    expect(stateFiles()).toEqual(before.files);
    expect(await caView()).toEqual(before.ca);
    expect(await identities(mesh.client)).toEqual(before.client);
    expect(await identities(mesh.server)).toEqual(before.server);
    expect([...envoys().map((e) => e.pid), ...envoys().map((e) => e.running)]).toEqual([...pids, true, true]);
    for (const envoy of envoys()) {
      for (const [name, value] of await envoy.stats('update_rejected')) expect({ envoy: envoy.name, name, value }).toEqual({ envoy: envoy.name, name, value: 0 });
    }
  }, 240_000);
});
