/**
 * Time as the control plane sees it: certificate schedules and root-rotation checks read the
 * clock and set timers through this, so tests drive them with a fake clock instead of waiting.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`; the timer never keeps the process alive. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** Node's timers cap a delay at 2^31-1 ms (~24.8 days); longer ones would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_DELAY_MS));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
