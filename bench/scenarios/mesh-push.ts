/**
 * Mesh-wide push: N proxies (default 10,000) hold their config; the mesh-wide PeerAuthentication
 * goes from PERMISSIVE to STRICT (the file rewritten atomically), which changes every proxy's
 * inbound listeners. Per proxy: file write -> ACK of the last response of that push (LDS, and CDS
 * or SDS if they changed too). Target: every proxy ACKs, p99 <= 5 s from the write, debounce included.
 *
 * The go-control-plane peer, afterwards on the same machine: the STRICT resources (translated by
 * meshplane's code in-process and exported) are loaded with peer.reload(); per proxy: reload call
 * -> ACK. Its figure leaves out what ours includes (file watch, debounce, parse, translation).
 *
 *   npm run bench -- mesh-push [proxies=10000] [--transport=sotw|delta] [--timeout-ms=120000] [--peer=on|off]
 */
import type { Transport } from '../loadgen/controller.ts';
import { FILES, generateMesh, peerAuthentication, type MeshSize } from '../mesh/generate-mesh.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { meshOf, withFleet } from '../lib/fleet-run.ts';
import { distribution } from '../lib/latency.ts';
import { withPeerFleet } from '../lib/peer-run.ts';
import { atLeast, atMost, type ScenarioResult } from '../lib/result.ts';

/** After every proxy has its new LDS, wait this long for any other type of the same push. */
const SETTLE_MS = 1000;

export async function run(args: string[]): Promise<ScenarioResult> {
  const n = sizeArg(args, 0, 10_000);
  const transport = option(args, 'transport', 'sotw') as Transport;
  const timeoutMs = Number(option(args, 'timeout-ms', '120000'));
  const size = meshOf(n);
  const ours = await measureOurs(size, transport, timeoutMs);
  const peer = option(args, 'peer', 'on') === 'off' ? { skipped: 'not run (--peer=off)' } : await measurePeer(size, transport, ours.nodeIds, timeoutMs);
  const p = 'result' in peer ? peer.result : undefined;
  const d = ours.distribution;
  return {
    scenario: 'mesh-push',
    command: commandLine('mesh-push', args),
    rows: [
      { figure: 'proxies that ACKed the new config', unit: 'proxies', ours: d.count, peer: p?.distribution.count, ...atLeast(d.count, n) },
      { figure: 'convergence p50 (write -> ACK; peer: reload -> ACK)', unit: 'ms', ours: d.p50, peer: p?.distribution.p50 },
      { figure: 'convergence p99 (write -> ACK; peer: reload -> ACK)', unit: 'ms', ours: d.p99, peer: p?.distribution.p99, ...atMost(d.p99, 5000) },
      { figure: 'convergence max', unit: 'ms', ours: d.max, peer: p?.distribution.max },
    ],
    loadGenerator: ours.loadgen,
    notes: [
      `mesh: ${size.workloads} workloads, ${size.services} services, ${size.outbounds} outbounds each; ${transport === 'sotw' ? 'SotW' : 'Delta'} streams`,
      `change: mesh-wide PeerAuthentication (${FILES.peerAuthentication}) PERMISSIVE -> STRICT, written as a dotfile renamed over the old one; types pushed: ${ours.types.join(', ') || 'none'}`,
      "latency per proxy: from just before the file write to the load generator's ACK of the last response it got for the change; the server's debounce (100 ms quiet) and stable-read check are included",
      `the server logged "config change applied" ${ours.appliedMs === undefined ? '(not seen)' : `${ours.appliedMs} ms`} after the write`,
      ...(ours.missing > 0 ? [`${ours.missing} proxies had no new LDS within ${timeoutMs} ms`] : []),
      ...(ours.nacked > 0 ? [`${ours.nacked} proxies NACKed`] : []),
      'xDS is plaintext (serve --insecure-xds)',
      p
        ? `peer (go-control-plane): same mesh, resources translated by meshplane's code and exported; from peer.reload() (SIGHUP: the peer re-reads the ${n} snapshot files and sets each) to the ACK; reload() returned after ${p.reloadMs} ms${p.missing > 0 ? `; ${p.missing} proxies had no new LDS` : ''}`
        : `peer (go-control-plane): ${'skipped' in peer ? peer.skipped : ''}`,
    ],
    details: { ours, peer: p },
  };
}

async function measureOurs(size: MeshSize, transport: Transport, timeoutMs: number) {
  return withFleet({ size, transport }, async (f) => {
    const since = f.mesh.write(FILES.peerAuthentication, peerAuthentication('STRICT'));
    const converged = await f.loadgen.converged({ since, require: ['LDS'], timeoutMs, settleMs: SETTLE_MS });
    const applied = await f.server.waitForLog('config change applied', since, 5000).catch(() => undefined);
    const received = await f.loadgen.received(since);
    return {
      nodeIds: f.nodeIds,
      distribution: distribution(Object.values(converged.latencyMs)),
      appliedMs: applied && applied.at - since,
      types: Object.keys(received.byType),
      pushedByType: received.byType,
      missing: converged.missing.length,
      nacked: converged.nacked.length,
      loadgen: await f.loadgenShare(),
    };
  });
}

async function measurePeer(size: MeshSize, transport: Transport, nodeIds: string[], timeoutMs: number) {
  const files = generateMesh(size);
  return withPeerFleet({ files, nodeIds, transport }, async (f) => {
    await f.reexport({ ...files, [FILES.peerAuthentication]: peerAuthentication('STRICT') });
    const since = Date.now();
    await f.peer.reload();
    const reloadMs = Date.now() - since;
    const converged = await f.loadgen.converged({ since, require: ['LDS'], timeoutMs, settleMs: SETTLE_MS });
    return { distribution: distribution(Object.values(converged.latencyMs)), reloadMs, missing: converged.missing.length, loadgen: await f.loadgenShare() };
  });
}
