/**
 * Fault injection into node:fs/promises, for crash and full-disk tests of the state dir. Counts
 * the mutating calls on paths under `dir` and, at the `at`-th (1-based), injects `kind`:
 *   kill    a crash: SIGKILL before the call runs; a write first writes half its data
 *   hang    the same crash in process: the call never settles, so no later code (not even a
 *           `finally`) runs, and the disk holds exactly what a crash would leave
 *   enospc  a full disk: this call and every later one throws ENOSPC, as the kernel would
 * `at: 0` only counts (`calls` lists `<call> <path>`). Importing it patches the module once;
 * `syncBuiltinESMExports()` carries the patch to ES-module importers. As a child preload
 * (`node --import tsx/esm --import this-file`), FAULT_DIR / FAULT_AT / FAULT_KIND configure it.
 */
import fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

export interface FaultPlan {
  dir: string;
  at: number;
  kind: 'kill' | 'hang' | 'enospc';
}

let plan: FaultPlan | undefined;
export const fsFaults = { calls: [] as string[], hung: false };

/** Arms (or, with undefined, disarms) injection and resets the counters. */
export function configureFaults(next: FaultPlan | undefined): void {
  // Handles a "crashed" call chain left open are closed, as the kernel would at exit.
  for (const fh of opened) void fh.close().catch(() => undefined);
  opened.clear();
  plan = next;
  fsFaults.calls = [];
  fsFaults.hung = false;
}

const pathOf = (p: unknown) => (p instanceof URL ? p.pathname : String(p));
const under = (p: unknown) => plan !== undefined && (pathOf(p) === plan.dir || pathOf(p).startsWith(`${plan.dir}/`));
const never = () => new Promise<never>(() => undefined);

/** Counts one call: 'run' it, 'half' (write half, then stop), 'stop' before it, or throw ENOSPC. */
function step(call: string, path: string, isWrite: boolean): 'run' | 'half' | 'stop' {
  fsFaults.calls.push(`${call} ${path}`);
  const n = fsFaults.calls.length;
  if (!plan || plan.at === 0) return 'run';
  if (plan.kind === 'enospc' && n >= plan.at) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, ${call} '${path}'`), { code: 'ENOSPC', errno: -28, syscall: call, path });
  }
  if (n !== plan.at || plan.kind === 'enospc') return 'run';
  return isWrite ? 'half' : 'stop';
}

/** The crash itself: the process dies, or (in process) this call chain never goes on. */
function stop(): Promise<never> {
  if (plan?.kind === 'kill') {
    process.kill(process.pid, 'SIGKILL');
    for (;;); // SIGKILL to oneself lands before kill() returns; never go on regardless
  }
  fsFaults.hung = true;
  return never();
}

type AnyFn = (...args: unknown[]) => Promise<unknown>;
const api = fsp as unknown as Record<string, AnyFn>;
const half = (data: unknown) => (typeof data === 'string' || Buffer.isBuffer(data) ? data.slice(0, data.length >> 1) : data);

function wrap(name: string, isWrite = false): void {
  const original = api[name]!;
  api[name] = async function (this: unknown, path: unknown, ...rest: unknown[]) {
    if (!under(path)) return original.call(this, path, ...rest);
    const action = step(name, pathOf(path), isWrite);
    if (action === 'stop') return stop();
    if (action === 'half') return original.call(this, path, half(rest[0]), rest[1]).then(stop);
    return original.call(this, path, ...rest);
  };
}
for (const name of ['mkdir', 'mkdtemp', 'rename', 'link', 'unlink', 'rm', 'rmdir', 'copyFile', 'symlink', 'chmod']) wrap(name);
wrap('writeFile', true);
wrap('appendFile', true);

// Handles opened for writing under `dir`: their writes and syncs count too.
const handles = new WeakMap<object, string>();
const opened = new Set<FileHandle>();
const originalOpen = api.open!;
api.open = async function (this: unknown, path: unknown, flags?: unknown, ...rest: unknown[]) {
  const writing = under(path) && typeof flags === 'string' && /[wax+]/.test(flags);
  if (writing && step('open', pathOf(path), false) === 'stop') return stop();
  const fh = (await originalOpen.call(this, path, flags, ...rest)) as FileHandle;
  if (writing) handles.set(fh, pathOf(path)), opened.add(fh);
  return fh;
};
const probe = await fsp.open(process.execPath, 'r');
const handleProto = Object.getPrototypeOf(probe) as Record<string, AnyFn>;
await probe.close();
for (const name of ['writeFile', 'write', 'sync', 'datasync']) {
  const original = handleProto[name]!;
  handleProto[name] = async function (this: object, ...args: unknown[]) {
    const path = handles.get(this);
    if (path === undefined || !plan) return original.apply(this, args);
    const action = step(`handle.${name}`, path, name.startsWith('write'));
    if (action === 'stop') return stop();
    if (action === 'half') return original.call(this, half(args[0])).then(stop);
    return original.apply(this, args);
  };
}
syncBuiltinESMExports();

if (process.env.FAULT_DIR) {
  configureFaults({ dir: process.env.FAULT_DIR, at: Number(process.env.FAULT_AT ?? 0), kind: (process.env.FAULT_KIND ?? 'kill') as FaultPlan['kind'] });
}
