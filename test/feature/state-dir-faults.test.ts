import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { MeshplaneError } from '../../src/errors.ts';
import { WorkloadRoots } from '../../src/ca/workload-roots.ts';
import { MESHPLANE } from '../e2e/local-mesh.ts';
import { configureFaults, fsFaults } from '../helpers/fs-faults.ts';
import { trackChild } from '../helpers/process-registry.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * A state dir that cannot be created or finished: no permission; a full disk (a real tmpfs in a
 * private mount namespace, and ENOSPC injected from each fs call of the creation on); a crash at
 * each of those calls (in process: the call never returns, so not even a `finally` runs; and a real
 * SIGKILL of `meshplane serve`). Each is a clear startup error naming the path, or a crash; the
 * next start must either finish the same CA or create one from nothing, never another CA.
 */
const OPTS = { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' } as const;
const AS_ROOT = process.getuid?.() === 0;
const base = mkdtempSync(join(tmpdir(), 'meshplane-state-faults-'));
chmodSync(base, 0o755);
const configDir = join(base, 'config');
mkdirSync(configDir);
writeFileSync(join(configDir, 'mesh.yaml'), 'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\nspec: {trustDomain: cluster.local}\n');
const tally: Record<string, number> = {};
const count = (kind: string) => (tally[kind] = (tally[kind] ?? 0) + 1);
afterAll(() => {
  console.log(`state dir faults injected: ${JSON.stringify(tally)}`);
  rmSync(base, { recursive: true, force: true });
});

interface Run { code: number | null; signal: NodeJS.Signals | null; output: string; served: boolean }

/** `meshplane serve` (through `wrapper` if given) until it exits; SIGTERM once it serves. */
function serve(stateDir: string, opts: { env?: Record<string, string>; nodeArgs?: string[]; uid?: number; wrapper?: string[] } = {}): Promise<Run> {
  const nodeArgs = [...(opts.nodeArgs ?? []), MESHPLANE, 'serve', '--config', configDir, '--state-dir', stateDir];
  const args = [...nodeArgs, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--csds-address', '127.0.0.1:0'];
  const [command, ...rest] = opts.wrapper ? [...opts.wrapper, process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(command!, rest, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid }) });
  trackChild(child);
  let output = '';
  let served = false;
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const pid = /serve pid (\d+)/.exec(output)?.[1]; // under the namespace wrapper: signal node, not sh
    if (!served && output.includes('meshplane serving')) (served = true), process.kill(pid ? Number(pid) : child.pid!, 'SIGTERM');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000); // a hang fails the test below
  return new Promise((resolve) => child.once('close', (code, signal) => (clearTimeout(deadline), resolve({ code, signal, output, served }))));
}

const fingerprint = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
const readIf = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/**
 * The next start (the code `serve` runs) on what a failed one left: it must succeed with the roots
 * already on disk, if any, and leave a complete state dir that `bootstrap` agrees with.
 */
async function laterStart(stateDir: string): Promise<'created' | 'finished' | 'loaded'> {
  const before = { root: readIf(join(stateDir, 'ca/root-cert.pem')), roots: readIf(join(stateDir, 'ca/workload-roots.json')), key: readIf(join(stateDir, 'xds-token.key')) };
  const marker = existsSync(join(stateDir, 'ca/creating'));
  const opened = await openStateDir(stateDir, { ...OPTS, create: true });
  if (before.root) expect(opened.authority.rootFingerprint).toBe(fingerprint(before.root));
  if (before.roots) expect(readFileSync(join(stateDir, 'ca/workload-roots.json'), 'utf8')).toBe(before.roots);
  if (before.key) expect(readFileSync(join(stateDir, 'xds-token.key'), 'utf8')).toBe(before.key);
  expect(existsSync(join(stateDir, 'ca/creating'))).toBe(false);
  const workload = await WorkloadRoots.open(stateDir, opened.authority);
  expect(workload.signer().rootFingerprint).not.toBe(opened.authority.rootFingerprint); // its own workload root
  const again = await openStateDir(stateDir, { ...OPTS, create: false }); // what `meshplane bootstrap` sees
  expect([again.authority.rootFingerprint, again.tokenKey.toString('hex')]).toEqual([opened.authority.rootFingerprint, opened.tokenKey.toString('hex')]);
  return !before.root ? 'created' : marker ? 'finished' : 'loaded';
}

/** A startup error: exit 1, one `meshplane serve:` line naming `path`, no stack trace. */
function expectStartupError(run: Run, path: string, cause: RegExp) {
  expect({ served: run.served, code: run.code }).toEqual({ served: false, code: 1 });
  const line = run.output.split('\n').find((l) => l.startsWith('meshplane serve: ')) ?? run.output;
  expect(line).toContain(path);
  expect(line).toMatch(cause);
  expect(run.output).not.toMatch(/^\s+at /m);
}

/** Runs `fn` over `items`, `width` at a time (children mostly wait on I/O and each other). */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) { const i = next++; results[i] = await fn(items[i]!); } }));
  return results;
}

/** The counted fs calls (`<call> <path>`) of a clean creation, in process. */
let stepsOnce: Promise<string[]> | undefined;
const creationSteps = () => (stepsOnce ??= countSteps());
async function countSteps(): Promise<string[]> {
  const stateDir = join(base, 'count', 'state');
  configureFaults({ dir: stateDir, at: 0, kind: 'hang' });
  await openStateDir(stateDir, { ...OPTS, create: true });
  const calls = fsFaults.calls;
  configureFaults(undefined);
  return calls;
}

describe('an unwritable state dir is a startup error naming it', () => {
  // root ignores permission bits, so as root the directory is made read-only for real: a
  // read-only bind mount of it in a private mount namespace (EROFS). (Running the child as
  // `nobody` instead fails when the checkout itself is private, as in a fresh CI clone.)
  const readOnly = (dir: string) =>
    AS_ROOT ? { wrapper: ['unshare', '-m', 'sh', '-c', 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"', 'sh', dir] } : {};
  const denied = /EACCES|EROFS|permission denied|read-only file system/i;
  it('(a) its parent is read-only: nothing can be created', async () => {
    const parent = join(base, 'ro-parent');
    mkdirSync(parent, { mode: 0o555 });
    const stateDir = join(parent, 'state');
    count('unwritable parent');
    expectStartupError(await serve(stateDir, readOnly(parent)), stateDir, denied);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('(b) it exists, empty and read-only: left empty', async () => {
    const stateDir = join(base, 'ro-state');
    mkdirSync(stateDir, { mode: 0o555 });
    count('read-only empty state dir');
    expectStartupError(await serve(stateDir, readOnly(stateDir)), stateDir, denied);
    expect(readdirSync(stateDir)).toEqual([]);
    chmodSync(stateDir, 0o755);
    expect(await laterStart(stateDir)).toBe('created');
  });
});

describe('a crash or a full disk at each step of the first start (in process, every step)', () => {
  it('(d) a crash at every step (writes cut in half): the next start finishes the same CA or creates one from nothing', async () => {
    const steps = await creationSteps();
    expect(steps.length).toBeGreaterThan(20);
    const outcomes: Record<string, number> = {};
    for (let at = 1; at <= steps.length; at++) {
      const stateDir = join(base, `crash-${at}`, 'state');
      configureFaults({ dir: stateDir, at, kind: 'hang' });
      void openStateDir(stateDir, { ...OPTS, create: true }); // never settles: it "died" at step `at`
      await waitFor(() => fsFaults.hung, { what: `the crash at step ${at} (${steps[at - 1]})` });
      configureFaults(undefined);
      count('crash during CA creation');
      const outcome = await laterStart(stateDir);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`after a crash at each of ${steps.length} steps, the next start: ${JSON.stringify(outcomes)}`);
    expect(outcomes.finished).toBeGreaterThan(0); // ca/ was there without the key: finished, same roots
  });

  it('(c) ENOSPC from every step on: a STATE_INVALID naming the state dir; the next start (space freed) finishes or creates cleanly', async () => {
    const steps = await creationSteps();
    for (let at = 1; at <= steps.length; at++) {
      const stateDir = join(base, `enospc-${at}`, 'state');
      configureFaults({ dir: stateDir, at, kind: 'enospc' });
      const err = await openStateDir(stateDir, { ...OPTS, create: true }).catch((e: unknown) => e);
      configureFaults(undefined);
      count('ENOSPC from a creation step on');
      expect({ at, error: err instanceof MeshplaneError && err.code }).toEqual({ at, error: 'STATE_INVALID' });
      expect((err as Error).message).toContain(stateDir);
      expect((err as Error).message).toMatch(/ENOSPC: no space left on device/);
      await laterStart(stateDir);
    }
  });
});

describe('`meshplane serve` killed, or out of disk, in the middle of creating the CA', () => {
  const FAULTS = join(import.meta.dirname, '../helpers/fs-faults.ts');
  /** A first start with a fault at the token key's `link` (ca/ already renamed into place), then a clean one. */
  async function faultThenServe(kind: 'kill' | 'enospc', step: (steps: string[]) => number) {
    const stateDir = join(base, `serve-${kind}`, 'state');
    const at = step(await creationSteps()) + 1;
    const first = await serve(stateDir, { env: { FAULT_DIR: stateDir, FAULT_AT: String(at), FAULT_KIND: kind }, nodeArgs: ['--import', 'tsx/esm', '--import', FAULTS] });
    count(kind === 'kill' ? 'SIGKILL of serve during CA creation' : 'ENOSPC in serve during CA creation');
    const root = readFileSync(join(stateDir, 'ca/root-cert.pem'), 'utf8');
    const second = await serve(stateDir);
    expect(second.served).toBe(true);
    expect(readFileSync(join(stateDir, 'ca/root-cert.pem'), 'utf8')).toBe(root);
    expect(second.output).toContain(fingerprint(root));
    return first;
  }

  it('SIGKILL between ca/ and the token key: the next `serve` finishes the creation with the same root', async () => {
    const first = await faultThenServe('kill', (steps) => steps.findIndex((c) => c.startsWith('link ')));
    expect(first.signal).toBe('SIGKILL');
  });

  it('ENOSPC writing the token key: exit 1 naming the state dir; once there is space, the same root', async () => {
    const first = await faultThenServe('enospc', (steps) => steps.findIndex((c) => c.includes('.xds-token.key.')));
    expectStartupError(first, join(base, 'serve-enospc', 'state'), /ENOSPC: no space left on device/);
  });

  it('a full disk does not stop a start on a complete state dir: it writes nothing', async () => {
    const stateDir = join(base, 'serve-enospc', 'state');
    const run = await serve(stateDir, { env: { FAULT_DIR: stateDir, FAULT_AT: '1', FAULT_KIND: 'enospc' }, nodeArgs: ['--import', 'tsx/esm', '--import', FAULTS] });
    count('ENOSPC on every write of a later start');
    expect(run.served).toBe(true);
  });
});

describe('(c) a real full disk: a small tmpfs in a private mount namespace', () => {
  // root: a mount namespace; anyone else: a user namespace too, where unprivileged ones are allowed.
  const unshare = ['unshare', AS_ROOT ? '-m' : '-Urm'];
  const usable = spawnSync(unshare[0]!, [...unshare.slice(1), 'sh', '-c', `mount -t tmpfs -o size=4k tmpfs ${JSON.stringify(base)}`]).status === 0;
  // Mount, run serve in the background (its pid printed, to stop it once it serves), copy the tmpfs out.
  const script = 'mount -t tmpfs -o "size=$1,mode=0755" tmpfs "$2" || exit 90; mnt=$2; out=$3; shift 3; "$@" & pid=$!; echo "serve pid $pid"; wait $pid; rc=$?; cp -a "$mnt/." "$out/"; exit $rc';

  it.skipIf(!usable)('every size from 4 KiB up: ENOSPC is exit 1 naming the state dir; what it leaves, a later start finishes cleanly', async () => {
    const sizes = Array.from({ length: 8 }, (_, i) => `${4 * (i + 1)}k`);
    const outcomes = await pool(sizes, 3, async (size) => {
      const [mnt, out] = [join(base, `tmpfs-${size}`, 'mnt'), join(base, `tmpfs-${size}`, 'out')];
      mkdirSync(mnt, { recursive: true });
      mkdirSync(out);
      const stateDir = join(mnt, 'state');
      const run = await serve(stateDir, { wrapper: [...unshare, 'sh', '-c', script, 'sh', size, mnt, out] });
      count('real ENOSPC (tmpfs)');
      if (!run.served) expectStartupError(run, stateDir, /ENOSPC: no space left on device/);
      return `${size}: ${run.served ? 'served' : 'ENOSPC'}, then ${await laterStart(join(out, 'state'))}`;
    });
    console.log(`tmpfs sizes: ${outcomes.join('; ')}`);
    expect(outcomes[0]).toMatch(/ENOSPC/);
    expect(outcomes.at(-1)).toMatch(/served, then loaded/);
  }, 120_000);
});
