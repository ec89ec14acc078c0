/**
 * A certificate storm: `n` workload certificates requested at once (a cold start, a root rotation)
 * and what the main event loop — the one that must keep pushing xDS updates — suffers meanwhile.
 * Shared by bench/cert-storm.ts and the `ca` scenario (bench/scenarios/ca.ts).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Authority } from '../../src/ca/authority.ts';
import type { CertIssuer } from '../../src/ca/issuer-pool.ts';
import type { KeyAlgorithm } from '../../src/model/types.ts';

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
export const mb = (bytes: number) => round(bytes / 2 ** 20);

export interface LoopFigures {
  /** monitorEventLoopDelay({resolution: 1}). */
  eventLoopDelayMs: { max: number; p99: number; mean: number };
  /** Worst lateness of a 10 ms setInterval on the main thread: what an xDS push would wait. */
  interval10msWorstLatenessMs: number;
}

export interface Storm {
  issuer: string;
  leafKey: KeyAlgorithm;
  certificates: number;
  wallMs: number;
  certsPerSecond: number;
  perCertMs: number;
  /** The caller's synchronous loop of issue() calls (it stalls the loop itself; included in `whole`). */
  enqueueMs: number;
  /** From just before the issue() loop to the last certificate. */
  whole: LoopFigures;
  /**
   * From the first timer turn after the issue() loop to the last certificate: what issuance itself
   * costs the loop. null when everything was issued before that turn (the inline issuer: the
   * issuances run as microtasks right behind the loop, one uninterrupted block).
   */
  afterEnqueue: LoopFigures | null;
  /** Share of the storm the main thread spent running JavaScript (performance.eventLoopUtilization). */
  mainThreadUtilization: number;
  rssMaxMB: number;
}

const ms = (ns: number) => round(ns / 1e6);

export interface StormOptions {
  /** Called just before the first issue() call: start what runs alongside the storm (a push probe, say). */
  onStart?: () => void;
  /** Quiet: no summary line on stderr. */
  quiet?: boolean;
}

/**
 * `n` certificates requested all at once from `issuer`, with the main event loop watched meanwhile
 * (monitorEventLoopDelay and a 10 ms interval's lateness), from just before the issue() loop to the last certificate.
 */
export async function storm(name: string, issuer: CertIssuer, authority: Authority, leafKey: KeyAlgorithm, n: number, opts: StormOptions = {}): Promise<Storm> {
  const ids = Array.from({ length: n }, (_, i) => `spiffe://cluster.local/ns/ns-${i % 10}/sa/sa-${i}`);
  global.gc?.();
  let rssMax = process.memoryUsage.rss();
  const worst = { whole: 0, afterEnqueue: 0 };
  let last = performance.now();
  const ticker = setInterval(() => {
    const t = performance.now();
    worst.whole = Math.max(worst.whole, t - last - 10);
    worst.afterEnqueue = Math.max(worst.afterEnqueue, t - last - 10);
    last = t;
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }, 10);
  const whole = monitorEventLoopDelay({ resolution: 1 });
  const afterEnqueue = monitorEventLoopDelay({ resolution: 1 });
  // Let the ticker and the monitor settle into their rhythm before the storm starts: a monitor's
  // first timer turn after enable() (or reset()) records nothing, so a block right after it
  // would go unseen. The quiet samples of the wait do not move the max.
  whole.enable();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const elu0 = performance.eventLoopUtilization();
  opts.onStart?.();
  const t0 = performance.now();
  const all = ids.map((spiffeId) => issuer.issue(authority, { spiffeId, ttlSeconds: 86_400, keyAlgorithm: leafKey }));
  const enqueueMs = performance.now() - t0;
  let finished = false;
  const done = Promise.all(all).finally(() => (finished = true));
  // The timers the loop above held up fire now; what comes after is issuance alone.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const finishedWithEnqueue = finished;
  worst.afterEnqueue = 0;
  afterEnqueue.enable(); // its first, unrecorded turn is this quiet one
  const certs = await done;
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  // One more timer turn, so the monitors record a block that ended the storm.
  await new Promise((resolve) => setTimeout(resolve, 2));
  whole.disable();
  afterEnqueue.disable();
  clearInterval(ticker);
  if (new Set(certs.map((c) => c.serialNumber)).size !== n) throw new Error('duplicate serial numbers');
  const figures = (h: typeof whole, lateness: number): LoopFigures => ({
    eventLoopDelayMs: { max: ms(h.max), p99: ms(h.percentile(99)), mean: ms(h.mean) },
    interval10msWorstLatenessMs: round(lateness),
  });
  const result: Storm = {
    issuer: name,
    leafKey,
    certificates: n,
    wallMs: Math.round(wallMs),
    certsPerSecond: Math.round((n / wallMs) * 1000),
    perCertMs: round(wallMs / n, 3),
    enqueueMs: round(enqueueMs),
    whole: figures(whole, worst.whole),
    afterEnqueue: finishedWithEnqueue ? null : figures(afterEnqueue, worst.afterEnqueue),
    mainThreadUtilization: round(elu.utilization, 3),
    rssMaxMB: mb(rssMax),
  };
  const w = result.whole;
  const a = result.afterEnqueue;
  if (!opts.quiet) console.error(
    `${name} ${leafKey} x${n}: ${result.certsPerSecond}/s; enqueue ${result.enqueueMs} ms; loop delay max ${w.eventLoopDelayMs.max} ms (after enqueue ${a?.eventLoopDelayMs.max ?? '-'}), ` +
      `p99 ${w.eventLoopDelayMs.p99} ms; 10 ms timer worst +${w.interval10msWorstLatenessMs} ms (after enqueue +${a?.interval10msWorstLatenessMs ?? '-'})`,
  );
  return result;
}

