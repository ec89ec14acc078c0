/**
 * Workload certificate issuance (ECDSA P-256 key + certificate + PEM, leaf-builder.ts through
 * issue.ts, the one production path), and what a storm of them does to pushes:
 *
 * - throughput on one core: the inline issuer on the main thread (P-256 keys are generated
 *   synchronously, so this is one core), and one issuer worker thread; RSA-2048 for reference;
 * - a storm: `certs` certificates requested at once through the issuer pool as the control plane
 *   runs it (one worker per core but one), while the main event loop is watched
 *   (monitorEventLoopDelay, bench/lib/issuance-storm.ts) and a real push is timed over and over:
 *   SnapshotCache.setSnapshot -> AdsServer -> an in-process ADS client stream
 *   (test/feature/ads-client.ts) -> DiscoveryResponse received, then ACKed.
 *
 *   npm run bench -- ca [certs=10000] [--throughput=3000] [--rsa=20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadOrCreateAuthority, type Authority } from '../../src/ca/authority.ts';
import { createInlineIssuer, IssuerPool, type CertIssuer } from '../../src/ca/issuer-pool.ts';
import type { KeyAlgorithm } from '../../src/model/types.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { AdsHarness } from '../../test/feature/ads-client.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { storm } from '../lib/issuance-storm.ts';
import { atLeast, atMost, percentile, round, type Row, type ScenarioResult } from '../lib/result.ts';

/** `n` certificates issued one after the other (each waits for the last): the rate one thread sustains. */
async function throughput(issuer: CertIssuer, authority: Authority, keyAlgorithm: KeyAlgorithm, n: number) {
  const one = (i: number) => issuer.issue(authority, { spiffeId: `spiffe://cluster.local/ns/ns-${i % 50}/sa/sa-${i}`, ttlSeconds: 86_400, keyAlgorithm });
  for (let i = 0; i < Math.min(50, n); i++) await one(i); // JIT warm-up, not counted
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await one(i);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    certificates: n,
    perSecond: round((n / wallMs) * 1000, 1),
    perCertMs: round(wallMs / n, 3),
    /** Process CPU (every thread) over wall time: about 1 when one core does the work. */
    processCores: round((cpu.user + cpu.system) / 1000 / wallMs, 2),
    mainThreadUtilization: round(performance.eventLoopUtilization(elu0).utilization, 2),
  };
}

/** A push, again and again: a new cluster version set in the cache until the client has received it. */
async function pushProbe(gapMs: number) {
  const ads = await AdsHarness.start();
  const node = 'probe.bench';
  const snapshot = (i: number) =>
    new Map([[TYPE_URL.cluster, [{ name: 'probe', resource: { name: 'probe', type: 'STATIC', connect_timeout: { seconds: 1 + (i % 2), nanos: i % 1000 } } }]]]);
  ads.cache.setSnapshot(node, snapshot(0));
  const stream = ads.open();
  stream.send({ node: { id: node }, type_url: TYPE_URL.cluster });
  stream.ack(await stream.next());
  const latencies: number[] = [];
  let running = false;
  let loop: Promise<void> = Promise.resolve();
  return {
    latencies,
    start() {
      running = true;
      loop = (async () => {
        for (let i = 1; running; i++) {
          const t0 = performance.now();
          ads.cache.setSnapshot(node, snapshot(i));
          const response = await stream.next(30_000);
          latencies.push(performance.now() - t0);
          stream.ack(response);
          await sleep(gapMs);
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
      stream.end();
      await ads.close();
    },
  };
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const stormSize = sizeArg(args, 0, 10_000);
  const throughputN = Number(option(args, 'throughput', '3000'));
  const rsaN = Number(option(args, 'rsa', '20'));
  const stateDir = mkdtempSync(join(tmpdir(), 'meshplane-bench-ca-'));
  try {
    const { authority } = await loadOrCreateAuthority(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });

    // One core: the main thread, then one worker.
    const inlineIssuer = createInlineIssuer();
    const inline = await throughput(inlineIssuer, authority, 'ECDSA_P256', throughputN);
    await inlineIssuer.close();
    const single = new IssuerPool({ workers: 1, inFlightPerWorker: 1 });
    const worker = await throughput(single, authority, 'ECDSA_P256', throughputN);
    const rsa = await throughput(single, authority, 'RSA_2048', rsaN);
    await single.close();

    // The storm, through the pool as the control plane sizes it, with pushes timed throughout.
    const pool = new IssuerPool();
    await pool.issue(authority, { spiffeId: 'spiffe://cluster.local/ns/warm/sa/up', ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
    const probe = await pushProbe(10);
    const quiet = await (async () => {
      // Pushes on a quiet loop first: the baseline of what a push costs here.
      probe.start();
      await sleep(500);
      await probe.stop().catch(() => undefined);
      return [...probe.latencies];
    })();
    const during = await pushProbe(10);
    const result = await storm('pool', pool, authority, 'ECDSA_P256', stormSize, { onStart: () => during.start(), quiet: true });
    await during.stop();
    await pool.close();

    const pushes = during.latencies;
    const maxPush = round(Math.max(...pushes), 1);
    const maxDelay = result.whole.eventLoopDelayMs.max;
    const rows: Row[] = [
      { figure: 'ECDSA P-256 issuance, main thread (one core)', unit: 'certs/s', ours: inline.perSecond, ...atLeast(inline.perSecond, 1000) },
      { figure: 'ECDSA P-256 issuance, one issuer worker', unit: 'certs/s', ours: worker.perSecond, ...atLeast(worker.perSecond, 1000) },
      { figure: 'RSA-2048 issuance, one issuer worker (reference)', unit: 'certs/s', ours: rsa.perSecond },
      { figure: `storm of ${stormSize}: issued through the pool (${pool.workers} worker${pool.workers === 1 ? '' : 's'})`, unit: 'certs/s', ours: result.certsPerSecond },
      { figure: 'storm: wall time', unit: 'ms', ours: result.wallMs },
      { figure: 'storm: event-loop delay, max', unit: 'ms', ours: maxDelay, ...atMost(maxDelay, 100) },
      { figure: 'storm: event-loop delay, p99', unit: 'ms', ours: result.whole.eventLoopDelayMs.p99 },
      { figure: 'storm: push latency (setSnapshot -> client), max', unit: 'ms', ours: maxPush, ...atMost(maxPush, 100) },
      { figure: 'storm: push latency, p99', unit: 'ms', ours: round(percentile(pushes, 99), 1) },
      { figure: 'storm: push latency, p50', unit: 'ms', ours: round(percentile(pushes, 50), 1) },
      { figure: 'quiet loop: push latency, p50 (baseline)', unit: 'ms', ours: round(percentile(quiet, 50), 1) },
    ];
    return {
      scenario: 'ca',
      command: commandLine('ca', args),
      rows,
      notes: [
        `throughput: ${throughputN} ECDSA P-256 leaves (key + certificate + PEM) one after the other, after 50 not counted; the main thread used ${inline.processCores} cores of CPU, the one-worker run ${worker.processCores} (the main thread ${worker.mainThreadUtilization} busy); RSA-2048: ${rsaN}`,
        `storm: ${stormSize} requested at once (the ${round(result.enqueueMs, 1)} ms issue() loop included), pool of ${pool.workers} worker(s) × ${pool.inFlightPerWorker} in flight on ${availableParallelism()} cores; the main thread was ${round(result.mainThreadUtilization * 100)}% busy`,
        `pushes: ${pushes.length} during the storm, 10 ms apart, each a new CDS version to one in-process ADS stream (grpc-js, loopback), timed from setSnapshot until the client has the response; client and server share the event loop, so a push also waits for the client's turn`,
        `event-loop delay after the issue() loop alone: max ${result.afterEnqueue?.eventLoopDelayMs.max ?? '-'} ms; the 10 ms interval was at worst ${result.whole.interval10msWorstLatenessMs} ms late`,
      ],
      details: { inline, worker, rsa, storm: result, pushLatenciesMs: pushes.map((l) => round(l, 2)), quietPushLatenciesMs: quiet.map((l) => round(l, 2)) },
    };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
