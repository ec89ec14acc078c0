/**
 * Small file helpers for the CA's state dir: create-once 0600 files, atomic replacement, fsync,
 * and STATE_INVALID errors that name the file. Shared by authority.ts (root CA), tokens.ts (xDS
 * token key), token-revocations.ts and workload-roots.ts.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MeshplaneError } from '../errors.ts';

/** Creates `path` with mode 0600 (failing if it exists) and flushes it to disk. */
export async function writeNewFile(path: string, text: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` with `text` (mode 0600) so that a crash leaves the old content or the new,
 * never half: a flushed temp file beside it, renamed over it, then the directory flushed (best
 * effort: the rename is done). On failure (a full disk) no temp file is left behind.
 */
export async function replaceFile(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await writeNewFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncPath(dirname(path)).catch(() => undefined);
}

/** fsync a file or directory (a directory sync makes a rename in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Whether `path` exists (symlinks not followed); any error but ENOENT is STATE_INVALID. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw stateError(path, `cannot be inspected: ${errorText(err)}`, err);
  }
}

/** stat, or undefined when the path does not exist. */
export async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw stateError(path, `cannot be inspected: ${errorText(err)}`, err);
  }
}

/**
 * Refuses a directory of the state dir that group or others can write: whoever can write there can
 * replace a root key or the token key with their own (rename over it), whatever the files' modes.
 * Readable is fine (file names are no secret; the key files themselves must be 0600).
 */
export async function checkDirNotWritableByOthers(dir: string): Promise<void> {
  const st = await statOrUndefined(dir);
  if (!st || process.platform === 'win32' || (st.mode & 0o022) === 0) return;
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  throw stateError(dir, `is writable by group or others (mode ${mode}); anyone who can write here can swap the CA key or the xDS token key for their own: run \`chmod go-w ${dir}\` (meshplane creates it 0700)`);
}

/** Runs an fs operation, turning an I/O failure into STATE_INVALID naming the path. */
export async function io<T>(path: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof MeshplaneError) throw err;
    throw new MeshplaneError('STATE_INVALID', `could not ${what} ${path}: ${errorText(err)}; check the state dir's ownership, permissions and free space`, [], { cause: err });
  }
}

/** STATE_INVALID with the file first, as `file: what is wrong; what to do`. */
export function stateError(path: string, message: string, cause?: unknown): MeshplaneError {
  return new MeshplaneError('STATE_INVALID', `${path} ${message}`, [], cause === undefined ? undefined : { cause });
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `mkdir -p` with mode 0700. Node's recursive mkdir reports ENOENT when the parent exists but
 * cannot take the new directory (a read-only file system): one plain mkdir then gives the real
 * reason (EROFS, EACCES) for the error message.
 */
export async function makeStateDir(dir: string, mode = 0o700): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    if (!isCode(err, 'ENOENT') || !(await statOrUndefined(dirname(dir)))) throw err;
    await mkdir(dir, { mode });
  }
}
