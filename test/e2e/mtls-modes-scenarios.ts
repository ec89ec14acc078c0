import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certSerialFor, currentWorkloadRoot, normalizeSerial } from '../helpers/certs.ts';
import { expectHttpFails, httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ADDR, MESHPLANE, TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { expectNoResources, fetchClientStatus, startTraffic } from './mesh-probes.ts';

/**
 * The foundation, end to end: real Envoys from `meshplane bootstrap`, `meshplane serve` as a child
 * process, real HTTP and TCP traffic. The tests run in order on one mesh, each changing the
 * config the way a user would (editing a file) and waiting for the behaviour to follow.
 * The same scenarios run over State of the World and over Delta ADS (`meshplane bootstrap --delta`).
 */
export type Transport = 'sotw' | 'delta';

const spiffe = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/shop/sa/${sa}`;
/** Serial of the SDS workload certificate an Envoy holds (not its bootstrap's xDS client certificate). */
const workloadCertSerial = (envoy: EnvoyProcess, serviceAccount: string) => certSerialFor(envoy, spiffe(serviceAccount));

/** Registers the scenarios (and the mesh's start and stop) in the calling test file; returns the mesh for more tests. */
export function mtlsModeScenarios(transport: Transport): () => LocalMesh {
  let mesh: LocalMesh;

  beforeAll(async () => {
    mesh = await startLocalMesh('STRICT', { delta: transport === 'delta' });
  }, 120_000);

  afterAll(async () => {
    await mesh?.close();
  });

  const viaClient = () => httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/hello`);
  const plaintextToServer = () => httpGet(`http://${ADDR.server}:${mesh.ports.serverHttp}/direct`, { localAddress: ADDR.legacy });
  const echoViaClient = (payload: string) => tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload, timeoutMs: 3000 });
  const xfcc = (res: { json?: { headers?: Record<string, string> } }) => res.json?.headers?.['x-forwarded-client-cert'];
  /** HTTP through the client sidecar and, with `tcp`, an echo through its TCP outbound, until stopped. */
  const clientTraffic = ({ tcp }: { tcp: boolean }) =>
    startTraffic(async (i) => {
      const res = await viaClient();
      if (tcp && res.status === 200 && (await echoViaClient(`n${i}`)) !== `n${i}`) throw new Error(`echo n${i} came back wrong`);
      return res;
    });

  /** Waits until a plaintext request to the server sidecar has the wanted outcome. */
  async function untilPlaintext(outcome: 'works' | 'fails', what: string) {
    await waitFor(
      async () => {
        try {
          const res = await plaintextToServer();
          return outcome === 'works' && res.status === 200;
        } catch {
          return outcome === 'fails';
        }
      },
      { what, timeoutMs: 15_000 },
    );
  }

  describe('STRICT', () => {
    it('client -> server through both sidecars: HTTP 200 with the caller identity, and a TCP echo', async () => {
      const res = await viaClient();
      expect(res.status).toBe(200);
      expect(res.json.app).toBe('server');
      // The server sidecar verified the client certificate and tells the app who called.
      expect(xfcc(res)).toContain(`URI=${spiffe('client')}`);
      expect(await echoViaClient('ping over mTLS')).toBe('ping over mTLS');
    });

    it("the sidecar-less caller's plaintext connection to the server sidecar fails (HTTP and TCP)", async () => {
      expect(await expectHttpFails(`http://${ADDR.server}:${mesh.ports.serverHttp}/direct`, { localAddress: ADDR.legacy })).toMatch(/failed/);
      await expect(tcpEchoRoundTrip({ host: ADDR.server, port: mesh.ports.serverTcp, localAddress: ADDR.legacy, payload: 'plain', timeoutMs: 2000 })).rejects.toThrow();
    });

    it('/certs on the server sidecar shows its SPIFFE URI SAN; the CAs are the persisted roots (workload and xDS)', async () => {
      const xdsRoot = new X509Certificate(readFileSync(join(mesh.stateDir, 'ca/root-cert.pem')));
      const workloadRoot = currentWorkloadRoot(mesh.stateDir);
      const certs = await mesh.server.certs();
      const leafs = certs.certificates.flatMap((c) => c.cert_chain ?? []);
      const cas = certs.certificates.flatMap((c) => c.ca_cert ?? []);
      // The SDS workload certificate, and the bootstrap's xDS client certificate (the xDS root, another identity).
      expect(leafs.map((l) => l.subject_alt_names)).toContainEqual([{ uri: spiffe('server') }]);
      const xdsClient = `spiffe://${TRUST_DOMAIN}/meshplane/xds-client/shop/server-1`;
      for (const leaf of leafs) expect([[{ uri: spiffe('server') }], [{ uri: xdsClient }]]).toContainEqual(leaf.subject_alt_names);
      expect(cas.length).toBeGreaterThan(0);
      const roots = [xdsRoot, workloadRoot].map((r) => normalizeSerial(r.serialNumber));
      for (const ca of cas) expect(roots).toContain(normalizeSerial(ca.serial_number));
      expect(new Set(cas.map((c) => normalizeSerial(c.serial_number)))).toEqual(new Set(roots));
    });

    it('client sidecar -> sidecar-less callee goes out in plaintext (auto mTLS)', async () => {
      const res = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutLegacy}/legacy`);
      expect(res.status).toBe(200);
      expect(res.json.app).toBe('legacy');
    });
  });

  describe('PERMISSIVE', () => {
    beforeAll(async () => {
      mesh.setMode('PERMISSIVE');
      await untilPlaintext('works', 'PERMISSIVE to let plaintext in');
    });

    it('the plaintext caller succeeds', async () => {
      const res = await plaintextToServer();
      expect(res.status).toBe(200);
      expect(xfcc(res)).toBeUndefined();
    });

    it('the client through its sidecar still succeeds, over mTLS', async () => {
      const res = await viaClient();
      expect(res.status).toBe(200);
      expect(xfcc(res)).toContain(`URI=${spiffe('client')}`);
      expect(await echoViaClient('permissive')).toBe('permissive');
    });
  });

  describe('DISABLE', () => {
    beforeAll(async () => {
      mesh.setMode('DISABLE');
      // Under DISABLE the server sidecar sets no XFCC: that shows the client's sidecar switched to plaintext.
      await waitFor(async () => { const r = await viaClient(); return r.status === 200 && xfcc(r) === undefined; }, { what: 'client sidecar to send plaintext' });
    });

    it('the plaintext caller succeeds', async () => {
      expect((await plaintextToServer()).status).toBe(200);
    });

    it("the client's sidecar sends plaintext (auto mTLS) and the request still succeeds", async () => {
      const res = await viaClient();
      expect(res.status).toBe(200);
      expect(xfcc(res)).toBeUndefined();
      expect(await echoViaClient('disable')).toBe('disable');
    });
  });

  describe('live changes', () => {
    it('PERMISSIVE -> STRICT by editing the file: plaintext stops working, nothing restarts', async () => {
      const pids = [mesh.controlPlane.pid, mesh.client.pid, mesh.server.pid];
      mesh.setMode('PERMISSIVE');
      await untilPlaintext('works', 'PERMISSIVE');
      const lds = async () => [await mesh.client.stat('listener_manager.lds.update_success'), await mesh.server.stat('listener_manager.lds.update_success')];
      const [clientLds, serverLds] = await lds();
      mesh.setMode('STRICT');
      await untilPlaintext('fails', 'STRICT to refuse plaintext');
      // Only what changed is pushed: the server's inbound listeners, not the client's outbound ones.
      const [clientLdsAfter, serverLdsAfter] = await lds();
      expect(clientLdsAfter).toBe(clientLds);
      expect(serverLdsAfter).toBeGreaterThan(serverLds!);
      expect((await viaClient()).status).toBe(200);
      expect([mesh.controlPlane.pid, mesh.client.pid, mesh.server.pid]).toEqual(pids);
      expect(mesh.controlPlane.running && mesh.client.running && mesh.server.running).toBe(true);
    });

    it('a broken YAML edit is rejected; traffic keeps flowing under the last good config', async () => {
      mesh.writeConfig('peer-authentication.yaml', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop\nspec: [');
      await mesh.controlPlane.waitForLine(/config change rejected/, 10_000);
      const debug = await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`);
      expect(debug.json.lastLoad.ok).toBe(false);
      expect(debug.json.lastLoad.violations.join('\n')).toContain('peer-authentication.yaml');
      // Still STRICT: the mesh path works, plaintext is still refused.
      expect((await viaClient()).status).toBe(200);
      expect(await echoViaClient('after bad edit')).toBe('after bad edit');
      await expect(plaintextToServer()).rejects.toThrow();
      // An unknown field is rejected just the same, and naming the field.
      mesh.writeConfig('peer-authentication.yaml', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: PERMISSIVE}, mtlsMode: PERMISSIVE}\n');
      await waitFor(async () => (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json.lastLoad.violations.join('\n').includes('mtlsMode'), { what: 'the unknown-field rejection' });
      await expect(plaintextToServer()).rejects.toThrow();
      // Undoing the edit is a valid config again (the one being served).
      mesh.setMode('STRICT');
      await waitFor(async () => (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json.lastLoad.ok === true, { what: 'the undo to be accepted' });
    });
  });

  describe('make before break', () => {
    it('repointing an outbound drops no request, and the old cluster leaves only after the listener moved', async () => {
      const workloads0 = readFileSync(join(mesh.configDir, 'workloads.yaml'), 'utf8');
      const repointed = workloads0.replace(`{service: server, port: http-api, listenPort: ${mesh.ports.clientOutHttp}}`, `{service: legacy, port: http, listenPort: ${mesh.ports.clientOutHttp}}`);
      expect(repointed).not.toBe(workloads0);
      const OLD = 'outbound:server.shop:http-api';
      // With ?resource=, each config is one ClustersConfigDump.DynamicCluster.
      const clusterNames = async () => (await mesh.client.configDump<{ configs: { cluster: { name: string } }[] }>('dynamic_active_clusters')).configs.map((c) => c.cluster.name);
      expect(await clusterNames()).toContain(OLD);

      const traffic = clientTraffic({ tcp: false });
      mesh.writeConfig('workloads.yaml', repointed);
      await waitFor(async () => (await viaClient()).json?.app === 'legacy', { what: 'the outbound to move to legacy' });
      await waitFor(async () => !(await clusterNames()).includes(OLD), { what: `${OLD} to be removed`, timeoutMs: 20_000 });
      const { ok, failures, apps } = await traffic.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(20);
      expect(apps).toEqual(new Set(['server', 'legacy']));

      mesh.writeConfig('workloads.yaml', workloads0);
      await waitFor(async () => (await viaClient()).json?.app === 'server', { what: 'the outbound to move back to server' });
    });
  });

  describe('changes the running server cannot take', () => {
    it('a new trust domain is rejected with what to do, and the mesh keeps serving', async () => {
      const mesh0 = readFileSync(join(mesh.configDir, 'mesh.yaml'), 'utf8');
      mesh.writeConfig('mesh.yaml', mesh0.replace(`trustDomain: ${TRUST_DOMAIN}`, 'trustDomain: other.local'));
      const lastLoad = await waitFor(async () => {
        const l = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json.lastLoad;
        return l.ok === false && l.violations.length > 0 && l;
      }, { what: 'the trust domain change to be rejected' });
      expect(lastLoad.violations[0]).toMatch(/^mesh\.yaml: spec\.trustDomain: changing the trust domain \(e2e\.local -> other\.local\).*restart `meshplane serve`/);
      const res = await viaClient();
      expect(res.status).toBe(200);
      expect(xfcc(res)).toContain(`URI=${spiffe('client')}`);
      mesh.writeConfig('mesh.yaml', mesh0);
      await waitFor(async () => (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json.lastLoad.ok === true, { what: 'the undo to be accepted' });
    });
  });

  describe('control plane restart with the same state dir', () => {
    it('Envoys keep serving throughout, reconnect, and the root is unchanged', async () => {
      const rootBefore = readFileSync(join(mesh.stateDir, 'ca/root-cert.pem'), 'utf8');
      const caSerials = async () => [...new Set((await mesh.server.certs()).certificates.flatMap((c) => c.ca_cert ?? []).map((c) => c.serial_number))].sort();
      const caSerialsBefore = await caSerials();
      const leafSerialBefore = await workloadCertSerial(mesh.server, 'server');
      expect(leafSerialBefore).toBeTruthy();
      const traffic = clientTraffic({ tcp: true });

      await mesh.controlPlane.stop('SIGTERM');
      await mesh.client.waitForStat('control_plane.connected_state', (v) => v === 0, 10_000);
      await mesh.server.waitForStat('control_plane.connected_state', (v) => v === 0, 10_000);
      // Nothing to ask: the sidecars keep their last config.
      expect(await echoViaClient('while down')).toBe('while down');

      mesh.controlPlane = await mesh.startControlPlane();
      await mesh.client.waitForStat('control_plane.connected_state', (v) => v === 1, 20_000);
      await mesh.server.waitForStat('control_plane.connected_state', (v) => v === 1, 20_000);
      // Workload certificates are not persisted: the new process issues fresh ones and SDS swaps them in place.
      await waitFor(async () => (await workloadCertSerial(mesh.server, 'server')) !== leafSerialBefore, { what: 'the re-issued server certificate' });
      const { ok, failures } = await traffic.stop();
      expect(ok).toBeGreaterThan(10);
      expect(failures).toEqual([]);
      expect(readFileSync(join(mesh.stateDir, 'ca/root-cert.pem'), 'utf8')).toBe(rootBefore);
      expect(await caSerials()).toEqual(caSerialsBefore);
      expect((await viaClient()).status).toBe(200);
      // And it still serves changes.
      mesh.setMode('PERMISSIVE');
      await untilPlaintext('works', 'PERMISSIVE after restart');
      mesh.setMode('STRICT');
      await untilPlaintext('fails', 'STRICT after restart');
    });
  });

  describe('xDS channel protection', () => {
    it("Envoy's admin shows the bootstrap token but never the xDS client key", async () => {
      const dump = await mesh.client.admin('/config_dump?resource=static_clusters');
      const bootstrap = await mesh.client.admin('/config_dump?include_eds=false');
      expect(bootstrap).toContain('x-meshplane-token');
      expect(bootstrap).not.toMatch(/BEGIN (EC |RSA )?PRIVATE KEY/);
      expect(bootstrap).toContain('[redacted]');
      expect(dump).not.toMatch(/BEGIN (EC |RSA )?PRIVATE KEY/);
    });

    it("the client's own token with the server's bootstrap certificate receives no resources", async () => {
      const clientBootstrap = await mesh.bootstrap('shop/client-1');
      const token = /x-meshplane-token\n\s+value: (\S+)/.exec(clientBootstrap)![1];
      const serverBootstrap = await mesh.bootstrap('shop/server-1', ['--admin-port', String(mesh.ports.spareAdmin)]);
      // server-1's certificate and key, but claiming to be client-1 with client-1's (leaked) token.
      const forged = serverBootstrap.replace(/(x-meshplane-token\n\s+value: )\S+/, `$1${token}`).replace('id: server-1.shop', 'id: client-1.shop');
      expect(forged).toContain('id: client-1.shop');
      await expectNoResources(mesh, forged, /client-1\.shop.*xds-client certificate is for|xDS client certificate is for/);
    });

    it("a token for one workload used with another's node.id receives no resources", async () => {
      const serverBootstrap = await mesh.bootstrap('shop/server-1');
      const serverToken = /x-meshplane-token\n\s+value: (\S+)/.exec(serverBootstrap)?.[1];
      expect(serverToken).toBeTruthy();
      const clientBootstrap = await mesh.bootstrap('shop/client-1', ['--admin-port', String(mesh.ports.spareAdmin)]);
      const forged = clientBootstrap.replace(/(x-meshplane-token\n\s+value: )\S+/, `$1${serverToken}`);
      expect(forged).not.toBe(clientBootstrap);
      await expectNoResources(mesh, forged, /client-1\.shop.*token does not belong/);
    });
  });

  describe('observability', () => {
    it('`meshplane status` shows both proxies on their transport, SYNCED on CDS, LDS and SDS with their certificate expiry', async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'status', '--admin-address', `127.0.0.1:${mesh.ports.cpAdmin}`]);
      const rows = stdout.trim().split('\n');
      expect(rows[0]).toMatch(/^NODE\s+XDS\s+CDS\s+LDS\s+SDS\s+CERT SERIAL\s+CERT EXPIRES\s+LAST NACK$/);
      const xds = transport === 'delta' ? 'Delta' : 'SotW';
      for (const node of ['client-1.shop', 'server-1.shop']) {
        expect(rows.find((r) => r.startsWith(node))).toMatch(new RegExp(`^${node.replace('.', '\\.')}\\s+${xds}\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+[0-9a-f]{16}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+-$`));
      }
    });

    it("CSDS answers what each proxy was sent: the names and versions Envoy's own config_dump shows, all SYNCED, no private key", async () => {
      const raw: Buffer[] = [];
      const { config } = await fetchClientStatus(`127.0.0.1:${mesh.ports.csds}`, { node_matchers: [{ node_id: { exact: 'client-1.shop' } }] }, raw);
      expect(config.map((c) => c.node.id)).toEqual(['client-1.shop']);
      const entries = config[0]!.generic_xds_configs;
      type Dumped = { name?: string; version_info: string; active_state?: { version_info: string; listener: { name: string } }; cluster?: { name: string } };
      const envoyVersions = new Map<string, string>();
      for (const c of (await mesh.client.configDump<{ configs: Dumped[] }>('dynamic_listeners')).configs) {
        if (c.active_state) envoyVersions.set(`Listener/${c.name}`, c.active_state.version_info);
      }
      for (const c of (await mesh.client.configDump<{ configs: Dumped[] }>('dynamic_active_clusters')).configs) envoyVersions.set(`Cluster/${c.cluster!.name}`, c.version_info);
      const served = new Map(
        entries
          .filter((e) => /\.(Listener|Cluster)$/.test(e.type_url))
          .map((e) => [`${e.type_url.split('.').pop()}/${e.name}`, e.version_info]),
      );
      expect(served).toEqual(envoyVersions);
      expect(new Set(entries.map((e) => e.config_status))).toEqual(new Set(['SYNCED']));
      expect(entries.filter((e) => e.type_url.endsWith('.Secret')).map((e) => e.name).sort()).toEqual(['ROOTCA', 'default']);
      const wire = Buffer.concat(raw).toString('latin1');
      expect(wire).toContain('BEGIN CERTIFICATE');
      expect(wire).not.toContain('PRIVATE KEY');
    });

    it('/metrics counts the connected streams, pushes and no NACKs', async () => {
      const metrics = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/metrics`)).body;
      expect(metrics).toMatch(/^meshplane_xds_connected_streams 2$/m);
      expect(metrics).toMatch(/^meshplane_xds_nacks_total\{type="LDS"\} 0$/m);
      expect(metrics).not.toMatch(/^meshplane_xds_nacks_total\{[^}]*\} [1-9]/m);
      expect(Number(/^meshplane_xds_pushes_total\{type="CDS"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(metrics).toMatch(/^meshplane_config_last_load_ok 1$/m);
    });
  });

  describe('across all of it', () => {
    it("Envoy's update_rejected counters stay 0 (LDS, CDS and both SDS secrets)", async () => {
      for (const envoy of [mesh.client, mesh.server]) {
        const rejected = await envoy.stats('update_rejected');
        expect([...rejected.keys()]).toEqual(
          expect.arrayContaining(['listener_manager.lds.update_rejected', 'cluster_manager.cds.update_rejected', 'sds.default.update_rejected', 'sds.ROOTCA.update_rejected']),
        );
        for (const [name, value] of rejected) expect({ envoy: envoy.name, name, value }).toEqual({ envoy: envoy.name, name, value: 0 });
      }
    });

    it("mode changes reached the client's clusters: the upstream TLS follows the server's mode (auto mTLS)", async () => {
      expect(await mesh.client.stat('cluster_manager.cds.update_success')).toBeGreaterThan(3);
    });
  });

  return () => mesh;
}
