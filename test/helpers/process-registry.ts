/**
 * Every child the helpers spawn is tracked here, so none outlives the test process: on normal exit
 * and on SIGINT/SIGTERM/SIGHUP (vitest stopping a worker) they are SIGKILLed synchronously.
 */
import type { ChildProcess } from 'node:child_process';

/** Child -> synchronous cleanup (e.g. removing its temp dir) run after the safety-net kill. */
const live = new Map<ChildProcess, (() => void) | undefined>();
let installed = false;

export function trackChild(child: ChildProcess, cleanupSync?: () => void): void {
  installHandlers();
  live.set(child, cleanupSync);
  child.once('exit', () => live.delete(child));
}

/** Synchronous last resort; graceful stops go through each helper's own `stop()`. */
export function killTrackedSync(): void {
  for (const [child, cleanupSync] of live) {
    try {
      child.kill('SIGKILL');
      cleanupSync?.();
    } catch {
      // already gone, or nothing left to clean
    }
  }
  live.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killTrackedSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killTrackedSync();
      process.removeListener(signal, onSignal);
      // Our listener suppressed the default action; restore it unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
