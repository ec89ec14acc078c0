/**
 * Which roots sign and which are trusted for workload certificates, and the root-rotation phase,
 * kept in the state dir so a restart resumes a rotation where it was:
 *
 *   ca/                          the state dir's own root: the xDS channel's (bootstraps pin it)
 *   ca/workload-roots.json       {phase, signer, trusted, next, reissue}
 *   ca/workload-roots/<id>/      the workload roots: the first one made with the state dir, the
 *                                others by `meshplane ca rotate-root`
 *
 * Keeping the xDS root apart means a rotation replaces everything a workload trusts or presents,
 * while bootstraps keep working. A state dir from before this split has no state file: its own
 * root is then also the workload root (id `control`) until the first rotation moves off it.
 *
 * A rotation moves through three phases, each entered only when the previous one reached every
 * connected proxy (the control plane decides that from ACKs and calls advance()):
 *
 *   trust-both  the new root joins the trust bundle; leaves still come from the old root
 *   issue-next  leaves come from the new root (as they rotate, or all at once with reissue)
 *   stable      the old root leaves the bundle
 *
 * Trust before use, use before untrust: no proxy ever meets a certificate its peer cannot verify.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshplaneError } from '../errors.ts';
import { CA_DIR, loadAuthority, loadOrCreateRootDir, type Authority, type AuthorityOptions } from './authority.ts';
import { errorText, exists, replaceFile } from './state-files.ts';

export type RotationPhase = 'stable' | 'trust-both' | 'issue-next';

/** `control` is the state dir's own root (ca/); anything else is a directory under ca/workload-roots/. */
type RootId = string;
const CONTROL: RootId = 'control';
export const ROOTS_FILE = 'workload-roots.json';
export const ROOTS_DIR = 'workload-roots';

interface RootsState {
  phase: RotationPhase;
  signer: RootId;
  trusted: RootId[];
  /** The incoming root during a rotation. */
  next?: RootId;
  reissue?: boolean;
  startedAt?: string;
  phaseSince?: string;
}

const STABLE: RootsState = { phase: 'stable', signer: CONTROL, trusted: [CONTROL] };

export interface RootInfo {
  id: RootId;
  fingerprint: string;
  notAfter: string;
  signs: boolean;
}

export class WorkloadRoots {
  private constructor(
    private readonly stateDir: string,
    private readonly control: Authority,
    private state: RootsState,
    private roots: Map<RootId, Authority>,
  ) {}

  /** Reads the rotation state (none = stable on the state dir's root) and every root it names. */
  static async open(stateDir: string, control: Authority, now = new Date()): Promise<WorkloadRoots> {
    const state = await readState(stateDir);
    return new WorkloadRoots(stateDir, control, state, await loadRoots(stateDir, control, state, now));
  }

  /**
   * The first workload root of a new state dir, stable, written into `caDir`: the temp directory
   * that becomes ca/, so a new state dir never has ca/ without its workload root.
   */
  static async createInitial(caDir: string, opts: AuthorityOptions): Promise<void> {
    const now = opts.now ?? new Date();
    const id = rootId(now);
    await loadOrCreateRootDir(join(caDir, ROOTS_DIR, id), opts);
    await writeState(caDir, { phase: 'stable', signer: id, trusted: [id] });
  }

  /**
   * Starts a rotation (the `meshplane ca rotate-root` command; no server needed): a new root in
   * ca/workload-roots/, then the state file naming it, in phase trust-both. A running control
   * plane notices the file and carries the rotation on.
   */
  static async startRotation(stateDir: string, opts: AuthorityOptions & { reissue: boolean }): Promise<{ id: RootId; authority: Authority }> {
    const state = await readState(stateDir);
    if (state.phase !== 'stable') {
      throw new MeshplaneError('USAGE', `a root rotation is already in progress (phase ${state.phase}, started ${state.startedAt ?? 'earlier'}); wait for it to finish: meshplane ca status`);
    }
    const now = opts.now ?? new Date();
    const id = rootId(now);
    const { authority } = await loadOrCreateRootDir(join(stateDir, CA_DIR, ROOTS_DIR, id), opts);
    await writeState(join(stateDir, CA_DIR), {
      phase: 'trust-both',
      signer: state.signer,
      trusted: [...state.trusted, id],
      next: id,
      reissue: opts.reissue,
      startedAt: now.toISOString(),
      phaseSince: now.toISOString(),
    });
    return { id, authority };
  }

  get phase(): RotationPhase {
    return this.state.phase;
  }

  get reissue(): boolean {
    return this.state.reissue === true;
  }

  get startedAt(): string | undefined {
    return this.state.startedAt;
  }

  /** The CA that signs workload certificates now. */
  signer(): Authority {
    return this.roots.get(this.state.signer)!;
  }

  /** The root that takes over in this rotation. */
  next(): Authority | undefined {
    return this.state.next === undefined ? undefined : this.roots.get(this.state.next);
  }

  /** Every trusted root, signer first: the ROOTCA secret. */
  get trustBundlePem(): string {
    const ids = [this.state.signer, ...this.state.trusted.filter((id) => id !== this.state.signer)];
    return ids.map((id) => this.roots.get(id)!.caCertPem).join('');
  }

  trusts(rootFingerprint: string): boolean {
    return this.state.trusted.some((id) => this.roots.get(id)!.rootFingerprint === rootFingerprint);
  }

  /** The trusted roots, for `meshplane ca status` and /debug/ca. */
  info(): RootInfo[] {
    return this.state.trusted.map((id) => {
      const a = this.roots.get(id)!;
      return { id, fingerprint: a.rootFingerprint, notAfter: a.caCert.notAfter.toISOString(), signs: id === this.state.signer };
    });
  }

  /** trust-both -> issue-next -> stable, persisted before it takes effect. */
  async advance(now = new Date()): Promise<RotationPhase> {
    const { phase, next } = this.state;
    if (phase === 'stable' || next === undefined) return phase;
    const since = now.toISOString();
    const updated: RootsState =
      phase === 'trust-both'
        ? { ...this.state, phase: 'issue-next', signer: next, phaseSince: since }
        : { phase: 'stable', signer: next, trusted: [next], phaseSince: since };
    await writeState(join(this.stateDir, CA_DIR), updated);
    this.state = updated;
    return updated.phase;
  }

  /** Re-reads the state file (a rotation started by the CLI); true when something changed. */
  async reload(now = new Date()): Promise<boolean> {
    const state = await readState(this.stateDir);
    if (JSON.stringify(state) === JSON.stringify(this.state)) return false;
    this.roots = await loadRoots(this.stateDir, this.control, state, now);
    this.state = state;
    return true;
  }
}

/** `root-20261129T104500Z-a1b2c3`: sortable, and unique even within a second. */
function rootId(now: Date): RootId {
  return `root-${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}Z-${randomBytes(3).toString('hex')}`;
}

async function loadRoots(stateDir: string, control: Authority, state: RootsState, now: Date): Promise<Map<RootId, Authority>> {
  const roots = new Map<RootId, Authority>([[CONTROL, control]]);
  for (const id of new Set([state.signer, ...state.trusted, ...(state.next ? [state.next] : [])])) {
    if (id === CONTROL) continue;
    const dir = join(stateDir, CA_DIR, ROOTS_DIR, id);
    if (!(await exists(dir))) {
      throw new MeshplaneError('STATE_INVALID', `${join(stateDir, CA_DIR, ROOTS_FILE)} names root ${id}, but ${dir} is missing: restore it from a backup`);
    }
    // Loaded and checked like the state dir's own root; never created here.
    roots.set(id, await loadAuthority(dir, now));
  }
  return roots;
}

async function readState(stateDir: string): Promise<RootsState> {
  const file = join(stateDir, CA_DIR, ROOTS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return STABLE;
    throw new MeshplaneError('STATE_INVALID', `${file}: cannot read it (${errorText(err)}); check its permissions`, [], { cause: err });
  }
  const bad = (why: string) => new MeshplaneError('STATE_INVALID', `${file}: ${why}; restore it from a backup (it records the root rotation in progress)`);
  let value: Partial<RootsState>;
  try {
    value = JSON.parse(text) as Partial<RootsState>;
  } catch (err) {
    throw bad(`not valid JSON (${errorText(err)})`);
  }
  const isId = (x: unknown): x is string => typeof x === 'string' && /^[A-Za-z0-9._-]+$/.test(x) && x !== '.' && x !== '..';
  if (!['stable', 'trust-both', 'issue-next'].includes(value.phase as string)) throw bad(`unknown phase ${JSON.stringify(value.phase)}`);
  if (!isId(value.signer) || !Array.isArray(value.trusted) || !value.trusted.every(isId)) throw bad('signer and trusted must name roots');
  if (!value.trusted.includes(value.signer)) throw bad(`the signer ${value.signer} is not among the trusted roots`);
  if (value.phase !== 'stable' && (!isId(value.next) || !value.trusted.includes(value.next))) throw bad('a rotation needs a trusted next root');
  return value as RootsState;
}

/** Replaced atomically (state-files.ts replaceFile): a crash leaves the old state or the new, never half. */
async function writeState(caDir: string, state: RootsState): Promise<void> {
  const file = join(caDir, ROOTS_FILE);
  try {
    await replaceFile(file, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    throw new MeshplaneError('STATE_INVALID', `cannot write ${file}: ${errorText(err)}; check that the state dir is writable`, [], { cause: err });
  }
}
