import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { loadOrCreateAuthority } from './authority.ts';
import { CREATING_FILE, openStateDir } from './state-dir.ts';

const OPTS = { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 3600 * 24 * 365, trustDomain: 'cluster.local' } as const;
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'meshplane-state-'));
  dirs.push(d);
  return join(d, 'state');
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

async function stateError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MeshplaneError);
  expect((err as MeshplaneError).code).toBe('STATE_INVALID');
  return (err as Error).message;
}

describe('openStateDir', () => {
  it('creates the root and the token key together, then reuses both', async () => {
    const dir = fresh();
    const first = await openStateDir(dir, { ...OPTS, create: true });
    expect(first.created).toBe(true);
    const again = await openStateDir(dir, { ...OPTS, create: false });
    expect(again.created).toBe(false);
    expect(again.authority.rootFingerprint).toBe(first.authority.rootFingerprint);
    expect(again.tokenKey.equals(first.tokenKey)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('without create, a missing state dir is an error and nothing is created', async () => {
    const dir = fresh();
    expect(await stateError(openStateDir(dir, { ...OPTS, create: false }))).toContain(`${dir} holds no mesh CA`);
    expect(() => statSync(dir)).toThrow();
  });

  it('a root without its token key is an error, never a new key', async () => {
    const dir = fresh();
    await openStateDir(dir, { ...OPTS, create: true });
    rmSync(join(dir, 'xds-token.key'));
    expect(await stateError(openStateDir(dir, { ...OPTS, create: true }))).toContain(`${join(dir, 'xds-token.key')} is missing while ${join(dir, 'ca')} exists`);
  });

  it('a token key without its root is an error, never a new root', async () => {
    const dir = fresh();
    await openStateDir(dir, { ...OPTS, create: true });
    rmSync(join(dir, 'ca'), { recursive: true });
    expect(await stateError(openStateDir(dir, { ...OPTS, create: true }))).toContain(`${join(dir, 'ca')} is missing while ${join(dir, 'xds-token.key')} exists`);
  });

  it('ca/ appears whole: both roots and workload-roots.json in one rename, no marker left once the key exists', async () => {
    const dir = fresh();
    await openStateDir(dir, { ...OPTS, create: true });
    expect(readdirSync(dir).sort()).toEqual(['ca', 'xds-token.key']);
    expect(readdirSync(join(dir, 'ca')).sort()).toEqual(['root-cert.pem', 'root-key.pem', 'workload-roots', 'workload-roots.json']);
  });

  it('a start killed (or out of disk) between ca/ and the token key is finished by the next start, with the same roots', async () => {
    const dir = fresh();
    const first = await openStateDir(dir, { ...OPTS, create: true });
    const roots = readFileSync(join(dir, 'ca/workload-roots.json'), 'utf8');
    // What such a start leaves: ca/ with its marker, no key (no bootstrap can have been made).
    rmSync(join(dir, 'xds-token.key'));
    writeFileSync(join(dir, 'ca', CREATING_FILE), '');
    expect(await stateError(openStateDir(dir, { ...OPTS, create: false }))).toContain(`${join(dir, 'ca', CREATING_FILE)} exists`);
    const next = await openStateDir(dir, { ...OPTS, create: true });
    expect(next.authority.rootFingerprint).toBe(first.authority.rootFingerprint);
    expect(readFileSync(join(dir, 'ca/workload-roots.json'), 'utf8')).toBe(roots);
    expect(existsSync(join(dir, 'ca', CREATING_FILE))).toBe(false);
    expect((await openStateDir(dir, { ...OPTS, create: false })).tokenKey.equals(next.tokenKey)).toBe(true);
  });

  it('a write failing inside the new ca/ (ENOSPC) leaves no ca/ and no temp dir, and names ca/', async () => {
    const dir = fresh();
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const err = await stateError(loadOrCreateAuthority(dir, OPTS, () => Promise.reject(full)));
    expect(err).toContain(`could not write the new root CA files of ${join(dir, 'ca')}: ENOSPC`);
    expect(readdirSync(dir)).toEqual([]);
    expect((await openStateDir(dir, { ...OPTS, create: true })).created).toBe(true);
  });
});
