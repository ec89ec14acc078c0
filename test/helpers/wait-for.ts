/**
 * Polls until a condition holds, bounded in time, so a broken e2e test fails with a named reason
 * instead of hanging until vitest's own timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Human-readable name of what is awaited; it leads the timeout error. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `fn` until it resolves to something other than `false`, `null` or `undefined` and returns
 * that value. A rejection counts as "not yet" and is kept for the timeout message. Each attempt is
 * raced against the deadline, so an `fn` that never settles cannot hang the caller.
 */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  { what, timeoutMs = 15_000, intervalMs = 200 }: WaitForOptions,
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      const value = await withDeadline(Promise.resolve().then(fn), remaining);
      if (value !== false && value !== null && value !== undefined) {
        return value as Exclude<T, false | null | undefined>;
      }
      last = `attempt ${attempt} returned ${String(value)}`;
    } catch (err) {
      last = `attempt ${attempt} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    const pause = Math.min(intervalMs, deadline - Date.now());
    if (pause > 0) await sleep(pause);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
}

const DEADLINE = Symbol('deadline');

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  const ac = new AbortController();
  const timer = sleep(ms, DEADLINE, { signal: ac.signal }).catch(() => undefined);
  try {
    const winner = await Promise.race([p, timer]);
    if (winner === DEADLINE) throw new Error(`attempt still pending at the deadline`);
    return winner as T;
  } finally {
    ac.abort();
  }
}
