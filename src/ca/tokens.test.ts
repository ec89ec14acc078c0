import { createHmac } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { checkWorkloadToken, DEFAULT_TOKEN_TTL_SECONDS, issueWorkloadToken, loadOrCreateTokenKey, TOKEN_METADATA_KEY } from './tokens.ts';

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

describe('workload tokens (v2)', () => {
  const key = Buffer.alloc(32, 7);
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const DAY = 24 * 3600_000;
  const NODE = 'backend-1.shop';
  const token = issueWorkloadToken(key, { node: NODE, iat: T0, exp: T0 + DAY });
  const check = (t: string | undefined, o: { node?: string; now?: number; revokedAt?: number; key?: Buffer } = {}) =>
    checkWorkloadToken(o.key ?? key, o.node ?? NODE, t, { now: o.now ?? T0 + 1000, ...(o.revokedAt !== undefined && { revokedAt: o.revokedAt }) });
  const reason = (...args: Parameters<typeof check>) => {
    const r = check(...args);
    return r.ok ? 'accepted' : r.reason;
  };
  const [prefix, claims, sig] = token.split('.') as [string, string, string];
  const reencode = (c: object) => Buffer.from(JSON.stringify(c)).toString('base64url');

  it('is mp2.<claims>.<HMAC-SHA256 over a v2 context>, base64url, and verifies for its node within its lifetime', () => {
    expect(prefix).toBe('mp2');
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toEqual({ node: NODE, iat: T0, exp: T0 + DAY });
    expect(sig).toBe(createHmac('sha256', key).update(`meshplane-xds-token-v2\n${claims}`).digest('base64url'));
    expect(token).toMatch(/^[A-Za-z0-9._-]+$/); // a plain YAML scalar and a valid gRPC metadata value
    expect(check(token)).toEqual({ ok: true, claims: { node: NODE, iat: T0, exp: T0 + DAY } });
    expect(TOKEN_METADATA_KEY).toBe('x-meshplane-token');
    expect(DEFAULT_TOKEN_TTL_SECONDS).toBe(365 * 24 * 3600);
  });

  it('expires: accepted until exp, then refused with the time and the fix', () => {
    expect(reason(token, { now: T0 + DAY - 1 })).toBe('accepted');
    expect(reason(token, { now: T0 + DAY })).toBe('the xDS token expired at 2026-01-02T00:00:00.000Z; run meshplane bootstrap again');
  });

  it('is refused for another node.id, naming the node it was issued for', () => {
    expect(reason(token, { node: 'backend-2.shop' })).toBe('the xDS token does not belong to this node.id (it was issued for backend-1.shop)');
  });

  it.each([
    ['the node', reencode({ node: 'backend-2.shop', iat: T0, exp: T0 + DAY })],
    ['the expiry', reencode({ node: NODE, iat: T0, exp: T0 + 100 * DAY })],
    ['the issue time', reencode({ node: NODE, iat: T0 + DAY / 2, exp: T0 + DAY })],
  ])('tampering with %s breaks the signature', (_field, forged) => {
    expect(reason(`mp2.${forged}.${sig}`, { node: JSON.parse(Buffer.from(forged, 'base64url').toString()).node })).toMatch(/^the xDS token's signature does not match \(altered, forged/);
  });

  it('a changed signature, or one made with another key, is refused the same way', () => {
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    expect(reason(`mp2.${claims}.${flipped}`)).toMatch(/signature does not match/);
    expect(reason(token, { key: Buffer.alloc(32, 8) })).toMatch(/signature does not match.*--state-dir/);
    expect(reason(`mp2.${claims}.${sig}x`)).toMatch(/signature does not match/);
    expect(reason(`mp2.${claims}.${'é'.repeat(43)}`)).toMatch(/signature does not match/); // multi-byte: lengths differ in bytes
  });

  it('a v1 token (bare HMAC of the node id) is refused with the fix', () => {
    const v1 = createHmac('sha256', key).update(`meshplane-xds-token-v1\n${NODE}`).digest('base64url');
    expect(reason(v1)).toBe('the xDS token is a v1 token, no longer accepted (tokens now expire and can be revoked): run meshplane bootstrap again');
  });

  it.each([
    ['missing', undefined, /^no xDS token was presented \(x-meshplane-token metadata\)/],
    ['empty', '', /^no xDS token was presented/],
    ['garbage', 'garbage', /^the xDS token is malformed/],
    ['cut short', `mp2.${claims}`, /^the xDS token is malformed/],
    ['another version', `mp3.${claims}.${sig}`, /^the xDS token is malformed/],
    ['not base64url claims', `mp2.${claims}!.${sig}`, /^the xDS token is malformed/],
  ])('a %s token is refused with its own reason', (_what, t, expected) => {
    expect(reason(t)).toMatch(expected);
  });

  it('signed claims that are not {node, iat, exp} are malformed, not trusted', () => {
    for (const bad of [{ node: NODE, iat: T0 }, { node: 7, iat: T0, exp: T0 + 1 }, { node: NODE, iat: T0, exp: T0 }, { node: NODE, iat: 1.5, exp: T0 }]) {
      const encoded = reencode(bad);
      const mac = createHmac('sha256', key).update(`meshplane-xds-token-v2\n${encoded}`).digest('base64url');
      expect(reason(`mp2.${encoded}.${mac}`)).toMatch(/^the xDS token is malformed \(its signed claims/);
    }
  });

  it('a revocation refuses the tokens issued at or before it, not those issued after', () => {
    expect(reason(token, { revokedAt: T0 - 1 })).toBe('accepted');
    expect(reason(token, { revokedAt: T0 })).toBe('the xDS token of backend-1.shop was revoked at 2026-01-01T00:00:00.000Z (meshplane token revoke); run meshplane bootstrap again');
    expect(reason(token, { revokedAt: T0 + 500 })).toMatch(/was revoked at 2026-01-01T00:00:00\.500Z/);
    const after = issueWorkloadToken(key, { node: NODE, iat: T0 + 501, exp: T0 + DAY });
    expect(reason(after, { revokedAt: T0 + 500 })).toBe('accepted');
  });

  it('reasons never quote the token', () => {
    for (const t of [token, `mp2.${claims}.${sig.slice(1)}x`, `${token}.x`]) {
      for (const node of [NODE, 'other.shop']) {
        const r = reason(t, { node, now: T0 + 2 * DAY, revokedAt: T0 });
        expect(r).not.toContain(sig);
        expect(r).not.toContain(claims);
      }
    }
  });
});
