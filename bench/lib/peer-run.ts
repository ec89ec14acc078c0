/**
 * The go-control-plane peer (bench/peer/) under the same load: meshplane's resources for a config
 * exported in-process, the peer started on them, and a fresh load generator pointed at it.
 * `withPeerFleet` resolves with `{ skipped }` instead of failing the scenario when the peer cannot
 * run (no Go, a build error): meshplane's figures still count, and the notes say why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotExporter } from '../peer/export-snapshots.ts';
import type { PeerServer } from '../peer/peer-contract.ts';
import { startLoadGenerator, type ConnectResult, type LoadGenerator, type Transport } from '../loadgen/controller.ts';
import { killPidOnExit, removeOnExit } from './child-processes.ts';
import { usageWindow } from './fleet-run.ts';
import type { ScenarioResult } from './result.ts';

export interface PeerFleet {
  peer: PeerServer;
  loadgen: LoadGenerator;
  idleRssBytes: number;
  connected: ConnectResult | undefined;
  /** Translates and exports `files` (the whole config) again; the peer serves them after `peer.reload()`. */
  reexport(files: Record<string, string>): Promise<void>;
  loadgenShare(): Promise<NonNullable<ScenarioResult['loadGenerator']>>;
}

const IDLE_SETTLE_MS = 2000;
/** As in fleet-run.ts: nothing changes in the first second after the last stream is held. */
const CONNECTED_SETTLE_MS = 1000;

export async function withPeerFleet<T>(
  opts: { files: Record<string, string>; nodeIds: string[]; transport: Transport; connect?: boolean },
  body: (f: PeerFleet) => Promise<T>,
): Promise<{ result: T } | { skipped: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'meshplane-loadbench-peer-'));
  const cleanup = removeOnExit(dir);
  let exporter: SnapshotExporter | undefined;
  let peer: PeerServer | undefined;
  let loadgen: LoadGenerator | undefined;
  try {
    try {
      // Imported here: a peer that does not load is a skipped column, not a failed scenario.
      const { startPeer } = await import('../peer/start-peer.ts');
      const { SnapshotExporter } = await import('../peer/export-snapshots.ts');
      exporter = new SnapshotExporter();
      await exporter.exportFromConfig(opts.files, dir);
      peer = await startPeer({ snapshotDir: dir });
      killPidOnExit(peer.pid);
    } catch (err) {
      return { skipped: `the go-control-plane peer did not start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
    }
    loadgen = await startLoadGenerator();
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idleRssBytes = peer.rssBytes();
    const lg = loadgen;
    const ex = exporter;
    const loadgenShare = await usageWindow(lg);
    let connected: ConnectResult | undefined;
    if (opts.connect !== false) {
      // Streams the peer does not hold are the peer's figure, not an error.
      connected = await lg.connect({ address: peer.address, nodeIds: opts.nodeIds, transport: opts.transport });
      await new Promise((r) => setTimeout(r, CONNECTED_SETTLE_MS));
    }
    const p = peer;
    return {
      result: await body({
        peer: p,
        loadgen: lg,
        idleRssBytes,
        connected,
        async reexport(files) {
          await ex.exportFromConfig(files, dir);
        },
        loadgenShare,
      }),
    };
  } finally {
    await loadgen?.stop();
    await peer?.stop();
    await exporter?.close();
    rmSync(dir, { recursive: true, force: true });
    cleanup.forget();
  }
}
