/**
 * Revoked xDS tokens, per node, in `<stateDir>/xds-revocations.json` (mode 0600):
 *
 *   {"revoked": {"backend-1.shop": "2026-03-01T10:00:00.000Z"}}
 *
 * Every token of that node issued at or before that instant is refused; a bootstrap made after
 * it works again. One instant per node, not a list of tokens: tokens are stateless, and a node
 * that leaked one token must get a new bootstrap anyway. `meshplane token revoke` writes the
 * file; `meshplane serve` watches it. It sits beside `xds-token.key`, not under `ca/`: it is about
 * tokens, and ca/ is only watched while the state dir's own roots sign.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, io, isCode, replaceFile, stateError, statOrUndefined } from './state-files.ts';

export const REVOCATIONS_FILE = 'xds-revocations.json';
/** A lock older than this was left by a crashed `meshplane token revoke`; writes take milliseconds. */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 5000;

/** node id -> revoked at (ms since the epoch). */
export type Revocations = ReadonlyMap<string, number>;

/**
 * The revocations recorded in the state dir (none when the file is absent). Throws STATE_INVALID
 * naming the file when it is corrupt or writable by others (whoever can write it can un-revoke).
 */
export async function readRevocations(stateDir: string): Promise<Revocations> {
  const file = join(stateDir, REVOCATIONS_FILE);
  const st = await statOrUndefined(file);
  if (!st) return new Map();
  if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
    throw stateError(file, `is writable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); anyone who writes it can lift a revocation: run \`chmod 600 ${file}\``);
  }
  const text = await io(file, 'read', () => readFile(file, 'utf8'));
  const fix = 'fix it (format: {"revoked": {"<name>.<namespace>": "<ISO time>"}}), or restore it from a backup';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw stateError(file, `is not valid JSON (${errorText(err)}); ${fix}`);
  }
  const revoked = (value as { revoked?: unknown } | null)?.revoked;
  if (typeof revoked !== 'object' || revoked === null || Array.isArray(revoked)) throw stateError(file, `has no "revoked" object; ${fix}`);
  const out = new Map<string, number>();
  for (const [node, at] of Object.entries(revoked)) {
    const ms = typeof at === 'string' ? Date.parse(at) : NaN;
    if (Number.isNaN(ms)) throw stateError(file, `revoked["${node}"]: ${JSON.stringify(at)} is not an ISO time; ${fix}`);
    out.set(node, ms);
  }
  return out;
}

/**
 * Records that `nodeId`'s tokens issued up to `now` are revoked; returns the instant recorded.
 * Read-modify-write under a lock file, written to a temp file and renamed: concurrent revokes
 * never lose one another, and a crash leaves the old file or the new one, never half.
 */
export async function revokeTokens(stateDir: string, nodeId: string, now: Date): Promise<number> {
  const file = join(stateDir, REVOCATIONS_FILE);
  return withLock(`${file}.lock`, async () => {
    const current = await readRevocations(stateDir);
    // Never move a revocation back (a clock stepped backwards must not un-revoke tokens).
    const at = Math.max(now.getTime(), current.get(nodeId) ?? 0);
    const revoked = Object.fromEntries([...current, [nodeId, at] as const].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, ms]) => [n, new Date(ms).toISOString()]));
    await io(file, 'write', () => replaceFile(file, `${JSON.stringify({ revoked }, null, 2)}\n`));
    return at;
  });
}

async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw stateError(lock, `could not be created: ${errorText(err)}; check the state dir's ownership and permissions`, err);
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw stateError(lock, 'is held by another `meshplane token revoke`; if none is running, delete the file and retry');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
