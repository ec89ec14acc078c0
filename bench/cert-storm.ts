/**
 * A certificate storm: thousands of workload certificates due at once (a cold start, a root
 * rotation), requested all together, and what the main event loop suffers meanwhile — the loop
 * that must keep pushing xDS updates. Runs the worker pool (the production path) with ECDSA P-256
 * and RSA-2048 leaves, and a shorter inline run on the main thread for comparison. Prints the
 * figures and writes them to bench/results/cert-storm.json.
 *
 *   npm run bench:certs                       # 10,000 ECDSA, 50 RSA, 1,000 inline (--expose-gc: each run starts collected)
 *   npx tsx --expose-gc bench/cert-storm.ts [ecdsa=10000] [rsa=50] [inline=1000]
 *   WORKERS=2 IN_FLIGHT=8 npx tsx bench/cert-storm.ts     # pool settings
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadOrCreateAuthority, type Authority } from '../src/ca/authority.ts';
import { createInlineIssuer, IssuerPool, type CertIssuer } from '../src/ca/issuer-pool.ts';
import type { KeyAlgorithm } from '../src/model/types.ts';

const arg = (i: number, fallback: number) => Number(process.argv[i] ?? fallback);
const [ECDSA_N, RSA_N, INLINE_N] = [arg(2, 10_000), arg(3, 50), arg(4, 1_000)];
const poolOpts = {
  ...(process.env.WORKERS ? { workers: Number(process.env.WORKERS) } : {}),
  ...(process.env.IN_FLIGHT ? { inFlightPerWorker: Number(process.env.IN_FLIGHT) } : {}),
};

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 2 ** 20);

interface LoopFigures {
  /** monitorEventLoopDelay({resolution: 1}). */
  eventLoopDelayMs: { max: number; p99: number; mean: number };
  /** Worst lateness of a 10 ms setInterval on the main thread: what an xDS push would wait. */
  interval10msWorstLatenessMs: number;
}

interface Storm {
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

async function storm(name: string, issuer: CertIssuer, authority: Authority, leafKey: KeyAlgorithm, n: number): Promise<Storm> {
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
  console.error(
    `${name} ${leafKey} x${n}: ${result.certsPerSecond}/s; enqueue ${result.enqueueMs} ms; loop delay max ${w.eventLoopDelayMs.max} ms (after enqueue ${a?.eventLoopDelayMs.max ?? '-'}), ` +
      `p99 ${w.eventLoopDelayMs.p99} ms; 10 ms timer worst +${w.interval10msWorstLatenessMs} ms (after enqueue +${a?.interval10msWorstLatenessMs ?? '-'})`,
  );
  return result;
}

const loadBefore = loadavg()[0]!;
const stateDir = mkdtempSync(join(tmpdir(), 'meshplane-bench-'));
try {
  const { authority } = await loadOrCreateAuthority(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });

  const pool = new IssuerPool(poolOpts);
  let t = performance.now();
  await pool.issue(authority, { spiffeId: 'spiffe://cluster.local/ns/warm/sa/up', ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
  const poolStartMs = Math.round(performance.now() - t);
  const runs: Storm[] = [];
  runs.push(await storm('pool', pool, authority, 'ECDSA_P256', ECDSA_N));
  if (RSA_N > 0) runs.push(await storm('pool', pool, authority, 'RSA_2048', RSA_N));
  await pool.close();

  const inline = createInlineIssuer();
  await inline.issue(authority, { spiffeId: 'spiffe://cluster.local/ns/warm/sa/up', ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
  if (INLINE_N > 0) runs.push(await storm('inline', inline, authority, 'ECDSA_P256', INLINE_N));
  await inline.close();

  const cpu = cpus();
  const figures = {
    date: new Date().toISOString(),
    command: `npx tsx --expose-gc bench/cert-storm.ts ${ECDSA_N} ${RSA_N} ${INLINE_N}`,
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpu.length, availableParallelism: availableParallelism(), cpuModel: cpu[0]?.model ?? 'unknown', loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) } },
    pool: { workers: pool.workers, inFlightPerWorker: pool.inFlightPerWorker, firstCertMs: poolStartMs },
    signer: 'ECDSA_P256 root',
    runs,
  };
  console.log(JSON.stringify(figures, null, 2));
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'cert-storm.json'), `${JSON.stringify(figures, null, 2)}\n`);
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
