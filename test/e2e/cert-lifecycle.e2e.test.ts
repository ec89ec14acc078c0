import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { certSerialFor, currentWorkloadRoot, normalizeSerial } from '../helpers/certs.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { MESHPLANE, TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';

/**
 * Certificate lifecycle with real Envoys under load: workload certificates of 6 s rotate about
 * every 3 s through SDS; then the workload root is rotated. Every request must succeed and a
 * TCP connection opened before it all must still echo after it.
 */
let mesh: LocalMesh;
const spiffe = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/shop/sa/${sa}`;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  mesh = await startLocalMesh('STRICT', { meshCa: '{workloadCertTTL: 6s, rotationRatio: 0.5}' });
}, 120_000);

afterAll(async () => {
  console.log(`certificate lifecycle figures: ${JSON.stringify(figures)}`);
  await mesh?.close();
});

describe('rotation of 6-second workload certificates under load', () => {
  it('three rotations or more: new serials in /certs each time, zero failed requests, the long-lived TCP connection survives', async () => {
    const load = startLoad();
    const serials = { server: new Set<string>(), client: new Set<string>() };
    await waitFor(
      async () => {
        for (const [name, envoy] of [['server', mesh.server], ['client', mesh.client]] as const) {
          const serial = await workloadCertSerial(envoy, name);
          if (serial) serials[name].add(serial);
        }
        return serials.server.size >= 4 && serials.client.size >= 4;
      },
      { what: 'three certificate rotations on both sidecars', timeoutMs: 30_000, intervalMs: 250 },
    );
    const result = await load.stop();
    figures.rotation = { ...result.summary, serverSerials: serials.server.size, clientSerials: serials.client.size };
    expect(result.failures).toEqual([]);
    expect(result.summary.http).toBeGreaterThan(50);
    expect(result.summary.tcpEchoes).toBeGreaterThan(20);
    expect(result.tcpOpen).toBe(true);
  }, 60_000);

  it('`meshplane status` shows the serial and expiry the server sidecar ACKed, and /metrics the CA counters', async () => {
    await waitFor(
      async () => {
        const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'status', '--admin-address', `127.0.0.1:${mesh.ports.cpAdmin}`, '--output', 'json']);
        const row = (JSON.parse(stdout) as { nodeId: string; certificate?: { serialNumber: string; notAfter: string } }[]).find((r) => r.nodeId === 'server-1.shop');
        const envoySerial = await workloadCertSerial(mesh.server, 'server');
        return row?.certificate && envoySerial && normalizeSerial(row.certificate.serialNumber) === normalizeSerial(envoySerial);
      },
      { what: "status to show the serial Envoy holds (they move every 3 s)", timeoutMs: 15_000, intervalMs: 100 },
    );
    const metrics = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/metrics`)).body;
    expect(Number(/^meshplane_ca_certs_issued_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(8);
    expect(metrics).toMatch(/^meshplane_ca_cert_issue_failures_total 0$/m);
    expect(metrics).toMatch(/^meshplane_workload_cert_expiry_timestamp_seconds\{node="server-1\.shop"\} \d+$/m);
    expect(metrics).toMatch(/^meshplane_ca_root_rotation_phase\{phase="stable"\} 1$/m);
  });
});

describe('root rotation under load', () => {
  it('rotate-root --reissue: zero failed requests, and at the end no sidecar trusts or presents the old workload root', async () => {
    const oldRoot = currentWorkloadRoot(mesh.stateDir);
    const load = startLoad();
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'ca', 'rotate-root', '--state-dir', mesh.stateDir, '--reissue']);
    expect(stdout).toContain('root rotation started');
    const phases = new Set<string>();
    await waitFor(
      async () => {
        const ca = await caStatus();
        phases.add(ca.phase);
        return ca.phase === 'stable' && ca.signer !== fingerprint(oldRoot) ? ca : undefined;
      },
      { what: 'the rotation to finish', timeoutMs: 30_000, intervalMs: 100 },
    );
    figures.rootRotationMs = Date.now() - started;
    // Keep the load on past one more leaf rotation under the new root alone.
    await new Promise((r) => setTimeout(r, 4000));
    const result = await load.stop();
    figures.rootRotation = { ...result.summary, phasesSeen: [...phases] };
    expect(result.failures).toEqual([]);
    expect(result.tcpOpen).toBe(true);
    // The control plane's log has the phases in order: trust, then issue, then drop.
    const log = readFileSync(join(mesh.dir, 'meshplane.log'), 'utf8');
    const at = (msg: string) => log.indexOf(msg);
    expect(at('"phase":"trust-both"')).toBeGreaterThan(-1);
    expect(at('root rotation: phase issue-next')).toBeGreaterThan(at('"phase":"trust-both"'));
    expect(at('root rotation complete')).toBeGreaterThan(at('root rotation: phase issue-next'));

    const newRoot = currentWorkloadRoot(mesh.stateDir);
    expect(fingerprint(newRoot)).not.toBe(fingerprint(oldRoot));
    const xdsRoot = new X509Certificate(readFileSync(join(mesh.stateDir, 'ca/root-cert.pem')));
    for (const envoy of [mesh.client, mesh.server]) {
      const secrets = await sdsSecrets(envoy);
      // ROOTCA: the new root only.
      expect(pemCerts(secrets.ROOTCA!).map((p) => fingerprint(new X509Certificate(p)))).toEqual([fingerprint(newRoot)]);
      // default: a leaf the new root signed.
      const leaf = new X509Certificate(pemCerts(secrets.default!)[0]!);
      expect(leaf.checkIssued(newRoot) && leaf.verify(newRoot.publicKey)).toBe(true);
      // /certs: the only CAs are the new workload root and the xDS root the bootstrap pins.
      const cas = (await envoy.certs()).certificates.flatMap((c) => c.ca_cert ?? []).map((c) => normalizeSerial(c.serial_number));
      expect(cas).not.toContain(normalizeSerial(oldRoot.serialNumber));
      expect(new Set(cas)).toEqual(new Set([normalizeSerial(newRoot.serialNumber), normalizeSerial(xdsRoot.serialNumber)]));
    }
  }, 90_000);

  it('`meshplane ca status` shows the phase, the roots and the proxies on each', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [MESHPLANE, 'ca', 'status', '--admin-address', `127.0.0.1:${mesh.ports.cpAdmin}`]);
    expect(stdout).toMatch(/^phase\s+stable$/m);
    expect(stdout).toMatch(/^root\s+[0-9a-f]{16}… root-\S+ until \S+ {2}\(signs new certificates\)$/m);
    expect(stdout).toMatch(/^proxies\s+2 on [0-9a-f]{16}…$/m);
    expect(stdout).toMatch(/^xDS root\s+/m);
  });

  it("no Envoy rejected an update through it all", async () => {
    for (const envoy of [mesh.client, mesh.server]) {
      for (const [name, value] of await envoy.stats('update_rejected')) expect({ envoy: envoy.name, name, value }).toEqual({ envoy: envoy.name, name, value: 0 });
    }
  });
});

interface CaStatus {
  phase: string;
  signer: string;
}

async function caStatus(): Promise<CaStatus> {
  return (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/ca`)).json as CaStatus;
}


const fingerprint = (c: X509Certificate) => c.fingerprint256.replace(/:/g, '').toLowerCase();
const pemCerts = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];

/** The PEM of each dynamic SDS secret Envoy holds: ROOTCA's bundle, default's chain (the key is redacted). */
async function sdsSecrets(envoy: EnvoyProcess): Promise<Record<string, string>> {
  const dump = await envoy.configDump('dynamic_active_secrets');
  const out: Record<string, string> = {};
  for (const c of dump.configs) {
    const s = c.secret as { name: string; validation_context?: { trusted_ca: { inline_string: string } }; tls_certificate?: { certificate_chain: { inline_string: string } } };
    out[s.name] = s.validation_context?.trusted_ca.inline_string ?? s.tls_certificate!.certificate_chain.inline_string;
  }
  return out;
}

const workloadCertSerial = (envoy: EnvoyProcess, serviceAccount: string) => certSerialFor(envoy, spiffe(serviceAccount));


/**
 * HTTP requests through the client sidecar, back to back, and one TCP connection through it
 * opened now and kept, echoing a line every 200 ms. Every failure is kept.
 */
function startLoad() {
  let running = true;
  const failures: string[] = [];
  let http = 0;
  let tcpEchoes = 0;
  const httpLoop = (async () => {
    while (running) {
      try {
        const res = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/load`);
        if (res.status === 200) http++;
        else failures.push(`HTTP ${res.status}: ${res.body.slice(0, 100)}`);
      } catch (err) {
        failures.push(`HTTP: ${(err as Error).message}`);
      }
    }
  })();
  const socket: Socket = connect({ host: '127.0.0.1', port: mesh.ports.clientOutTcp });
  let tcpOpen = true;
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (buffered += d));
  socket.on('close', () => {
    tcpOpen = false;
    if (running) failures.push('TCP: the long-lived connection closed');
  });
  socket.on('error', (err) => failures.push(`TCP: ${err.message}`));
  const tcpLoop = (async () => {
    for (let i = 0; running && tcpOpen; i++) {
      const line = `line-${i}\n`;
      socket.write(line);
      const deadline = Date.now() + 3000;
      while (!buffered.includes(line) && Date.now() < deadline && tcpOpen) await new Promise((r) => setTimeout(r, 10));
      if (buffered.includes(line)) tcpEchoes++;
      else if (tcpOpen) failures.push(`TCP: no echo of ${line.trim()} within 3 s`);
      buffered = '';
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([httpLoop, tcpLoop]);
      const open = tcpOpen;
      socket.destroy();
      return { failures, tcpOpen: open, summary: { http, tcpEchoes, failed: failures.length } };
    },
  };
}
