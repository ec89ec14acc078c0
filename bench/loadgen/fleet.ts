/**
 * The simulated Envoys of one load generator process: streams spread over channels, opened with a
 * bounded number not yet held (a fleet does not all start in the same tick), and the queries the
 * scenarios make over what they received.
 */
import type * as grpc from '@grpc/grpc-js';
import { adsChannel, openDelta, openSotw } from './ads-channel.ts';
import { DeltaProxy } from './delta-proxy.ts';
import type { ConnectOptions, ConnectResult, ConvergeQuery, ConvergeResult, ReceivedSince, XdsType } from './protocol.ts';
import type { SimProxy } from './sim-proxy.ts';
import { SotwProxy } from './sotw-proxy.ts';

const POLL_MS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Fleet {
  readonly #proxies = new Map<string, SimProxy>();
  readonly #channels: grpc.Client[] = [];

  get size(): number {
    return this.#proxies.size;
  }

  /** One simulated proxy (for debugging a scenario in-process). */
  proxy(nodeId: string): SimProxy | undefined {
    return this.#proxies.get(nodeId);
  }

  async connect(opts: ConnectOptions): Promise<ConnectResult> {
    const perChannel = opts.streamsPerChannel ?? 100;
    const created: SimProxy[] = [];
    let channel: grpc.Client | undefined;
    opts.nodeIds.forEach((nodeId, i) => {
      if (this.#proxies.has(nodeId)) throw new Error(`node ${nodeId} is already connected`);
      if (i % perChannel === 0) this.#channels.push((channel = adsChannel(opts.address)));
      const ch = channel!;
      const proxy = opts.transport === 'sotw' ? new SotwProxy(nodeId, () => openSotw(ch)) : new DeltaProxy(nodeId, () => openDelta(ch));
      this.#proxies.set(nodeId, proxy);
      created.push(proxy);
    });
    return startAll(created, opts.maxPending ?? 1000, opts.timeoutMs ?? 300_000);
  }

  reconnect(nodeIds: string[] | undefined, timeoutMs = 300_000): Promise<ConnectResult> {
    return startAll(this.#select(nodeIds), 1000, timeoutMs);
  }

  nack(nodeIds: string[], type: XdsType): number {
    const proxies = this.#select(nodeIds);
    for (const p of proxies) p.armNack(type);
    return proxies.length;
  }

  async converged(q: ConvergeQuery): Promise<ConvergeResult> {
    let pending = this.#select(q.nodeIds);
    const all = pending;
    const deadline = Date.now() + q.timeoutMs;
    for (;;) {
      pending = pending.filter((p) => !q.require.every((t) => p.records.some((r) => r.type === t && r.at >= q.since)));
      if (pending.length === 0 || Date.now() >= deadline) break;
      await sleep(POLL_MS);
    }
    if (q.settleMs) await sleep(q.settleMs);
    const missing = new Set(pending.map((p) => p.nodeId));
    const latencyMs: Record<string, number> = {};
    const nacked: string[] = [];
    for (const p of all) {
      const after = recordsSince(p, q.since);
      if (after.some((r) => r.nacked)) nacked.push(p.nodeId);
      if (!missing.has(p.nodeId)) latencyMs[p.nodeId] = Math.max(...after.map((r) => r.answeredAt)) - q.since;
    }
    return { latencyMs, missing: [...missing], nacked };
  }

  received(since: number, nodeIds?: string[]): ReceivedSince {
    const out: ReceivedSince = { byNode: {}, byType: {}, bytesByNode: {}, payloadBytesByNode: {}, resourcesByNode: {} };
    for (const p of this.#select(nodeIds)) {
      const after = recordsSince(p, since);
      if (after.length === 0) continue;
      out.byNode[p.nodeId] = [...new Set(after.map((r) => r.type))];
      let bytes = 0;
      let payloadBytes = 0;
      let resources = 0;
      for (const r of after) {
        const t = (out.byType[r.type] ??= { responses: 0, bytes: 0, payloadBytes: 0, resources: 0, removed: 0 });
        t.responses++;
        t.bytes += r.bytes;
        t.payloadBytes += r.payloadBytes;
        t.resources += r.resources;
        t.removed += r.removed;
        bytes += r.bytes;
        payloadBytes += r.payloadBytes;
        resources += r.resources;
      }
      out.bytesByNode[p.nodeId] = bytes;
      out.payloadBytesByNode[p.nodeId] = payloadBytes;
      out.resourcesByNode[p.nodeId] = resources;
    }
    return out;
  }

  /** Cancels every stream and closes every channel. */
  async disconnect(timeoutMs = 30_000): Promise<number> {
    const proxies = [...this.#proxies.values()];
    await Promise.race([Promise.all(proxies.map((p) => p.close())), sleep(timeoutMs)]);
    for (const c of this.#channels.splice(0)) c.close();
    this.#proxies.clear();
    return proxies.length;
  }

  #select(nodeIds: string[] | undefined): SimProxy[] {
    if (!nodeIds) return [...this.#proxies.values()];
    return nodeIds.map((id) => {
      const p = this.#proxies.get(id);
      if (!p) throw new Error(`node ${id} is not connected`);
      return p;
    });
  }
}

/** The records of `p` received at or after `since` (records are in arrival order). */
function recordsSince(p: SimProxy, since: number) {
  let i = p.records.length;
  while (i > 0 && p.records[i - 1]!.at >= since) i--;
  return p.records.slice(i);
}

/** Starts `proxies` with at most `maxPending` not yet held; resolves when all are held or failed, or at the timeout. */
function startAll(proxies: SimProxy[], maxPending: number, timeoutMs: number): Promise<ConnectResult> {
  const t0 = Date.now();
  let next = 0;
  let held = 0;
  let failed = 0;
  const errors: string[] = [];
  return new Promise((resolve) => {
    const settled = new Set<SimProxy>();
    const done = () => {
      clearTimeout(timer);
      resolve({ held, failed: proxies.length - held, ms: Date.now() - t0, errors });
    };
    const timer = setTimeout(() => {
      if (errors.length < 5) errors.push(`${proxies.length - held - failed} streams not held after ${timeoutMs} ms`);
      done();
    }, timeoutMs);
    const launch = () => {
      while (next < proxies.length && next - settled.size < maxPending) {
        const p = proxies[next++]!;
        p.start(
          () => settle(p, true),
          (reason) => settle(p, false, reason),
        );
      }
    };
    const settle = (p: SimProxy, ok: boolean, reason?: string) => {
      if (settled.has(p)) return; // a held stream that ends later is not counted twice
      settled.add(p);
      if (ok) held++;
      else {
        failed++;
        if (errors.length < 5) errors.push(`${p.nodeId}: ${reason}`);
      }
      if (settled.size === proxies.length) done();
      else launch();
    };
    if (proxies.length === 0) done();
    else launch();
  });
}
