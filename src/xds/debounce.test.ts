import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDebouncer } from './debounce.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createDebouncer', () => {
  it('fires once, quietMs after the last trigger', async () => {
    const fn = vi.fn();
    const d = createDebouncer(fn, { quietMs: 100, maxMs: 1000 });
    d.trigger();
    await vi.advanceTimersByTimeAsync(60);
    d.trigger();
    await vi.advanceTimersByTimeAsync(60);
    d.trigger();
    await vi.advanceTimersByTimeAsync(99);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fires at most maxMs after the first trigger of a burst, however long the burst', async () => {
    const fn = vi.fn();
    const d = createDebouncer(fn, { quietMs: 100, maxMs: 300 });
    d.trigger();
    for (let t = 0; t < 290; t += 50) {
      await vi.advanceTimersByTimeAsync(50);
      d.trigger();
    }
    // t = 300: the burst started at 0, so the run is due now although triggers keep coming.
    await vi.advanceTimersByTimeAsync(10);
    expect(fn).toHaveBeenCalledTimes(1);
    // The next burst starts fresh.
    d.trigger();
    await vi.advanceTimersByTimeAsync(100);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('uses quietMs = 100 and maxMs = 1000 by default', async () => {
    const fn = vi.fn();
    const d = createDebouncer(fn);
    d.trigger();
    await vi.advanceTimersByTimeAsync(99);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    for (let t = 0; t < 1000; t += 90) {
      d.trigger();
      await vi.advanceTimersByTimeAsync(90);
    }
    expect(fn).toHaveBeenCalledTimes(2); // capped at 1000 ms into the second burst
  });

  it('never runs fn concurrently: a trigger during a run schedules exactly one more run after it', async () => {
    let active = 0;
    let maxActive = 0;
    const releases: (() => void)[] = [];
    const fn = vi.fn(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => releases.push(r));
      active--;
    });
    const d = createDebouncer(fn, { quietMs: 10, maxMs: 50 });
    d.trigger();
    await vi.advanceTimersByTimeAsync(10);
    expect(fn).toHaveBeenCalledTimes(1);

    // Three triggers while the first run is still going; their timer fires mid-run.
    d.trigger();
    d.trigger();
    await vi.advanceTimersByTimeAsync(5);
    d.trigger();
    await vi.advanceTimersByTimeAsync(100);
    expect(fn).toHaveBeenCalledTimes(1);

    releases.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(2);
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(maxActive).toBe(1);
  });

  it('a run that ends before the next burst settles leaves that burst to its own timer', async () => {
    let release: () => void = () => undefined;
    const fn = vi.fn(() => new Promise<void>((r) => (release = r)));
    const d = createDebouncer(fn, { quietMs: 100, maxMs: 1000 });
    d.trigger();
    await vi.advanceTimersByTimeAsync(100);
    d.trigger(); // during the run
    release();
    await vi.advanceTimersByTimeAsync(50);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('flush() runs a pending trigger now and resolves when it is done', async () => {
    const fn = vi.fn(async () => undefined);
    const d = createDebouncer(fn, { quietMs: 100, maxMs: 1000 });
    d.trigger();
    await d.flush();
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(1); // the timer was consumed
    await d.flush();
    expect(fn).toHaveBeenCalledTimes(1); // nothing pending: no run
  });

  it('flush() waits for a run in progress, then runs once more if triggered meanwhile', async () => {
    let release: () => void = () => undefined;
    const fn = vi.fn(() => new Promise<void>((r) => (release = r)));
    const d = createDebouncer(fn, { quietMs: 10, maxMs: 100 });
    d.trigger();
    await vi.advanceTimersByTimeAsync(10);
    d.trigger();
    let flushed = false;
    const f = d.flush().then(() => (flushed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(flushed).toBe(false);
    release();
    await f;
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('cancel() drops a pending trigger', async () => {
    const fn = vi.fn();
    const d = createDebouncer(fn, { quietMs: 100, maxMs: 1000 });
    d.trigger();
    d.cancel();
    await vi.advanceTimersByTimeAsync(2000);
    expect(fn).not.toHaveBeenCalled();
    await d.flush();
    expect(fn).not.toHaveBeenCalled();
  });

  it('reports errors of timer runs to onError and keeps working; flush() rejects with its own', async () => {
    const onError = vi.fn();
    let fail = true;
    const fn = vi.fn(() => {
      if (fail) throw new Error('boom');
    });
    const d = createDebouncer(fn, { quietMs: 10, maxMs: 100, onError });
    d.trigger();
    await vi.advanceTimersByTimeAsync(10);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'boom' }));
    d.trigger();
    await expect(d.flush()).rejects.toThrow('boom');
    fail = false;
    d.trigger();
    await vi.advanceTimersByTimeAsync(10);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(onError).toHaveBeenCalledTimes(1);
  });
});
