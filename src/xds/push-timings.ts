/**
 * Push latency and convergence of one stream, per type: when each snapshot change not yet written
 * was set, and which written changes still wait for an ACK.
 *
 * A response is built from the node's latest snapshot, so it carries every change set before it:
 * the latency of a response is measured from the earliest change it delivers (changes merged while
 * a slow stream was blocked count once, from the first). Nonces grow per stream, so an ACK of nonce
 * N converges every change first written with a nonce <= N; a NACK of N drops them unobserved.
 */
import type { XdsEvents } from './xds-observer.ts';

/** Changes awaiting an ACK per type; a proxy that never answers cannot grow this without bound. */
const MAX_UNACKED = 16;

export class PushTimings {
  /** Per type: when the earliest change not yet written was set (ms of `now`). */
  readonly #pending = new Map<string, number>();
  /** Per type: written changes awaiting an ACK, oldest first, with the nonce that first carried each. */
  readonly #unacked = new Map<string, { since: number; nonce: number }[]>();
  readonly #now: () => number;
  readonly #events: Pick<XdsEvents, 'pushLatency' | 'converged'>;

  constructor(now: () => number, events: Pick<XdsEvents, 'pushLatency' | 'converged'>) {
    this.#now = now;
    this.#events = events;
  }

  /** The node's snapshot changed `typeUrl` at `at`; a response is now owed on this stream. */
  changed(typeUrl: string, at: number): void {
    if (!this.#pending.has(typeUrl)) this.#pending.set(typeUrl, at);
  }

  /** The stream had nothing to send for `typeUrl`: the change did not touch what it subscribes to. */
  nothingOwed(typeUrl: string): void {
    this.#pending.delete(typeUrl);
  }

  /** A response of `typeUrl` with `nonce` was written: it delivers whatever change was pending. */
  written(typeUrl: string, nonce: string): void {
    const since = this.#pending.get(typeUrl);
    if (since === undefined) return;
    this.#pending.delete(typeUrl);
    this.#events.pushLatency(typeUrl, seconds(this.#now() - since));
    let list = this.#unacked.get(typeUrl);
    if (!list) this.#unacked.set(typeUrl, (list = []));
    list.push({ since, nonce: Number(nonce) });
    if (list.length > MAX_UNACKED) list.shift();
  }

  /** The proxy ACKed `nonce` of `typeUrl`: the changes it carried have converged. */
  acked(typeUrl: string, nonce: string): void {
    const done = this.#take(typeUrl, nonce);
    if (done.length === 0) return;
    const now = this.#now();
    for (const { since } of done) this.#events.converged(typeUrl, seconds(now - since));
  }

  /** The proxy NACKed `nonce`: the changes it carried will never converge as sent. */
  nacked(typeUrl: string, nonce: string): void {
    this.#take(typeUrl, nonce);
  }

  clear(): void {
    this.#pending.clear();
    this.#unacked.clear();
  }

  /** Removes and returns the changes of `typeUrl` first written with a nonce <= `nonce`. */
  #take(typeUrl: string, nonce: string): { since: number; nonce: number }[] {
    const list = this.#unacked.get(typeUrl);
    const n = Number(nonce);
    if (!list || !Number.isFinite(n)) return [];
    const split = list.findIndex((c) => c.nonce > n);
    const done = split === -1 ? list.splice(0) : list.splice(0, split);
    if (list.length === 0) this.#unacked.delete(typeUrl);
    return done;
  }
}

/** Milliseconds to seconds, never negative (a test clock may stand still). */
function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}
