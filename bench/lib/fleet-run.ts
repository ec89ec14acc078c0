/**
 * The setting most scenarios share: a generated mesh served by meshplane in its own process, and a
 * load generator process holding one ADS stream per workload. `withFleet` tears all of it down
 * (streams, processes, temporary directories) whatever happens in `body`.
 */
import { startLoadGenerator, type ConnectResult, type LoadGenerator, type Transport } from '../loadgen/controller.ts';
import { nodeIdOf, type MeshSize } from '../mesh/generate-mesh.ts';
import { createMeshDir, type MeshDir } from './mesh-dir.ts';
import { startMeshplane, type MeshplaneProcess } from './meshplane-process.ts';
import { round, type ScenarioResult } from './result.ts';

export interface FleetRun {
  size: MeshSize;
  mesh: MeshDir;
  server: MeshplaneProcess;
  loadgen: LoadGenerator;
  nodeIds: string[];
  /** The server's RSS with no stream open (after start-up), in bytes. */
  idleRssBytes: number;
  /** How connecting every stream went (undefined with `connect: false`). */
  connected: ConnectResult | undefined;
  /** ms from "meshplane serving" being awaited to it being logged: start-up at this size. */
  startMs: number;
  /** The load generator's CPU over wall time since the server was up (its own start-up excluded). */
  loadgenShare(): Promise<NonNullable<ScenarioResult['loadGenerator']>>;
}

export interface FleetOptions {
  size: MeshSize;
  transport: Transport;
  /** Open the streams before `body` (default true). */
  connect?: boolean;
  extraFiles?: Record<string, string>;
}

/** Wait this long after start-up before reading the idle RSS: the first translation's garbage is collected. */
const IDLE_SETTLE_MS = 2000;
/** After the last stream is held, the fleet is left alone this long before `body` changes anything. */
const CONNECTED_SETTLE_MS = 1000;

export async function withFleet<T>(opts: FleetOptions, body: (fleet: FleetRun) => Promise<T>): Promise<T> {
  const mesh = createMeshDir(opts.size, opts.extraFiles);
  let server: MeshplaneProcess | undefined;
  let loadgen: LoadGenerator | undefined;
  try {
    const t0 = Date.now();
    [server, loadgen] = await Promise.all([startMeshplane({ configDir: mesh.configDir, stateDir: mesh.stateDir }), startLoadGenerator()]);
    const startMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idleRssBytes = server.rssBytes();
    const loadgenShare = await usageWindow(loadgen);
    const nodeIds = Array.from({ length: opts.size.workloads }, (_, w) => nodeIdOf(w, opts.size));
    let connected: ConnectResult | undefined;
    if (opts.connect !== false) {
      connected = await loadgen.connect({ address: server.xdsAddress, nodeIds, transport: opts.transport });
      if (connected.failed > 0) throw new Error(`${connected.failed} of ${nodeIds.length} streams not held: ${connected.errors.join('; ')}`);
      await new Promise((r) => setTimeout(r, CONNECTED_SETTLE_MS));
    }
    return await body({ size: opts.size, mesh, server, loadgen, nodeIds, idleRssBytes, connected, startMs, loadgenShare });
  } finally {
    await loadgen?.stop();
    await server?.stop();
    mesh.remove();
  }
}

/** The mesh for N proxies: N/10 services, 8 outbounds each, 50 namespaces. */
export function meshOf(workloads: number, policies = 0): MeshSize {
  return { workloads, services: Math.max(1, Math.floor(workloads / 10)), policies, outbounds: 8, namespaces: 50 };
}

/** Starts measuring the load generator's CPU now; the returned function gives its share since. */
export async function usageWindow(lg: LoadGenerator): Promise<() => Promise<NonNullable<ScenarioResult['loadGenerator']>>> {
  const u0 = await lg.usage();
  return async () => {
    const u = await lg.usage();
    const cpuSeconds = u.cpuSeconds - u0.cpuSeconds;
    const wallSeconds = u.wallSeconds - u0.wallSeconds;
    return { cpuSeconds: round(cpuSeconds, 2), wallSeconds: round(wallSeconds, 2), share: round(cpuSeconds / wallSeconds, 3) };
  };
}
