/**
 * One simulated Envoy on one ADS stream, whatever the transport: what it received (time, version,
 * bytes per response) and when it answered, whether it holds its first CDS+LDS+SDS, NACKs armed by
 * the controller, and reconnecting on the same channel. Subclasses speak SotW or Delta.
 *
 * Like Envoy: wildcard CDS and LDS first, then SDS for the secrets the clusters and listeners
 * reference (meshplane's names: the workload certificate `default` and the trust bundle `ROOTCA`),
 * every response ACKed (or NACKed) at once. No EDS: a sidecar's clusters are STATIC
 * (src/translate/clusters.ts; only proxyless gRPC apps get EDS clusters).
 */
import type * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import type { AdsCall } from './ads-channel.ts';
import type { Envelope } from './envelope.ts';
import type { XdsType } from './protocol.ts';

export const SECRET_NAMES = ['default', 'ROOTCA'];

export const TYPE_OF_URL: Readonly<Record<string, XdsType>> = {
  [TYPE_URL.listener]: 'LDS',
  [TYPE_URL.cluster]: 'CDS',
  [TYPE_URL.secret]: 'SDS',
  [TYPE_URL.endpoint]: 'EDS',
  [TYPE_URL.route]: 'RDS',
};
export const URL_OF_TYPE: Readonly<Record<XdsType, string>> = { LDS: TYPE_URL.listener, CDS: TYPE_URL.cluster, SDS: TYPE_URL.secret, EDS: TYPE_URL.endpoint, RDS: TYPE_URL.route };

/** One response received, and how it was answered. */
export interface ResponseRecord {
  type: XdsType;
  at: number;
  /** When the ACK (or NACK) was written. */
  answeredAt: number;
  version: string;
  bytes: number;
  /** Bytes of the resources alone (their Any messages). */
  payloadBytes: number;
  resources: number;
  removed: number;
  nacked: boolean;
}

const HELD_TYPES: readonly XdsType[] = ['CDS', 'LDS', 'SDS'];

export abstract class SimProxy {
  readonly records: ResponseRecord[] = [];
  /** Why the last stream ended, if it did (not counting our own reconnects). */
  endedWith: string | undefined;
  #call: AdsCall | undefined;
  #acked = new Set<XdsType>();
  #nackNext = new Set<XdsType>();
  #onHeld: (() => void) | undefined;
  #onEnd: ((reason: string) => void) | undefined;
  #sdsRequested = false;

  constructor(
    readonly nodeId: string,
    private readonly open: () => AdsCall,
  ) {}

  get held(): boolean {
    return HELD_TYPES.every((t) => this.#acked.has(t));
  }

  /**
   * Opens a stream (cancelling the current one, if any) and sends the first requests; `onHeld`
   * once CDS, LDS and SDS are ACKed on it, `onEnd` if it ends first (or later).
   */
  start(onHeld: () => void, onEnd: (reason: string) => void): void {
    const previous = this.#call;
    this.#call = undefined; // its status, when it comes, is not this stream's end
    previous?.cancel();
    this.#acked = new Set();
    this.#onHeld = onHeld;
    this.#onEnd = onEnd;
    this.endedWith = undefined;
    const call = this.open();
    this.#call = call;
    call.on('data', (e: Envelope) => {
      if (this.#call === call) this.#onResponse(e);
    });
    call.on('error', () => undefined); // the status says why
    call.on('status', (s: grpc.StatusObject) => {
      if (this.#call !== call) return; // a stream we replaced
      this.#call = undefined;
      this.endedWith = `${s.code} ${s.details}`;
      this.#onEnd?.(this.endedWith);
    });
    this.sendInitial(this.#sdsRequested);
  }

  /** Cancels the stream; resolves when its status arrived. */
  close(): Promise<void> {
    const call = this.#call;
    if (!call) return Promise.resolve();
    return new Promise((resolve) => {
      call.on('status', () => resolve());
      call.cancel();
    });
  }

  armNack(type: XdsType): void {
    this.#nackNext.add(type);
  }

  protected write(req: object): void {
    this.#call?.write(req);
  }

  /**
   * The first requests on a stream; `reconnect` (an earlier stream got as far as asking for
   * secrets): SDS is asked for at once, and what the proxy holds is announced.
   */
  protected abstract sendInitial(reconnect: boolean): void;
  /** Applies an accepted response to what the proxy holds. */
  protected abstract accept(e: Envelope): void;
  protected abstract ack(e: Envelope): void;
  protected abstract nack(e: Envelope, message: string): void;
  /** After the first CDS or LDS response: ask for the secrets they reference. */
  protected abstract requestSecrets(): void;

  #onResponse(e: Envelope): void {
    const at = Date.now();
    const type = TYPE_OF_URL[e.typeUrl];
    if (!type) return; // a type we never asked for
    if (!this.#sdsRequested && (type === 'CDS' || type === 'LDS')) {
      this.#sdsRequested = true;
      this.requestSecrets();
    }
    const nacked = this.#nackNext.delete(type);
    if (nacked) this.nack(e, `load generator: NACK of ${type} requested by the benchmark`);
    else {
      this.accept(e);
      this.ack(e);
    }
    this.records.push({ type, at, answeredAt: Date.now(), version: e.version, bytes: e.bytes, payloadBytes: e.payloadBytes, resources: e.resources, removed: e.delta?.removed.length ?? 0, nacked });
    if (nacked) return;
    const wasHeld = this.held;
    this.#acked.add(type);
    if (!wasHeld && this.held) this.#onHeld?.();
  }
}
