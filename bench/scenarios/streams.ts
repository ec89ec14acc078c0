/**
 * Streams held: N proxies (default 10,000), each its own node id with ~20 listeners+clusters and 2
 * secrets, connect over SotW, then (a fresh server) over Delta. Figures: streams held, the
 * server's RSS with them (target <= 1 GiB), memory per stream (RSS with N streams minus RSS with
 * none, / N) and the time to connect them all.
 *
 * The go-control-plane peer serves the same exported resources to the same load generator, one
 * transport at a time after meshplane (never both at once: they would share the 2 cores).
 *
 *   npm run bench -- streams [proxies=10000] [--transport=both|sotw|delta] [--peer=on|off]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../loadgen/controller.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { cpuSecondsOf } from '../lib/child-processes.ts';
import { meshOf, withFleet } from '../lib/fleet-run.ts';
import { withPeerFleet } from '../lib/peer-run.ts';
import { generateMesh, nodeIdOf, type MeshSize } from '../mesh/generate-mesh.ts';
import { atLeast, atMost, round, type Row, type ScenarioResult } from '../lib/result.ts';

/** After the last stream is held, let the server's garbage settle before reading its RSS. */
const SETTLE_MS = 3000;
const MiB = 2 ** 20;

interface TransportRun {
  transport: Transport;
  held: number;
  connectMs: number;
  idleRssMiB: number;
  rssMiB: number;
  perStreamKiB: number;
  serverCpuSecondsConnecting: number;
  serverStreamsMetric: number | undefined;
  startMs: number;
  loadgen: NonNullable<ScenarioResult['loadGenerator']>;
}

type PeerRun = Pick<TransportRun, 'held' | 'connectMs' | 'idleRssMiB' | 'rssMiB' | 'perStreamKiB'>;

export async function run(args: string[]): Promise<ScenarioResult> {
  const n = sizeArg(args, 0, 10_000);
  const which = option(args, 'transport', 'both');
  const transports: Transport[] = which === 'both' ? ['sotw', 'delta'] : [which as Transport];
  const size = meshOf(n);
  const withPeer = option(args, 'peer', 'on') !== 'off';
  const runs: TransportRun[] = [];
  const peerRuns: (PeerRun | undefined)[] = [];
  let peerSkipped = withPeer ? undefined : 'not run (--peer=off)';
  for (const transport of transports) {
    runs.push(await measure(size, transport));
    const p = peerSkipped ? undefined : await measurePeer(size, transport);
    if (p && 'skipped' in p) peerSkipped = p.skipped;
    peerRuns.push(p && 'result' in p ? p.result : undefined);
  }

  const rows: Row[] = [];
  runs.forEach((r, i) => {
    const label = r.transport === 'sotw' ? 'SotW' : 'Delta';
    const p = peerRuns[i];
    rows.push(
      { figure: `streams held (${label})`, unit: 'streams', ours: r.held, peer: p?.held, ...atLeast(r.held, n) },
      { figure: `control-plane RSS, ${n} ${label} streams`, unit: 'MiB', ours: r.rssMiB, peer: p?.rssMiB, ...atMost(r.rssMiB, 1024) },
      { figure: `memory per stream (${label})`, unit: 'KiB', ours: r.perStreamKiB, peer: p?.perStreamKiB },
      { figure: `time to connect all (${label})`, unit: 's', ours: round(r.connectMs / 1000, 2), peer: p && round(p.connectMs / 1000, 2) },
    );
  });
  const cpu = runs.reduce((s, r) => s + r.loadgen.cpuSeconds, 0);
  const wall = runs.reduce((s, r) => s + r.loadgen.wallSeconds, 0);
  return {
    scenario: 'streams',
    command: commandLine('streams', args),
    rows,
    loadGenerator: { cpuSeconds: round(cpu, 2), wallSeconds: round(wall, 2), share: round(cpu / wall, 3) },
    notes: [
      `mesh: ${size.workloads} workloads, ${size.services} services, ${size.outbounds} outbounds each, ${size.namespaces} namespaces, ${size.policies} policies; per proxy ${size.outbounds + 2} listeners, ${size.outbounds + 2} clusters, 2 secrets`,
      'xDS is plaintext (serve --insecure-xds): no per-node tokens or client certificates at this size; the TLS handshake cost of 10,000 connections is not measured',
      'each transport is measured on a fresh server (RSS does not shrink back after streams close); memory per stream = (RSS with N streams - RSS before any stream) / N, read 3 s after the last stream is held (garbage collection makes it noisy below a few thousand streams)',
      `streams spread over ${Math.ceil(n / 100)} HTTP/2 connections (100 streams each), at most 1000 opening at once; "held" = CDS, LDS and SDS (default, ROOTCA) each ACKed`,
      `meshplane_xds_connected_streams with the streams held: ${runs.map((r) => `${r.serverStreamsMetric} (${r.transport})`).join(', ')}; server start-up at this size: ${runs.map((r) => `${round(r.startMs / 1000, 1)} s`).join(', ')}`,
      peerSkipped
        ? `peer (go-control-plane): ${peerSkipped}`
        : 'peer (go-control-plane): bench/peer-go serving the resources meshplane translates for this mesh (exported in-process, bench/peer/export-snapshots.ts), to the same load generator; its RSS from /proc like ours',
    ],
    details: { runs, peerRuns },
  };
}

async function measure(size: MeshSize, transport: Transport): Promise<TransportRun> {
  return withFleet({ size, transport, connect: false }, async (f) => {
    const cpu0 = cpuSecondsOf(f.server.pid);
    const c = await f.loadgen.connect({ address: f.server.xdsAddress, nodeIds: f.nodeIds, transport });
    const serverCpuSecondsConnecting = round(cpuSecondsOf(f.server.pid) - cpu0, 2);
    await sleep(SETTLE_MS);
    const rss = f.server.rssBytes();
    return {
      transport,
      held: c.held,
      connectMs: c.ms,
      idleRssMiB: round(f.idleRssBytes / MiB),
      rssMiB: round(rss / MiB),
      perStreamKiB: round((rss - f.idleRssBytes) / size.workloads / 1024, 2),
      serverCpuSecondsConnecting,
      serverStreamsMetric: await f.server.metric('meshplane_xds_connected_streams'),
      startMs: f.startMs,
      loadgen: await f.loadgenShare(),
    };
  });
}

async function measurePeer(size: MeshSize, transport: Transport) {
  const nodeIds = Array.from({ length: size.workloads }, (_, w) => nodeIdOf(w, size));
  return withPeerFleet({ files: generateMesh(size), nodeIds, transport }, async (f): Promise<PeerRun> => {
    await sleep(SETTLE_MS);
    const rss = f.peer.rssBytes();
    return {
      held: f.connected!.held,
      connectMs: f.connected!.ms,
      idleRssMiB: round(f.idleRssBytes / MiB),
      rssMiB: round(rss / MiB),
      perStreamKiB: round((rss - f.idleRssBytes) / size.workloads / 1024, 2),
    };
  });
}
