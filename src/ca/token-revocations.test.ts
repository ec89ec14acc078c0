import { chmodSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { readRevocations, revokeTokens } from './token-revocations.ts';

afterAll(cleanupTempDirs);

const T0 = Date.parse('2026-01-01T00:00:00Z');

async function stateError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MeshplaneError);
  expect((err as MeshplaneError).code).toBe('STATE_INVALID');
  return (err as Error).message;
}

describe('xDS token revocations', () => {
  it('none when the file is absent', async () => {
    expect(await readRevocations(tempDir())).toEqual(new Map());
  });

  it('records one instant per node, mode 0600, sorted, leaving no temp or lock file', async () => {
    const dir = tempDir();
    expect(await revokeTokens(dir, 'b-1.shop', new Date(T0))).toBe(T0);
    expect(await revokeTokens(dir, 'a-1.shop', new Date(T0 + 5))).toBe(T0 + 5);
    const file = join(dir, 'xds-revocations.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ revoked: { 'a-1.shop': '2026-01-01T00:00:00.005Z', 'b-1.shop': '2026-01-01T00:00:00.000Z' } });
    expect(readdirSync(dir)).toEqual(['xds-revocations.json']);
    expect(await readRevocations(dir)).toEqual(new Map([['a-1.shop', T0 + 5], ['b-1.shop', T0]]));
  });

  it('a later revocation moves the instant on; an earlier clock never moves it back', async () => {
    const dir = tempDir();
    await revokeTokens(dir, 'a-1.shop', new Date(T0));
    expect(await revokeTokens(dir, 'a-1.shop', new Date(T0 + 1000))).toBe(T0 + 1000);
    expect(await revokeTokens(dir, 'a-1.shop', new Date(T0))).toBe(T0 + 1000);
  });

  it('concurrent revokes lose none of each other', async () => {
    const dir = tempDir();
    const nodes = Array.from({ length: 12 }, (_, i) => `w-${i}.shop`);
    await Promise.all(nodes.map((n) => revokeTokens(dir, n, new Date(T0))));
    expect([...(await readRevocations(dir)).keys()].sort()).toEqual([...nodes].sort());
  });

  it('a lock left by a crashed revoke is taken over once stale', async () => {
    const dir = tempDir();
    const lock = join(dir, 'xds-revocations.json.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await revokeTokens(dir, 'a-1.shop', new Date(T0));
    expect(readdirSync(dir)).toEqual(['xds-revocations.json']);
  });

  it.each([
    ['not JSON', '{', 'is not valid JSON'],
    ['no revoked object', '{"revoked": []}', 'has no "revoked" object'],
    ['a bad time', '{"revoked": {"a-1.shop": "yesterday"}}', 'revoked["a-1.shop"]: "yesterday" is not an ISO time'],
  ])('refuses a corrupt file (%s), naming it and the format', async (_what, text, message) => {
    const dir = tempDir();
    const file = join(dir, 'xds-revocations.json');
    writeFileSync(file, text, { mode: 0o600 });
    const err = await stateError(readRevocations(dir));
    expect(err).toContain(`${file} ${message}`);
    expect(err).toContain('{"revoked": {"<name>.<namespace>": "<ISO time>"}}');
    // A revoke never overwrites what it cannot read.
    await stateError(revokeTokens(dir, 'b-1.shop', new Date(T0)));
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it.skipIf(process.platform === 'win32')('refuses a file others can write (they could lift a revocation)', async () => {
    const dir = tempDir();
    await revokeTokens(dir, 'a-1.shop', new Date(T0));
    chmodSync(join(dir, 'xds-revocations.json'), 0o666);
    expect(await stateError(readRevocations(dir))).toMatch(/is writable by others \(mode 0666\).*chmod 600/);
  });
});
