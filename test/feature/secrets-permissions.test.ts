/**
 * The state dir's file modes and the admin API's exposure:
 *
 * - a new state dir (and a root rotation in it) is 0700 throughout, every key 0600;
 * - opening it as `meshplane serve` does refuses any key readable or writable by group/others,
 *   and any of its directories writable by group/others (whoever can write there can swap a key
 *   for their own); a group/world-*readable* directory is fine (file names are no secret);
 * - the admin HTTP server is read-only (every method but GET/HEAD is 405, so it needs no token)
 *   and `serve` binds it to 127.0.0.1 by default.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdminServer } from '../../src/admin/admin-server.ts';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { WorkloadRoots } from '../../src/ca/workload-roots.ts';
import { DEFAULT_ADMIN_ADDRESS, DEFAULT_CSDS_ADDRESS, DEFAULT_XDS_ADDRESS } from '../../src/cli/args.ts';
import { MESHPLANE } from '../e2e/local-mesh.ts';
import { walk } from '../e2e/secret-needles.ts';
import { httpGet } from '../helpers/clients.ts';
import { trackChild } from '../helpers/process-registry.ts';

const OPTS = { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' } as const;
const base = mkdtempSync(join(tmpdir(), 'meshplane-secrets-perms-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const configDir = join(base, 'config');
mkdirSync(configDir);
writeFileSync(join(configDir, 'mesh.yaml'), 'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\n');

/** What `meshplane serve` opens before it serves: the state dir, then the workload roots. */
async function openAsServe(stateDir: string): Promise<void> {
  const { authority } = await openStateDir(stateDir, { ...OPTS, create: false });
  await WorkloadRoots.open(stateDir, authority);
}
const mode = (m: number) => m.toString(8).padStart(4, '0');

describe('state dir permissions', () => {
  const stateDir = join(base, 'state');

  it('a new state dir and a root rotation: directories 0700, keys 0600, nothing open to others', async () => {
    await openStateDir(stateDir, { ...OPTS, create: true });
    await WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: false });
    const tree = walk(stateDir);
    const keys = tree.filter((e) => e.isFile && /key/.test(e.rel));
    expect(keys.map((k) => k.rel.replace(/root-\d{8}T\d{6}Z-[0-9a-f]+/, 'ID')).sort()).toEqual([
      'ca/root-key.pem', 'ca/workload-roots/ID/root-key.pem', 'ca/workload-roots/ID/root-key.pem', 'xds-token.key',
    ]);
    for (const e of tree) {
      if (!e.isFile) expect(`${e.rel} ${mode(e.mode)}`).toBe(`${e.rel} 0700`);
      else if (keys.includes(e)) expect(`${e.rel} ${mode(e.mode)}`).toBe(`${e.rel} 0600`);
      else expect(`${e.rel} ${mode(e.mode & 0o077)}`).toBe(`${e.rel} 0000`);
    }
    await openAsServe(stateDir); // and it opens
  });

  it('refuses every key file that group or others may read or write, naming it and the chmod 600 fix', async () => {
    const keys = walk(stateDir).filter((e) => e.isFile && /key/.test(e.rel));
    expect(keys.length).toBe(4);
    for (const key of keys) {
      for (const bad of [0o640, 0o604, 0o620, 0o644]) {
        const path = join(stateDir, key.rel);
        chmodSync(path, bad);
        try {
          const err = await openAsServe(stateDir).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
          expect(err, `${key.rel} at ${mode(bad)} was accepted`).toBeDefined();
          expect(err!.code).toBe('STATE_INVALID');
          expect(err!.message).toContain(`${path} is readable or writable by others (mode ${mode(bad)})`);
          expect(err!.message).toContain(`chmod 600 ${path}`);
        } finally {
          chmodSync(path, 0o600);
        }
      }
    }
    await openAsServe(stateDir);
  });

  it('refuses a state dir directory that group or others may write; readable is fine', async () => {
    const dirs = walk(stateDir).filter((e) => !e.isFile).map((e) => e.rel);
    expect(dirs.length).toBe(5); // ., ca, ca/workload-roots, two roots
    for (const rel of dirs) {
      const path = join(stateDir, rel);
      for (const bad of [0o770, 0o707, 0o777]) {
        chmodSync(path, bad);
        try {
          const err = await openAsServe(stateDir).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
          expect(err, `${rel} at ${mode(bad)} was accepted`).toBeDefined();
          expect(err!.message).toContain(`${rel === '.' ? stateDir : path} is writable by group or others (mode ${mode(bad)})`);
          expect(err!.message).toContain('chmod go-w');
        } finally {
          chmodSync(path, 0o700);
        }
      }
      chmodSync(path, 0o755);
      await openAsServe(stateDir);
      chmodSync(path, 0o700);
    }
  });

  it('`meshplane serve` itself refuses a token key readable by the group and a world-writable state dir', { timeout: 60_000 }, async () => {
    const serve = (dir: string) =>
      promisify(execFile)(process.execPath, [MESHPLANE, 'serve', '--config', configDir, '--state-dir', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--csds-address', '127.0.0.1:0'], { timeout: 30_000 })
        .then(() => ({ code: 0, out: 'served' }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }));
    chmodSync(join(stateDir, 'xds-token.key'), 0o640);
    const token = await serve(stateDir);
    chmodSync(join(stateDir, 'xds-token.key'), 0o600);
    chmodSync(stateDir, 0o777);
    const dir = await serve(stateDir);
    chmodSync(stateDir, 0o700);
    expect(token.code, token.out).toBe(1);
    expect(token.out).toContain(`meshplane serve: ${join(stateDir, 'xds-token.key')} is readable or writable by others (mode 0640)`);
    expect(dir.code, dir.out).toBe(1);
    expect(dir.out).toContain(`meshplane serve: ${stateDir} is writable by group or others (mode 0777)`);
  });
});

describe('admin HTTP: read-only, loopback by default', () => {
  it('answers GET and HEAD; every other method is 405 with Allow: GET, HEAD, on every path', async () => {
    const admin = await startAdminServer('127.0.0.1:0', { ready: () => true, registry: new Registry(), debug: { proxies: () => [{ nodeId: 'a.b' }] } });
    try {
      const url = (p: string) => `http://127.0.0.1:${admin.port}${p}`;
      for (const path of ['/healthz', '/readyz', '/metrics', '/debug/proxies', '/debug/none', '/']) {
        expect((await httpGet(url(path), { method: 'HEAD' })).body).toBe('');
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']) {
          const res = await httpGet(url(path), { method });
          expect({ path, method, status: res.status, allow: res.headers.allow }).toEqual({ path, method, status: 405, allow: 'GET, HEAD' });
        }
      }
      expect((await httpGet(url('/debug/proxies'))).json).toEqual([{ nodeId: 'a.b' }]);
      // Object.prototype names are not debug pages.
      for (const name of ['constructor', 'hasOwnProperty', '__proto__', 'toString']) expect((await httpGet(url(`/debug/${name}`))).status).toBe(404);
    } finally {
      await admin.close();
    }
  });

  it('every default listen address is loopback', () => {
    for (const address of [DEFAULT_ADMIN_ADDRESS, DEFAULT_XDS_ADDRESS, DEFAULT_CSDS_ADDRESS]) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('`meshplane serve` without --admin-address listens on 127.0.0.1:15014 only', { timeout: 60_000 }, async () => {
    const port = Number(DEFAULT_ADMIN_ADDRESS.split(':')[1]);
    expect(await reachable('127.0.0.1', port), `something already listens on ${DEFAULT_ADMIN_ADDRESS}: stop it (meshplane demo?) and rerun`).toBe(false);
    const child = spawn(process.execPath, [MESHPLANE, 'serve', '--config', configDir, '--state-dir', join(base, 'state'), '--xds-address', '127.0.0.1:0', '--csds-address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
        const onData = (chunk: Buffer) => ((out += chunk.toString()), out.includes('meshplane serving') && (clearTimeout(timer), resolve()));
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', () => reject(new Error(`serve exited:\n${out}`)));
      });
      expect(out).toContain(`"admin":"${DEFAULT_ADMIN_ADDRESS}"`);
      expect((await httpGet(`http://${DEFAULT_ADMIN_ADDRESS}/healthz`)).status).toBe(200);
      // Bound to 127.0.0.1 itself, not 0.0.0.0: another loopback address does not reach it.
      expect(await reachable('127.0.0.2', port)).toBe(false);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    }
  });
});

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.end(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
