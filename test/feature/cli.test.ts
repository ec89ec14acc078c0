import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { envoyBinary } from '../helpers/envoy-binary.ts';

const MESHPLANE = join(import.meta.dirname, '../../bin/meshplane');
const EXAMPLE = join(import.meta.dirname, '../../examples/demo');
const work = mkdtempSync(join(tmpdir(), 'meshplane-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], bin = MESHPLANE): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bin === MESHPLANE ? process.execPath : bin, bin === MESHPLANE ? [MESHPLANE, ...args] : args);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('meshplane validate', () => {
  it('exits 0 on the example mesh', async () => {
    const r = await run(['validate', '--config', EXAMPLE]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('ok (2 services, 3 workloads, 2 with sidecars');
  });

  it('prints file: path: message lines with the fix and exits 1', async () => {
    const dir = join(work, 'bad');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (f) => !f.endsWith('.ts') });
    writeFileSync(join(dir, 'peer-authentication.yaml'), readFileSync(join(dir, 'peer-authentication.yaml'), 'utf8').replace('mode: PERMISSIVE', 'mode: PERMISIVE'));
    writeFileSync(join(dir, 'workloads.yaml'), readFileSync(join(dir, 'workloads.yaml'), 'utf8').replace('service: backend, port: tcp-echo', 'service: backnd, port: tcp-echo'));
    const r = await run(['validate', '--config', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('peer-authentication.yaml: spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got "PERMISIVE" (did you mean "PERMISSIVE"?)');
    // workloads.yaml:3 = the line where the backend-1 document starts.
    expect(r.stderr).toContain('workloads.yaml:3: spec.inbound[1].service: service "backnd" not found in namespace "shop": define a Service named backnd in namespace shop, or fix spec.inbound[1].service; did you mean "backend"?');
    expect(r.stderr).toContain(`${dir}: 2 errors`);
  });

  it('a missing --config is a usage error (exit 2)', async () => {
    const r = await run(['validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--config is required');
  });
});

describe('meshplane bootstrap', () => {
  const stateDir = join(work, 'state');

  it('refuses a state dir without a mesh CA instead of minting a second one', async () => {
    const r = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', join(work, 'typo'), '--workload', 'shop/frontend-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('holds no mesh CA: pass the --state-dir of the running `meshplane serve`');
    expect(existsSync(join(work, 'typo'))).toBe(false);
  });

  it('(setup) the state dir as `meshplane serve` creates it', async () => {
    await openStateDir(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 3600 * 24, trustDomain: 'cluster.local', create: true });
  });

  it('prints a bootstrap that Envoy 1.40 accepts, with TLS to the control plane pinned to the mesh root and a token', async () => {
    const r = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/frontend-1', '--xds-address', '127.0.0.1:15999', '--admin-port', '15998']);
    expect(r.code).toBe(0);
    const b = parse(r.stdout);
    expect(b.node).toEqual({ id: 'frontend-1.shop', cluster: 'shop/frontend' });
    expect(b.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 15998 });
    const xds = b.static_resources.clusters[0];
    expect(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 15999 });
    const tls = xds.transport_socket.typed_config.common_tls_context;
    expect(tls.validation_context.trusted_ca.inline_string).toBe(readFileSync(join(stateDir, 'ca/root-cert.pem'), 'utf8'));
    expect(tls.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/meshplane/control-plane' } }]);
    expect(b.dynamic_resources.ads_config.grpc_services[0].initial_metadata[0].key).toBe('x-meshplane-token');
    expect(statSync(join(stateDir, 'ca/root-key.pem')).mode & 0o777).toBe(0o600);

    const file = join(work, 'frontend.yaml');
    writeFileSync(file, r.stdout);
    const check = await run(['--mode', 'validate', '-c', file, '--log-level', 'error'], envoyBinary());
    expect(check.stdout + check.stderr).toContain('OK');
    expect(check.code).toBe(0);
  });

  it('--delta asks for Delta ADS (DELTA_GRPC), CDS/LDS ride the ADS stream, and Envoy 1.40 accepts it; SotW otherwise', async () => {
    const args = ['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/frontend-1', '--admin-port', '15997'];
    const [sotw, delta] = [await run(args), await run([...args, '--delta'])];
    expect(delta.code).toBe(0);
    expect(parse(sotw.stdout).dynamic_resources.ads_config.api_type).toBe('GRPC');
    const dyn = parse(delta.stdout).dynamic_resources;
    expect(dyn.ads_config).toMatchObject({ api_type: 'DELTA_GRPC', transport_api_version: 'V3' });
    // With `ads: {}` the child sources (and SDS through them) follow the ADS stream's api_type.
    expect(dyn.cds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(dyn.lds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    const file = join(work, 'frontend-delta.yaml');
    writeFileSync(file, delta.stdout);
    const check = await run(['--mode', 'validate', '-c', file, '--log-level', 'error'], envoyBinary());
    expect(check.stdout + check.stderr).toContain('OK');
  });

  it('--output writes the bootstrap with mode 0600', async () => {
    const file = join(work, 'backend.bootstrap.yaml');
    writeFileSync(file, 'old', { mode: 0o644 });
    const r = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/backend-1', '--output', file]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(file, 'utf8')).node.id).toBe('backend-1.shop');
  });

  it('each token names its own node and expires in a year, or after --token-ttl (said in the header)', async () => {
    const claims = async (w: string, extra: string[] = []) => {
      const { stdout } = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', w, ...extra]);
      const token = /x-meshplane-token\n\s+value: (\S+)/.exec(stdout)![1]!;
      const c = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { node: string; iat: number; exp: number };
      expect(stdout).toContain(`# Its xDS token expires at ${new Date(c.exp).toISOString()}`);
      return c;
    };
    const [a, b] = [await claims('shop/frontend-1'), await claims('shop/backend-1', ['--token-ttl', '720h'])];
    expect([a.node, b.node]).toEqual(['frontend-1.shop', 'backend-1.shop']);
    expect(a.exp - a.iat).toBe(365 * 24 * 3600_000);
    expect(b.exp - b.iat).toBe(720 * 3600_000);
    expect(Math.abs(a.iat - Date.now())).toBeLessThan(60_000);
    const bad = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/frontend-1', '--token-ttl', '30d']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--token-ttl "30d" must be a duration between 1m and 87600h, e.g. 720h (default 8760h)');
  });

  it('refuses a sidecar-less or unknown workload with the list of sidecar workloads', async () => {
    const noSidecar = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/legacy-1']);
    expect(noSidecar.code).toBe(2);
    expect(noSidecar.stderr).toContain('has sidecar: false');
    const unknown = await run(['bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', 'shop/nope']);
    expect(unknown.stderr).toContain('sidecar workloads: shop/backend-1, shop/frontend-1');
  });
});
