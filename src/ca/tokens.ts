/**
 * Per-workload xDS tokens. The xDS stream carries private keys (SDS), so each Envoy presents a
 * token in gRPC metadata and the server serves a stream only if the token matches its node.id.
 * A token is signed claims (node id, issued-at, expiry) under a key kept in the state dir: nothing
 * per token is stored, and `meshplane bootstrap` and `meshplane serve` agree as long as they share
 * the state dir. Revocation (token-revocations.ts) refuses a node's tokens issued before a point.
 *
 * v1 tokens (a bare HMAC of the node id, no expiry) are refused: meshplane is pre-1.0, and a
 * token that can be neither expired nor revoked is what v2 exists to end.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, io, isCode, makeStateDir, stateError, statOrUndefined, writeNewFile } from './state-files.ts';

/** gRPC metadata key the token travels in. */
export const TOKEN_METADATA_KEY = 'x-meshplane-token';
export const TOKEN_KEY_FILE = 'xds-token.key';

export const TOKEN_PREFIX = 'mp2';
// Versioned domain separation: the key never signs anything a v1 token or another use could replay.
const TOKEN_CONTEXT = 'meshplane-xds-token-v2\n';
const KEY_BYTES = 32;

/**
 * How long a bootstrap's token lasts unless `--token-ttl` says otherwise: one year. The token is
 * checked when a stream opens, so one that expires under a running Envoy cuts it off at its next
 * reconnect (a control-plane restart is enough): it must outlive any sensible Envoy uptime. The
 * bootstrap's client certificate lasts as long as the mesh root (10 years); a year still bounds
 * a leaked bootstrap nobody revoked, and revocation is the tool for a known leak.
 */
export const DEFAULT_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

/**
 * The HMAC key from `<stateDir>/xds-token.key` (32 random bytes as hex, mode 0600), created if
 * absent. Creation is race-safe: the key is written to a temp file and hard-linked into place,
 * which fails if another process got there first; then that process's key is read.
 * Throws STATE_INVALID naming the file when it is corrupt or readable by others.
 */
export async function loadOrCreateTokenKey(stateDir: string): Promise<Buffer> {
  const file = join(stateDir, TOKEN_KEY_FILE);
  const existing = await readTokenKey(file);
  if (existing) return existing;

  await io(stateDir, 'create the state directory', () => makeStateDir(stateDir));
  const tmp = join(stateDir, `.${TOKEN_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await io(tmp, 'write', () => writeNewFile(tmp, `${randomBytes(KEY_BYTES).toString('hex')}\n`));
    try {
      await link(tmp, file); // unlike rename, link never replaces an existing file
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw stateError(file, `could not be created: ${errorText(err)}`, err);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const key = await readTokenKey(file);
  if (!key) throw stateError(file, 'vanished right after it was created; is another process deleting the state dir?');
  return key;
}

async function readTokenKey(file: string): Promise<Buffer | undefined> {
  const st = await statOrUndefined(file);
  if (!st) return undefined;
  const regenerate = `restore the file, or delete it to create a new key — every Envoy bootstrap made with the old key must then be regenerated`;
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw stateError(file, `is readable or writable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); anyone who reads it can fetch any workload's private key: run \`chmod 600 ${file}\``);
  }
  const text = (await io(file, 'read', () => readFile(file, 'utf8'))).trim();
  if (!/^[0-9a-fA-F]+$/.test(text) || text.length !== KEY_BYTES * 2) {
    throw stateError(file, `must hold ${KEY_BYTES} bytes as ${KEY_BYTES * 2} hex characters (found ${text.length} characters); ${regenerate}`);
  }
  return Buffer.from(text, 'hex');
}

/** What a v2 token asserts, signed: whose it is, and when it was issued and expires (ms since the epoch). */
export interface TokenClaims {
  node: string;
  iat: number;
  exp: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

/**
 * A v2 token: `mp2.<claims>.<mac>`, claims the base64url JSON of {@link TokenClaims}, mac
 * HMAC-SHA256(key, 'meshplane-xds-token-v2\n' + claims) in base64url. The MAC covers the claims
 * exactly as encoded, so no canonical JSON is needed to verify it.
 */
export function issueWorkloadToken(key: Buffer, claims: TokenClaims): string {
  const encoded = Buffer.from(JSON.stringify({ node: claims.node, iat: claims.iat, exp: claims.exp }), 'utf8').toString('base64url');
  return `${TOKEN_PREFIX}.${encoded}.${mac(key, encoded)}`;
}

/**
 * Whether `token` lets a stream be `nodeId` at `now`: the reasons are distinct and name the fix,
 * and never quote the token. `revokedAt`: tokens of the node issued at or before it are refused.
 * The MAC is checked before the claims are read, so an altered field reads as a bad signature.
 */
export function checkWorkloadToken(key: Buffer, nodeId: string, token: string | undefined, at: { now: number; revokedAt?: number }): TokenCheck {
  const no = (reason: string): TokenCheck => ({ ok: false, reason });
  const again = 'run meshplane bootstrap again';
  if (token === undefined || token === '') return no(`no xDS token was presented (${TOKEN_METADATA_KEY} metadata): use a bootstrap from \`meshplane bootstrap\``);
  if (/^[A-Za-z0-9_-]{43}$/.test(token)) return no(`the xDS token is a v1 token, no longer accepted (tokens now expire and can be revoked): ${again}`);
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) {
    return no(`the xDS token is malformed (not ${TOKEN_PREFIX}.<claims>.<signature>; cut short or edited?): ${again}`);
  }
  const expected = Buffer.from(mac(key, parts[1]!), 'utf8');
  const given = Buffer.from(parts[2]!, 'utf8');
  // The MAC's length is public (43 chars), so an early exit on length leaks nothing.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return no(`the xDS token's signature does not match (altered, forged, or made with another state dir's key): ${again} with the control plane's --state-dir`);
  }
  const claims = parseClaims(parts[1]!);
  if (!claims) return no(`the xDS token is malformed (its signed claims are not {node, iat, exp}): ${again}`);
  if (claims.node !== nodeId) return no(`the xDS token does not belong to this node.id (it was issued for ${claims.node})`);
  if (at.now >= claims.exp) return no(`the xDS token expired at ${new Date(claims.exp).toISOString()}; ${again}`);
  if (at.revokedAt !== undefined && claims.iat <= at.revokedAt) {
    return no(`the xDS token of ${nodeId} was revoked at ${new Date(at.revokedAt).toISOString()} (meshplane token revoke); ${again}`);
  }
  return { ok: true, claims };
}

function mac(key: Buffer, encodedClaims: string): string {
  return createHmac('sha256', key).update(TOKEN_CONTEXT + encodedClaims, 'utf8').digest('base64url');
}

function parseClaims(encoded: string): TokenClaims | undefined {
  try {
    const c = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Partial<TokenClaims>;
    const ms = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (typeof c.node !== 'string' || c.node === '' || !ms(c.iat) || !ms(c.exp) || c.exp <= c.iat) return undefined;
    return { node: c.node, iat: c.iat, exp: c.exp };
  } catch {
    return undefined;
  }
}
