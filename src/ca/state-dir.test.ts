import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { openStateDir } from './state-dir.ts';

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
});
