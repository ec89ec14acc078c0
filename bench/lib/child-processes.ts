/**
 * Children of a benchmark (meshplane, the load generator, the peer) die with it: on a normal exit,
 * an uncaught error or Ctrl-C, whatever is still running is killed, so no run leaves 10,000 streams
 * or a control plane behind; temporary directories registered here are removed then too.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const live = new Set<ChildProcess>();
/** Processes started by code we do not own (the peer), known only by pid. */
const livePids = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  hook();
}

/** Like killOnExit, for a process known only by its pid (killed only if it still runs then). */
export function killPidOnExit(pid: number): void {
  livePids.add(pid);
  hook();
}

/** Removes `dir` when the process exits, unless `forget` was called first (it was removed already). */
export function removeOnExit(dir: string): { forget(): void } {
  dirs.add(dir);
  hook();
  return { forget: () => void dirs.delete(dir) };
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const pid of livePids) {
    try {
      process.kill(pid, 0); // still there? (a stopped peer's pid is not reused this quickly, but check)
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of `pid` now (VmRSS of /proc/<pid>/status), in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU seconds (user + system) `pid` has used so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
