/**
 * Secrets stay secret. A real mesh (control plane at debug level, two Envoys) is driven through
 * traffic, a rejected config, a forged token and failed and crashing starts; everything meshplane
 * printed or served is captured and searched for every private key and token that exists:
 *
 * - the state dir's keys (xDS root, workload roots, token key), read from disk;
 * - the workload keys the control plane issues in memory and sends over SDS, recorded by a
 *   test plugin (fixtures/key-recorder-plugin.ts);
 * - the xDS client keys and tokens in the Envoys' bootstraps;
 * - any 'PRIVATE KEY' marker or non-certificate PEM block at all.
 *
 * Envoy's own /config_dump shows the bootstrap token (README, The xDS channel): not captured here.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { httpGet } from '../helpers/clients.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { RECORDED_KEYS_DIR } from './fixtures/key-recorder-plugin.ts';
import { MESHPLANE, startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { expectNoResources, fetchClientStatus } from './mesh-probes.ts';
import { findLeaks, pemKeyNeedles, secretNeedles, stateDirNeedles, walk, type Needle } from './secret-needles.ts';

const PLUGIN = join(import.meta.dirname, 'fixtures/key-recorder-plugin.ts');
let mesh: LocalMesh;
const captured: { source: string; data: string | Buffer }[] = [];
const capture = (source: string, data: string | Buffer) => captured.push({ source, data });

beforeAll(async () => {
  mesh = await startLocalMesh('STRICT', { logLevel: 'debug', plugins: [PLUGIN] });
}, 120_000);
afterAll(async () => mesh?.close());

/** `meshplane <args>`: exit code and everything printed; never throws (a start that serves is killed at 30 s). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MESHPLANE, ...args], { env: { ...process.env, ...env }, timeout: 30_000, maxBuffer: 32 << 20 });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    return { code: e.code ?? e.signal ?? 'failed', out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The private keys and tokens inside a bootstrap YAML. */
function bootstrapSecrets(yamlText: string): { keys: string[]; tokens: string[] } {
  const keys: string[] = [];
  const tokens: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, any>;
    if (typeof o.private_key?.inline_string === 'string') keys.push(o.private_key.inline_string);
    if (o.key === 'x-meshplane-token' && typeof o.value === 'string') tokens.push(o.value);
    Object.values(o).forEach(visit);
  };
  visit(parse(yamlText));
  return { keys, tokens };
}

/** A copy of the mesh's state dir, with the modes meshplane gives (0700 dirs, 0600 files). */
function copyStateDir(name: string, edit: (dir: string) => void = () => undefined): string {
  const dir = join(mesh.dir, 'bad-states', name);
  mkdirSync(join(mesh.dir, 'bad-states'), { recursive: true, mode: 0o700 });
  cpSync(mesh.stateDir, dir, { recursive: true });
  edit(dir);
  return dir;
}
const serveArgs = (stateDir: string, xds = '127.0.0.1:0', admin = '127.0.0.1:0') =>
  ['serve', '--config', mesh.configDir, '--state-dir', stateDir, '--xds-address', xds, '--admin-address', admin, '--csds-address', '127.0.0.1:0', '--log-level', 'debug'];

describe('secrets hygiene: permissions', () => {
  it('the state dir serve created: every directory 0700, every key 0600, no file readable by others', () => {
    const tree = walk(mesh.stateDir);
    const keys = tree.filter((e) => e.isFile && /key/.test(e.rel)).map((e) => e.rel);
    expect(keys).toEqual(expect.arrayContaining(['ca/root-key.pem', 'xds-token.key', expect.stringMatching(/^ca\/workload-roots\/[^/]+\/root-key\.pem$/)]));
    for (const e of tree) {
      const mode = `${e.rel} ${e.mode.toString(8).padStart(4, '0')}`;
      if (!e.isFile) expect(mode).toBe(`${e.rel} 0700`);
      else if (keys.includes(e.rel)) expect(mode).toBe(`${e.rel} 0600`);
      else expect(e.mode & 0o077, mode).toBe(0);
    }
  });
});

describe('secrets hygiene: nothing meshplane prints or serves holds a key or a token', () => {
  it('drives the mesh: traffic, a rejected config quoting a key, a forged token', { timeout: 90_000 }, async () => {
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/`)).status === 200, { what: 'client -> server over mTLS' });
    // A user pastes the root key where a CA bundle goes, next to a YAML syntax error.
    const rootKey = readFileSync(join(mesh.stateDir, 'ca/root-key.pem'), 'utf8');
    const pasted = readFileSync(join(mesh.stateDir, 'ca/root-cert.pem'), 'utf8') + rootKey;
    mesh.writeConfig('zz-mistake.yaml', `apiVersion: meshplane.dev/v1alpha1\nkind: ExternalService\nmetadata: {name: pasted, namespace: shop}\nspec:\n  address: 10.0.0.1\n  port: 443\n  protocol: TCP\n  tls: SIMPLE\n  caCertificates: ${JSON.stringify(pasted)}\n`);
    mesh.writeConfig('zz-syntax.yaml', `${rootKey.split('\n').slice(0, 3).join(': :\n')}\n- [`);
    await mesh.controlPlane.waitForLine(/config change rejected/, 15_000);
    for (const f of ['zz-mistake.yaml', 'zz-syntax.yaml']) rmSync(join(mesh.configDir, f));
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json?.lastLoad?.ok === true, { what: 'the good config back' });
    // server-1's token with client-1's node id and certificate.
    const serverToken = bootstrapSecrets(readFileSync(mesh.server.bootstrapPath, 'utf8')).tokens[0]!;
    const clientBootstrap = await mesh.bootstrap('shop/client-1', ['--admin-port', String(mesh.ports.spareAdmin)]);
    const forged = clientBootstrap.replace(/(x-meshplane-token\n\s+value: )\S+/, `$1${serverToken}`);
    expect(forged).not.toBe(clientBootstrap);
    await expectNoResources(mesh, forged, /client-1\.shop.*(rejected|not authorized)|(rejected|not authorized).*client-1\.shop/);
  });

  it('captures the admin pages, the CLI, CSDS, validate, and failed and crashing starts', { timeout: 120_000 }, async () => {
    const admin = `127.0.0.1:${mesh.ports.cpAdmin}`;
    const index = (await httpGet(`http://${admin}/no-such-page`)).body;
    capture('admin 404 page', index);
    const pages = [...new Set(index.match(/\/[a-z][\w/-]*/g) ?? [])];
    expect(pages).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/debug/proxies', '/debug/config', '/debug/ca']));
    for (const page of pages) {
      const res = await httpGet(`http://${admin}${page}`);
      capture(`admin GET ${page}`, res.body);
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const write = await httpGet(`http://${admin}${page}`, { method });
        expect({ method, page, status: write.status, allow: write.headers.allow }).toEqual({ method, page, status: 405, allow: 'GET, HEAD' });
      }
    }
    expect(JSON.stringify((await httpGet(`http://${admin}/debug/proxies`)).json)).toContain('client-1.shop');

    for (const [name, args] of [
      ['status', ['status', '--admin-address', admin]],
      ['status json', ['status', '--admin-address', admin, '--output', 'json']],
      ['ca status', ['ca', 'status', '--admin-address', admin]],
      ['ca status json', ['ca', 'status', '--admin-address', admin, '--output', 'json']],
      ['explain', ['explain', '--config', mesh.configDir, '--from', 'shop/client-1', '--to', 'shop/server-1:http-api']],
      ['explain json', ['explain', '--config', mesh.configDir, '--from', 'shop/client-1', '--to', 'shop/server-1:http-api', '--output', 'json']],
      ['bootstrap of an unknown workload', ['bootstrap', '--config', mesh.configDir, '--state-dir', mesh.stateDir, '--workload', 'shop/nope']],
    ] as const) {
      const r = await cli([...args]);
      capture(`meshplane ${name} (exit ${r.code})`, r.out);
      if (!name.startsWith('bootstrap')) expect(r.code, `${name}: ${r.out}`).toBe(0);
    }

    const raw: Buffer[] = [];
    for (const node of [undefined, 'client-1.shop', 'server-1.shop']) {
      await fetchClientStatus(`127.0.0.1:${mesh.ports.csds}`, node ? { node_matchers: [{ node_id: { exact: node } }] } : {}, raw);
    }
    capture('CSDS FetchClientStatus (raw bytes)', Buffer.concat(raw));
    expect(Buffer.concat(raw).toString('latin1')).toContain('BEGIN CERTIFICATE');

    // validate: a broken copy of the config, with the root key pasted into caCertificates.
    const broken = join(mesh.dir, 'broken-config');
    cpSync(mesh.configDir, broken, { recursive: true });
    const rootKey = readFileSync(join(mesh.stateDir, 'ca/root-key.pem'), 'utf8');
    const pasted = readFileSync(join(mesh.stateDir, 'ca/root-cert.pem'), 'utf8') + rootKey;
    writeFileSync(join(broken, 'mistake.yaml'), `apiVersion: meshplane.dev/v1alpha1\nkind: ExternalService\nmetadata: {name: pasted, namespace: shop}\nspec: {address: 10.0.0.1, port: 443, protocol: TCP, tls: SIMPLE, caCertificates: ${JSON.stringify(pasted)}}\n`);
    writeFileSync(join(broken, 'syntax.yaml'), `key: ${JSON.stringify(rootKey)}\n  - [: broken`);
    const validate = await cli(['validate', '--config', broken]);
    capture('meshplane validate (broken config)', validate.out);
    expect(validate.code).toBe(1);
    expect(validate.out).toContain('mistake.yaml: spec.caCertificates: holds a private key block: only CA certificates belong here');
    expect(validate.out).toMatch(/syntax\.yaml: YAML syntax error at line \d+, column \d+/);

    const key = 'ca/root-key.pem';
    const [workloadRoot] = readdirSync(join(mesh.stateDir, 'ca/workload-roots'));
    const starts = await Promise.all([
      cli(serveArgs(copyStateDir('key-mode', (d) => chmodSync(join(d, key), 0o644)))),
      cli(serveArgs(copyStateDir('key-corrupt', (d) => writeFileSync(join(d, key), rootKey.split('\n').filter((_, i) => i !== 2).join('\n'), { mode: 0o600 })))),
      cli(serveArgs(copyStateDir('key-swapped', (d) => writeFileSync(join(d, `ca/workload-roots/${workloadRoot}/root-key.pem`), rootKey, { mode: 0o600 })))),
      cli(serveArgs(copyStateDir('token-corrupt', (d) => writeFileSync(join(d, 'xds-token.key'), `${readFileSync(join(d, 'xds-token.key'), 'utf8').trim()}zz\n`, { mode: 0o600 })))),
      // Crashes after the CA, the workload certificates and (second) the xDS server key are loaded.
      cli(serveArgs(copyStateDir('crash-xds'), `127.0.0.1:${mesh.ports.xds}`), { MESHPLANE_DEBUG: '1' }),
      cli(serveArgs(copyStateDir('crash-admin'), '127.0.0.1:0', admin), { MESHPLANE_DEBUG: '1' }),
    ]);
    const names = ['serve: key mode 0644', 'serve: corrupt root key', 'serve: swapped workload root key', 'serve: corrupt token key', 'serve crash: xDS port in use', 'serve crash: admin port in use'];
    starts.forEach((r, i) => capture(`${names[i]} (exit ${r.code})`, r.out));
    for (const r of starts) expect(r.code, r.out).not.toBe(0);
    expect(starts[0]!.out).toMatch(/root-key\.pem is readable or writable by others \(mode 0644\).*chmod 600/);
    expect(starts[1]!.out).toMatch(/root-key\.pem is not a valid unencrypted PEM private key/);
    expect(starts[2]!.out).toMatch(/root-key\.pem does not match the certificate/);
    expect(starts[3]!.out).toMatch(/xds-token\.key must hold 32 bytes/);
    for (const crash of starts.slice(4)) expect(crash.out).toMatch(/EADDRINUSE|address already in use|No address added/i);
    expect(starts.slice(4).some((c) => /\n\s+at /.test(c.out)), 'MESHPLANE_DEBUG=1 shows a stack').toBe(true);
  });

  it('finds no key and no token anywhere, at debug level, including the shutdown', { timeout: 60_000 }, async () => {
    await mesh.controlPlane.stop();
    const log = readFileSync(join(mesh.dir, 'meshplane.log'), 'utf8');
    capture('control plane stdout+stderr (debug)', log);
    expect(log).toContain('sending DiscoveryResponse'); // debug lines were on
    expect(log).toContain('config change rejected');

    const recorded = readdirSync(join(mesh.dir, RECORDED_KEYS_DIR)).map((f) => ({ f, pem: readFileSync(join(mesh.dir, RECORDED_KEYS_DIR, f), 'utf8') }));
    expect(recorded.map((r) => r.f.split('-').slice(0, 2).join('-')).sort()).toEqual(expect.arrayContaining(['client-1.shop', 'server-1.shop']));
    const envoys = [mesh.client, mesh.server].map((e) => ({ name: e.name, ...bootstrapSecrets(readFileSync(e.bootstrapPath, 'utf8')) }));
    const needles: Needle[] = [
      ...stateDirNeedles(mesh.stateDir),
      ...recorded.flatMap((r) => pemKeyNeedles(`workload key ${r.f}`, r.pem)),
      ...envoys.flatMap((e) => [...e.keys.flatMap((k) => pemKeyNeedles(`${e.name} xDS client key`, k)), ...e.tokens.flatMap((t) => secretNeedles(`${e.name} xDS token`, t))]),
    ];
    expect(envoys.map((e) => [e.keys.length, e.tokens.length])).toEqual([[1, 1], [1, 1]]);
    // The search finds what is there: each secret in its own file.
    expect(findLeaks('client bootstrap', readFileSync(mesh.client.bootstrapPath, 'utf8'), needles)).toEqual(expect.arrayContaining([expect.stringContaining('xDS client key line 1'), expect.stringContaining('xDS token')]));
    expect(findLeaks('a recorded key', recorded[0]!.pem, needles)).toContain(`a recorded key: workload key ${recorded[0]!.f} line 1`);

    expect(captured.length).toBeGreaterThan(20);
    expect(captured.flatMap((c) => findLeaks(c.source, c.data, needles))).toEqual([]);
  });
});
