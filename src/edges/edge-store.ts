/**
 * Who called which inbound port of which sidecar, and how: the edges behind `meshplane advise
 * strict` and `/debug/edges`. Reports are folded into one edge per (node, port, mTLS or plaintext,
 * identity or address), with first and last sighting and counts. Edges are kept in the state dir,
 * so a control-plane restart does not forget a plaintext caller seen an hour ago, and are dropped
 * once older than the retention.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { replaceFile } from '../ca/state-files.ts';
import type { Clock } from '../clock.ts';
import type { ConnectionReport } from './read-access-log.ts';

export const EDGES_FILE = 'edges.json';
/** How far back the advice can look. */
export const EDGE_RETENTION_MS = 7 * 24 * 3600_000;
/** A bound on memory and on the file for a mesh with many distinct plaintext addresses. */
export const MAX_EDGES = 50_000;
const SAVE_EVERY_MS = 5_000;

export interface Edge {
  /** The sidecar that was called (node id). */
  node: string;
  listenPort: number;
  mtls: boolean;
  /** The caller: its SPIFFE ID with mTLS, its IP address without. */
  peer: string;
  /** The caller's IP address (the last one seen, for mTLS callers). */
  peerAddress: string;
  /** Milliseconds since the epoch. */
  firstSeen: number;
  lastSeen: number;
  /** Reports: HTTP requests, TCP connections (reported when connected and when closed). */
  count: number;
  /** Of `count`, connections no chain accepted (refused by STRICT). */
  refused: number;
}

export class EdgeStore {
  readonly #edges = new Map<string, Edge>();
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #warnedFull = false;

  private constructor(
    private readonly o: { stateDir: string; clock: Clock; logger: Logger },
  ) {}

  /** Loads the edges kept in the state dir; a missing or unreadable file starts empty (logged), since the edges are advice, not state. */
  static async open(o: { stateDir: string; clock: Clock; logger: Logger }): Promise<EdgeStore> {
    const store = new EdgeStore(o);
    const file = join(o.stateDir, EDGES_FILE);
    try {
      const saved = JSON.parse(await readFile(file, 'utf8')) as { edges?: unknown };
      const edges = (Array.isArray(saved.edges) ? saved.edges : []).filter(isEdge).sort((a, b) => a.lastSeen - b.lastSeen);
      for (const e of edges) store.#edges.set(edgeKey(e), e);
      store.#prune();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.logger.warn({ file, err }, 'connection reports kept from before could not be read; starting with none');
    }
    store.#timer = setInterval(() => void store.save(), SAVE_EVERY_MS);
    store.#timer.unref();
    return store;
  }

  record(node: string, report: ConnectionReport): void {
    const now = this.o.clock.now();
    const mtls = report.mtls && report.identity !== undefined;
    const key = edgeKey({ node, listenPort: report.listenPort, mtls, peer: mtls ? report.identity! : report.peerAddress });
    let edge = this.#edges.get(key);
    if (edge) {
      // Map order is sighting order: the first entry is always the least recently seen.
      this.#edges.delete(key);
    } else {
      if (this.#edges.size >= MAX_EDGES) this.#evictOldest();
      edge = { node, listenPort: report.listenPort, mtls, peer: mtls ? report.identity! : report.peerAddress, peerAddress: report.peerAddress, firstSeen: now, lastSeen: now, count: 0, refused: 0 };
    }
    this.#edges.set(key, edge);
    edge.lastSeen = now;
    edge.peerAddress = report.peerAddress;
    edge.count++;
    if (report.refused) edge.refused++;
    this.#dirty = true;
  }

  /** Edges seen at or after `since` (ms), optionally of some nodes, sorted by node, port, peer. */
  edges(filter: { since?: number; nodes?: ReadonlySet<string> } = {}): Edge[] {
    const out: Edge[] = [];
    for (const e of this.#edges.values()) {
      if (filter.since !== undefined && e.lastSeen < filter.since) continue;
      if (filter.nodes && !filter.nodes.has(e.node)) continue;
      out.push({ ...e });
    }
    return out.sort((a, b) => cmp(a.node, b.node) || a.listenPort - b.listenPort || Number(a.mtls) - Number(b.mtls) || cmp(a.peer, b.peer));
  }

  /** Writes the edges to the state dir if anything changed (atomically; one write at a time). */
  save(): Promise<void> {
    this.#saving = this.#saving.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#prune();
      const file = join(this.o.stateDir, EDGES_FILE);
      try {
        await replaceFile(file, `${JSON.stringify({ edges: [...this.#edges.values()] })}\n`);
      } catch (err) {
        this.#dirty = true;
        this.o.logger.warn({ file, err }, 'connection reports could not be saved; they are kept in memory and retried');
      }
    });
    return this.#saving;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.save();
  }

  #prune(): void {
    const oldest = this.o.clock.now() - EDGE_RETENTION_MS;
    for (const [key, e] of this.#edges) if (e.lastSeen < oldest) this.#edges.delete(key);
  }

  #evictOldest(): void {
    if (!this.#warnedFull) this.o.logger.warn({ max: MAX_EDGES }, 'too many distinct callers: the least recently seen are forgotten');
    this.#warnedFull = true;
    const oldest = this.#edges.keys().next();
    if (!oldest.done) this.#edges.delete(oldest.value);
  }
}

const edgeKey = (e: Pick<Edge, 'node' | 'listenPort' | 'mtls' | 'peer'>) => `${e.node}|${e.listenPort}|${e.mtls ? 'mtls' : 'plaintext'}|${e.peer}`;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isEdge(e: unknown): e is Edge {
  const o = e as Record<string, unknown>;
  return (
    typeof o === 'object' && o !== null &&
    typeof o.node === 'string' && typeof o.peer === 'string' && typeof o.peerAddress === 'string' && typeof o.mtls === 'boolean' &&
    [o.listenPort, o.firstSeen, o.lastSeen, o.count, o.refused].every((n) => typeof n === 'number' && Number.isFinite(n))
  );
}
