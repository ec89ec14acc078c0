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
import { performance } from 'node:perf_hooks';
import { loadOrCreateAuthority } from '../src/ca/authority.ts';
import { createInlineIssuer, IssuerPool } from '../src/ca/issuer-pool.ts';
import { round, storm, type Storm } from './lib/issuance-storm.ts';

const arg = (i: number, fallback: number) => Number(process.argv[i] ?? fallback);
const [ECDSA_N, RSA_N, INLINE_N] = [arg(2, 10_000), arg(3, 50), arg(4, 1_000)];
const poolOpts = {
  ...(process.env.WORKERS ? { workers: Number(process.env.WORKERS) } : {}),
  ...(process.env.IN_FLIGHT ? { inFlightPerWorker: Number(process.env.IN_FLIGHT) } : {}),
};

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
