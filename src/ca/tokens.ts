/**
 * Per-workload xDS tokens. The xDS stream carries private keys (SDS), so each Envoy presents a
 * token in gRPC metadata and the server serves a stream only if the token matches its node.id.
 * A token is an HMAC of the node id under a key kept in the state dir: nothing per workload is
 * stored, and `meshplane bootstrap` and `meshplane serve` agree as long as they share the state dir.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, io, isCode, stateError, statOrUndefined, writeNewFile } from './state-files.ts';

/** gRPC metadata key the token travels in. */
export const TOKEN_METADATA_KEY = 'x-meshplane-token';
export const TOKEN_KEY_FILE = 'xds-token.key';

// Versioned domain separation, so the key can never produce a token meant for another purpose.
const TOKEN_CONTEXT = 'meshplane-xds-token-v1\n';
const KEY_BYTES = 32;

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

  await io(stateDir, 'create the state directory', () => mkdir(stateDir, { recursive: true, mode: 0o700 }));
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

/** The token for `nodeId`: HMAC-SHA256(key, 'meshplane-xds-token-v1\n' + nodeId), base64url. */
export function workloadToken(key: Buffer, nodeId: string): string {
  return createHmac('sha256', key).update(TOKEN_CONTEXT + nodeId, 'utf8').digest('base64url');
}

/** Whether `token` is the token of `nodeId`; constant-time in the token's content. */
export function verifyWorkloadToken(key: Buffer, nodeId: string, token: string | undefined): boolean {
  if (typeof token !== 'string') return false;
  const expected = Buffer.from(workloadToken(key, nodeId), 'utf8');
  const given = Buffer.from(token, 'utf8');
  // The length of a valid token is public (43 chars), so an early exit on length leaks nothing.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
