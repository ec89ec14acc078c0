/**
 * The state dir as a whole: the mesh root (`ca/`) and the xDS token key (`xds-token.key`) are
 * created together or not at all. Finding one without the other means the directory was damaged
 * or is not the one meant; making the missing half anew would silently split the trust (a new
 * root, or tokens no existing bootstrap carries), so it is an error naming what is missing.
 *
 * Creation is crash-safe: ca/ (xDS root, first workload root, workload-roots.json and the
 * `creating` marker) appears in one rename, then the token key, then the marker goes. A start that
 * was killed or ran out of disk in between leaves ca/ with the marker and no key; no bootstrap can
 * exist yet (it needs the key), so the next start finishes the creation with the same roots.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshplaneError } from '../errors.ts';
import { CA_DIR, loadOrCreateAuthority, type Authority, type AuthorityOptions } from './authority.ts';
import { errorText, exists, fsyncPath, isCode, stateError, writeNewFile } from './state-files.ts';
import { loadOrCreateTokenKey, TOKEN_KEY_FILE } from './tokens.ts';
import { WorkloadRoots } from './workload-roots.ts';

export interface StateDir {
  authority: Authority;
  tokenKey: Buffer;
  /** True when this call created the root and the token key. */
  created: boolean;
}

/**
 * Opens `stateDir`. With `create`, an empty or missing directory gets a new root and token key
 * (`meshplane serve`); without it, a missing one is an error (`meshplane bootstrap` must use the
 * control plane's state dir, and a mistyped path must not mint a second CA).
 */
export async function openStateDir(stateDir: string, opts: AuthorityOptions & { create: boolean }): Promise<StateDir> {
  const caPath = join(stateDir, CA_DIR);
  const keyPath = join(stateDir, TOKEN_KEY_FILE);
  const marker = join(caPath, CREATING_FILE);
  const [hasCa, hasKey, unfinished] = await Promise.all([exists(caPath), exists(keyPath), exists(marker)]);
  if (unfinished && !hasKey && !opts.create) {
    throw new MeshplaneError('STATE_INVALID', `${stateDir} is not fully created yet (${marker} exists): start \`meshplane serve\` with it, which finishes the creation`);
  }
  if (hasCa !== hasKey && !unfinished) {
    const [present, missing] = hasCa ? [caPath, keyPath] : [keyPath, caPath];
    throw new MeshplaneError(
      'STATE_INVALID',
      `${missing} is missing while ${present} exists: the state dir is incomplete. Restore ${missing} from a backup; ` +
        'or, to start a new mesh CA (every proxy then needs a new bootstrap), move the state dir away',
    );
  }
  if (!hasCa && !opts.create) {
    throw new MeshplaneError(
      'STATE_INVALID',
      `${stateDir} holds no mesh CA: pass the --state-dir of the running \`meshplane serve\` (it creates the CA on first start)`,
    );
  }
  const { authority, created } = await loadOrCreateAuthority(stateDir, opts, async (newCaDir) => {
    // A new mesh gets its workload root apart from the xDS root, so rotating it never touches bootstraps.
    await WorkloadRoots.createInitial(newCaDir, opts);
    await writeNewFile(join(newCaDir, CREATING_FILE), 'meshplane serve is creating this state dir; the next start finishes it\n');
  });
  const tokenKey = await loadOrCreateTokenKey(stateDir);
  if (created || unfinished) {
    // The key's link must be on disk before the marker's removal is: else a power cut could leave neither.
    await fsyncPath(stateDir).catch(() => undefined);
    await unlink(marker).catch((err: unknown) => {
      // ENOENT: a concurrent start finished it.
      if (!isCode(err, 'ENOENT')) throw stateError(marker, `could not be removed (${errorText(err)}); check the state dir's permissions`, err);
    });
    await fsyncPath(caPath).catch(() => undefined); // durability only; the state dir is complete either way
  }
  return { authority, tokenKey, created: created || unfinished };
}

/** In ca/ from its creation until the token key exists (see the top of this file). */
export const CREATING_FILE = 'creating';
