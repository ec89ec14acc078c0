/**
 * The state dir as a whole: the mesh root (`ca/`) and the xDS token key (`xds-token.key`) are
 * created together or not at all. Finding one without the other means the directory was damaged
 * or is not the one meant; making the missing half anew would silently split the trust (a new
 * root, or tokens no existing bootstrap carries), so it is an error naming what is missing.
 */
import { join } from 'node:path';
import { MeshplaneError } from '../errors.ts';
import { CA_DIR, loadOrCreateAuthority, type Authority, type AuthorityOptions } from './authority.ts';
import { exists } from './state-files.ts';
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
  const [hasCa, hasKey] = await Promise.all([exists(caPath), exists(keyPath)]);
  if (hasCa !== hasKey) {
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
  const { authority, created } = await loadOrCreateAuthority(stateDir, opts);
  const tokenKey = await loadOrCreateTokenKey(stateDir);
  // A new mesh gets its workload root apart from the xDS root, so rotating it never touches bootstraps.
  if (created) await WorkloadRoots.createInitial(stateDir, opts);
  return { authority, tokenKey, created };
}
