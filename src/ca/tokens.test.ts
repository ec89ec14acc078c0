import { createHmac } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { loadOrCreateTokenKey, TOKEN_METADATA_KEY, verifyWorkloadToken, workloadToken } from './tokens.ts';

afterAll(cleanupTempDirs);

describe('loadOrCreateTokenKey', () => {
  it('creates a 32-byte key once, mode 0600, and reuses it', async () => {
    const dir = join(tempDir(), 'state');
    const key = await loadOrCreateTokenKey(dir);
    const file = join(dir, 'xds-token.key');
    expect(key).toHaveLength(32);
    expect(readFileSync(file, 'utf8')).toBe(`${key.toString('hex')}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(await loadOrCreateTokenKey(dir)).toEqual(key);
    expect(readdirSync(dir)).toEqual(['xds-token.key']);
  });

  it('yields one key when several callers create it at once', async () => {
    const dir = join(tempDir(), 'state');
    const keys = await Promise.all([1, 2, 3, 4, 5].map(() => loadOrCreateTokenKey(dir)));
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
    expect(readdirSync(dir)).toEqual(['xds-token.key']);
  });

  it.each([
    ['not hex', 'zz'.repeat(32)],
    ['too short', 'ab'.repeat(16)],
    ['empty', ''],
  ])('refuses a corrupt key file (%s) with STATE_INVALID naming it', async (_name, content) => {
    const dir = tempDir();
    const file = join(dir, 'xds-token.key');
    writeFileSync(file, content, { mode: 0o600 });
    const err = await loadOrCreateTokenKey(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshplaneError);
    expect((err as MeshplaneError).code).toBe('STATE_INVALID');
    expect((err as MeshplaneError).message).toContain(file);
    expect((err as MeshplaneError).message).toMatch(/64 hex characters.*bootstrap/);
  });

  it.skipIf(process.platform === 'win32')('refuses a key file readable by others', async () => {
    const dir = tempDir();
    await loadOrCreateTokenKey(dir);
    const file = join(dir, 'xds-token.key');
    chmodSync(file, 0o640);
    await expect(loadOrCreateTokenKey(dir)).rejects.toThrow(`mode 0640`);
    await expect(loadOrCreateTokenKey(dir)).rejects.toThrow(`chmod 600 ${file}`);
  });
});

describe('workload tokens', () => {
  const key = Buffer.alloc(32, 7);

  it('is HMAC-SHA256 over a versioned context, base64url', () => {
    const expected = createHmac('sha256', key).update('meshplane-xds-token-v1\nbackend-1.shop').digest('base64url');
    expect(workloadToken(key, 'backend-1.shop')).toBe(expected);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(TOKEN_METADATA_KEY).toBe('x-meshplane-token');
  });

  it('verifies only for its own node and key', () => {
    const token = workloadToken(key, 'backend-1.shop');
    expect(verifyWorkloadToken(key, 'backend-1.shop', token)).toBe(true);
    expect(verifyWorkloadToken(key, 'backend-2.shop', token)).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', workloadToken(Buffer.alloc(32, 8), 'backend-1.shop'))).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', undefined)).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', '')).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', 'garbage')).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', `${token}x`)).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(verifyWorkloadToken(key, 'backend-1.shop', 'é'.repeat(43))).toBe(false); // multi-byte: lengths differ in bytes
  });
});
