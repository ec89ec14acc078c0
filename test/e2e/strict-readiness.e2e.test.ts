import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectHttpFails, httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ADDR, MESHPLANE, startLocalMesh, TRUST_DOMAIN, type LocalMesh } from './local-mesh.ts';
import { startTraffic } from './mesh-probes.ts';

/**
 * The STRICT-readiness report with real Envoys: server-1's sidecar reports its callers to the
 * control plane (gRPC access log service); legacy-1, without a sidecar, calls it in plaintext.
 * `meshplane advise strict` calls the namespace unsafe while legacy-1 calls, safe once it stopped
 * and the window passed, and STRICT then breaks none of the callers that were left.
 */
let mesh: LocalMesh;
beforeAll(async () => {
  mesh = await startLocalMesh('PERMISSIVE');
}, 90_000);
afterAll(async () => {
  await mesh?.close();
});

interface Listener {
  name: string;
  access_log?: { name: string }[];
  filter_chains: { name: string; filters: { name: string; typed_config: { access_log?: { name: string; typed_config: { common_config: { log_name: string; grpc_service: { envoy_grpc: { cluster_name: string } } } } }[] } }[] }[];
}

async function advise(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'advise', 'strict', '--admin-address', `127.0.0.1:${mesh.ports.cpAdmin}`, ...args]);
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const legacyHttp = () => httpGet(`http://${ADDR.server}:${mesh.ports.serverHttp}/from-legacy`, { localAddress: ADDR.legacy });
const legacyTcp = () => tcpEchoRoundTrip({ host: ADDR.server, port: mesh.ports.serverTcp, localAddress: ADDR.legacy, payload: 'plain' });
const clientHttp = () => httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/via-client`);
const clientTcp = async () => (await tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload: 'mtls' })) === 'mtls';

describe('STRICT readiness from connection reports', () => {
  it('every inbound chain reports to the control plane over the xDS cluster, and Envoy accepted it', async () => {
    const dump = await mesh.server.configDump<{ configs: { active_state?: { listener: Listener } }[] }>('dynamic_listeners');
    const inbound = dump.configs.map((c) => c.active_state?.listener).filter((l): l is Listener => l !== undefined && l.name.includes(ADDR.server));
    expect(inbound).toHaveLength(2);
    for (const listener of inbound) {
      for (const chain of listener.filter_chains) {
        const terminal = chain.filters.at(-1)!;
        expect(terminal.typed_config.access_log?.map((a) => [a.name, a.typed_config.common_config.log_name, a.typed_config.common_config.grpc_service.envoy_grpc.cluster_name]), `${listener.name} ${chain.name}`).toContainEqual([
          expect.stringMatching(/^envoy\.access_loggers\.(http|tcp)_grpc$/),
          'meshplane.edges.served',
          'meshplane-xds',
        ]);
      }
    }
  });

  it('plaintext calls from legacy-1 make the namespace unsafe to enforce; mTLS callers are listed as unaffected', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await legacyHttp()).status).toBe(200);
      expect(await legacyTcp()).toBe('plain');
      expect((await clientHttp()).status).toBe(200);
      expect(await clientTcp()).toBe(true);
    }
    const report = await waitFor(
      async () => {
        const r = await advise('--namespace', 'shop', '--since', '1h');
        return r.stdout.includes(`port ${mesh.ports.appTcp}`) && r.stdout.match(/plaintext {2}shop\/legacy-1/g)?.length === 2 && r;
      },
      { what: 'legacy-1 on both server ports in `advise strict`', timeoutMs: 15_000 },
    );
    expect(report.code).toBe(3);
    expect(report.stdout).toContain(`NOT safe to enforce: shop/legacy-1 (${ADDR.legacy}) -> shop/server-1:${mesh.ports.appHttp}; shop/legacy-1 (${ADDR.legacy}) -> shop/server-1:${mesh.ports.appTcp} would be refused`);
    expect(report.stdout).toContain(`mTLS       spiffe://${TRUST_DOMAIN}/ns/shop/sa/client`);

    const edges = (await (await fetch(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/edges?workload=shop/server-1`)).json()) as { edges: { from: { mtls: boolean; address: string; identity?: string }; port: { targetPort: number }; count: number }[] };
    const plaintext = edges.edges.filter((e) => !e.from.mtls);
    expect(plaintext.map((e) => [e.port.targetPort, e.from.address]).sort()).toEqual(
      [
        [mesh.ports.appHttp, ADDR.legacy],
        [mesh.ports.appTcp, ADDR.legacy],
      ].sort(),
    );
    // Each TCP connection counts once, though Envoy logs it when it connects and when it ends.
    expect(plaintext.find((e) => e.port.targetPort === mesh.ports.appTcp)!.count).toBe(3);
  });

  it('once legacy-1 stopped and the window passed, the namespace is safe; STRICT then breaks none of the remaining callers', async () => {
    // Only the meshed client keeps calling, through the whole switch.
    const http = startTraffic(clientHttp);
    const tcp = startTraffic(clientTcp);
    await new Promise((r) => setTimeout(r, 5000));
    const safe = await advise('--namespace', 'shop', '--since', '4s');
    expect(safe.stdout).toContain('safe to enforce: no plaintext callers seen on any port that would become STRICT');
    expect(safe.code).toBe(0);
    // Over the longer window legacy-1 is still on record.
    expect((await advise('--namespace', 'shop', '--since', '1h')).code).toBe(3);

    mesh.setMode('STRICT');
    await waitFor(async () => (await expectHttpFails(`http://${ADDR.server}:${mesh.ports.serverHttp}/direct`, { localAddress: ADDR.legacy }).catch(() => undefined)) !== undefined, {
      what: 'server-1 to refuse plaintext (STRICT applied)',
    });
    await new Promise((r) => setTimeout(r, 2000));
    const [h, t] = await Promise.all([http.stop(), tcp.stop()]);
    expect(h.failures).toEqual([]);
    expect(t.failures).toEqual([]);
    expect(h.ok).toBeGreaterThan(50);
    expect(t.ok).toBeGreaterThan(50);

    // A plaintext caller refused by STRICT is reported too (the listener's own access log).
    const refused = await waitFor(
      async () => {
        const r = await advise('--namespace', 'shop', '--since', '10s');
        return /plaintext {2}shop\/legacy-1 \S+ {2}\d+ seen, [1-9]\d* refused/.test(r.stdout) && r;
      },
      { what: 'the refused plaintext connection in `advise strict`', timeoutMs: 10_000 },
    );
    expect(refused.stdout).toMatch(new RegExp(`port ${mesh.ports.appHttp} .*STRICT {2}SAFE: already STRICT`));
    expect(refused.code).toBe(0);
  });
});
