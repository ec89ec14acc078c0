/**
 * Coalesces bursts of triggers (file-watch events, CA rotations) into one rebuild-and-push.
 *
 * Fires `quietMs` after the last trigger, but at most `maxMs` after the first trigger of a burst, so a
 * steady stream of changes cannot starve pushes. `fn` never runs concurrently with itself: a trigger
 * during a run starts a new burst whose run waits for the current one to finish.
 */

export interface DebounceOptions {
  /** Quiet period after the last trigger before `fn` runs. Default 100 ms. */
  quietMs?: number;
  /** Longest delay between the first trigger of a burst and the run. Default 1000 ms. */
  maxMs?: number;
  /** Receives errors thrown by runs started by the timer (flush() rejects with its own run's error). */
  onError?: (err: unknown) => void;
}

export interface Debouncer {
  /** Notes a change; `fn` will run once the burst settles. */
  trigger(): void;
  /** Runs `fn` now if a trigger is pending (after any run in progress); resolves when nothing is pending or running. */
  flush(): Promise<void>;
  /** Drops a pending trigger (a run in progress finishes). */
  cancel(): void;
}

/** Creates a debouncer around `fn`. */
export function createDebouncer(fn: () => void | Promise<void>, opts: DebounceOptions = {}): Debouncer {
  const quietMs = opts.quietMs ?? 100;
  const maxMs = Math.max(opts.maxMs ?? 1000, quietMs);
  const onError = opts.onError ?? ((err: unknown) => console.error('debounced task failed:', err));

  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Time of the first trigger of the current burst; undefined when nothing is pending. */
  let burstStart: number | undefined;
  /** The run in progress, if any. */
  let running: Promise<void> | undefined;
  /** The timer fired during a run: run again as soon as it ends. */
  let dueAfterRun = false;

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const run = (): Promise<void> => {
    clearTimer();
    burstStart = undefined; // triggers from now on belong to the next burst
    dueAfterRun = false;
    // Deferred to a microtask so a synchronous throw still goes through the bookkeeping below.
    const done = Promise.resolve()
      .then(fn)
      .finally(() => {
        running = undefined;
        if (dueAfterRun) void run().catch(onError);
      });
    running = done;
    return done;
  };

  const fire = (): void => {
    timer = undefined;
    if (running) dueAfterRun = true;
    else void run().catch(onError);
  };

  return {
    trigger(): void {
      const now = Date.now();
      burstStart ??= now;
      clearTimer();
      const delay = Math.max(0, Math.min(quietMs, burstStart + maxMs - now));
      timer = setTimeout(fire, delay);
    },

    async flush(): Promise<void> {
      // Wait out the current run; then run once more if anything is pending.
      while (running) {
        await running.catch(() => undefined);
      }
      if (burstStart !== undefined || dueAfterRun) await run();
    },

    cancel(): void {
      clearTimer();
      burstStart = undefined;
      dueAfterRun = false;
    },
  };
}
