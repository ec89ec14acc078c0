/**
 * The Aggregated Discovery Service on grpc-js, State of the World and Delta over one snapshot cache:
 * accepts Envoy ADS streams (within the limits of xds-limits.ts), routes snapshot updates to the
 * streams of the changed node, and reports per-stream status and what it refused.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import {
  adsServiceDefinition,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from './ads-service.ts';
import { AdsStream } from './ads-stream.ts';
import { DeltaStream } from './delta-stream.ts';
import type { ProxyConfigView, ProxyStatus } from './proxy-status.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import { guardRequestDecoding, statusWatchInterceptor } from './wire-guards.ts';
import { grpcOptionsFor, resolveXdsLimits, type RejectReason, type XdsLimits } from './xds-limits.ts';
import { monotonicMs, type XdsEvents, type XdsObserver } from './xds-observer.ts';
import { safePeer, type AdsStreamHost, type XdsStream } from './xds-stream.ts';

export type { NackStatus, ProxyStatus, TypeStatus } from './proxy-status.ts';
export type { XdsObserver } from './xds-observer.ts';

export interface AdsServerOptions {
  cache: SnapshotCache;
  /**
   * Called with the first message's node.id, the call's metadata and the client's TLS certificate
   * (if any); false = the stream is closed with PERMISSION_DENIED and receives no resources.
   */
  authenticate: (nodeId: string, metadata: grpc.Metadata, peerCertificate: PeerCertificate | undefined) => boolean;
  logger: Logger;
  /** DiscoveryResponse.control_plane.identifier (Envoy stat `control_plane.identifier`). */
  controlPlaneId: string;
  /** Extra grpc-js server options (keepalive, max_connection_age, ...); they override those the limits set. */
  grpcOptions?: grpc.ServerOptions;
  /** Limits per message, stream, node and server; unset ones take DEFAULT_XDS_LIMITS. */
  limits?: Partial<XdsLimits>;
  /** Monotonic milliseconds for push latency and convergence (default performance.now; tests pass a fake). */
  now?: () => number;
}

/** How long `close()` waits for streams to finish before forcing the server down. */
const SHUTDOWN_GRACE_MS = 2000;
/** Rejection log lines per reason per second: a flood is counted in full but cannot flood the log. */
const REJECT_LOG_LINES_PER_SECOND = 10;

/**
 * Server pings notice a proxy that vanished without closing its connection (host gone, NAT
 * dropped), which would otherwise hold its streams forever. Envoy answers pings; it pings us too
 * (every 30 s, from `meshplane bootstrap`), and grpc-js does not police client pings.
 */
export const DEFAULT_GRPC_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** ADS server (SotW and Delta) over a {@link SnapshotCache}. */
export class AdsServer {
  readonly cache: SnapshotCache;
  readonly controlPlaneId: string;
  readonly limits: Readonly<XdsLimits>;
  readonly #authenticate: AdsServerOptions['authenticate'];
  readonly #log: Logger;
  readonly #server: grpc.Server;
  /** Every open stream, authenticated or not (for shutdown). */
  readonly #open = new Set<XdsStream>();
  /** Authenticated streams by node id: where a node's updates go. */
  readonly #byNode = new Map<string, Set<XdsStream>>();
  readonly #unsubscribe: () => void;
  #nextStreamId = 0;
  #pushes = 0;
  #nacks = 0;
  #unknownTypes = 0;
  readonly #observers = new Set<XdsObserver>();
  readonly #now: () => number;
  readonly #rejections = new Map<RejectReason, number>();
  /** Per reason: the current one-second log window, lines logged in it and lines suppressed since the last one. */
  readonly #rejectLog = new Map<RejectReason, { windowStart: number; lines: number; suppressed: number }>();
  #closing: Promise<void> | undefined;
  /** What the streams see of the server (kept off the public API). */
  readonly #host: AdsStreamHost;

  constructor(opts: AdsServerOptions) {
    this.cache = opts.cache;
    this.controlPlaneId = opts.controlPlaneId;
    this.#authenticate = opts.authenticate;
    this.#log = opts.logger;
    this.limits = Object.freeze(resolveXdsLimits(opts.limits));
    this.#now = opts.now ?? monotonicMs;
    this.#server = new grpc.Server({
      ...DEFAULT_GRPC_OPTIONS,
      ...grpcOptionsFor(this.limits),
      ...opts.grpcOptions,
      // First, so it wraps grpc-js's own call object (wire-guards.ts).
      interceptors: [statusWatchInterceptor, ...(opts.grpcOptions?.interceptors ?? [])],
    });
    this.#server.addService(guardRequestDecoding(adsServiceDefinition()), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>) =>
        this.#onStream(call, (id) => new AdsStream(id, call, this.#host, this.#log)),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage>) =>
        this.#onStream(call, (id) => new DeltaStream(id, call, this.#host, this.#log)),
    });
    this.#host = {
      cache: this.cache,
      controlPlaneId: this.controlPlaneId,
      limits: this.limits,
      authenticate: (nodeId, metadata, cert) => this.#authenticate(nodeId, metadata, cert) === true,
      attach: (stream) => this.#attach(stream),
      detach: (stream) => this.#detach(stream),
      events: this.#events(),
      now: () => this.#now(),
      countUnknownType: () => void this.#unknownTypes++,
      reject: (reason, log, message, fields) => this.#reject(reason, log, message, fields),
    };
    this.#unsubscribe = this.cache.onUpdate((nodeId, changedTypes) => this.#onUpdate(nodeId, changedTypes));
  }

  /** DiscoveryResponses written, over all streams and types, since start. */
  get pushes(): number {
    return this.#pushes;
  }

  /** NACKs received, over all streams and types, since start. */
  get nacks(): number {
    return this.#nacks;
  }

  /** First requests for type URLs meshplane does not serve (answered empty), since start. */
  get unknownTypeRequests(): number {
    return this.#unknownTypes;
  }

  /** Reports every push, NACK and their timings to `observer` from now on (metrics); returns the unsubscribe function. */
  observe(observer: XdsObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Streams refused or closed for breaking a rule or a limit since start, by reason (reasons seen only). */
  rejections(): Partial<Record<RejectReason, number>> {
    return Object.fromEntries(this.#rejections);
  }

  /** Authenticated streams (SotW and Delta) currently connected. */
  get streams(): number {
    let n = 0;
    for (const set of this.#byNode.values()) n += set.size;
    return n;
  }

  /** Every stream currently open, including those that have not authenticated yet. */
  get openStreams(): number {
    return this.#open.size;
  }

  /** Serves another gRPC service on the xDS port, under the same TLS and limits (call before listen). */
  addService(definition: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation): void {
    this.#server.addService(definition, handlers);
  }

  /** Binds `address` (`host:port`; port 0 picks a free one) and starts serving; resolves with the bound port. */
  listen(address: string, credentials: grpc.ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (err, port) => {
        if (err) {
          reject(new Error(`cannot listen for xDS on ${address}: ${err.message}`, { cause: err }));
          return;
        }
        this.#log.info({ address, port }, 'ADS server listening');
        resolve(port);
      });
    });
  }

  /** Ends every stream cleanly (status OK, so proxies reconnect elsewhere or later) and stops the server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#unsubscribe();
      for (const stream of [...this.#open]) stream.end();
      const timer = setTimeout(() => this.#server.forceShutdown(), SHUTDOWN_GRACE_MS);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        this.#log.info('ADS server stopped');
        resolve();
      });
    });
    return this.#closing;
  }

  /**
   * Closes every stream of `nodeId` with `code` (a revoked token, a removed workload); the proxy may
   * reconnect and is then authenticated afresh. Returns how many streams were closed.
   */
  endNode(nodeId: string, code: grpc.status, details: string): number {
    const streams = [...(this.#byNode.get(nodeId) ?? [])];
    for (const stream of streams) stream.terminate(code, details);
    if (streams.length > 0) this.#log.warn({ nodeId, streams: streams.length, reason: details }, 'closed the xDS streams of a node');
    return streams.length;
  }

  /** Per connected (authenticated) stream: node, transport, connection time, peer, and per-type sync state. */
  status(): ProxyStatus[] {
    return this.clientConfigs().map((v) => v.status);
  }

  /** Per connected (authenticated) stream, what CSDS reports: status, node, and the resources sent. */
  clientConfigs(): ProxyConfigView[] {
    const out: ProxyConfigView[] = [];
    for (const set of this.#byNode.values()) {
      for (const stream of set) {
        const v = stream.configView();
        if (v) out.push(v);
      }
    }
    return out.sort((a, b) => (a.status.nodeId < b.status.nodeId ? -1 : a.status.nodeId > b.status.nodeId ? 1 : a.status.streamId - b.status.streamId));
  }

  #onStream(call: grpc.ServerDuplexStream<any, any>, create: (id: number) => XdsStream): void {
    if (this.#closing) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'meshplane control plane is shutting down' });
      return;
    }
    if (this.#open.size >= this.limits.maxStreams) {
      const details = `the control plane already has ${this.limits.maxStreams} xDS streams open (the most allowed); retry later`;
      this.#reject('too_many_streams', this.#log, `xDS stream refused (too_many_streams): ${details}`, { peer: safePeer(call), code: 'RESOURCE_EXHAUSTED' });
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details });
      return;
    }
    const stream = create(++this.#nextStreamId);
    if (!stream.closed) this.#open.add(stream);
  }

  #attach(stream: XdsStream): boolean {
    const nodeId = stream.nodeId!;
    let set = this.#byNode.get(nodeId);
    if (!set) this.#byNode.set(nodeId, (set = new Set()));
    if (set.size >= this.limits.maxStreamsPerNode) return false;
    set.add(stream);
    return true;
  }

  #reject(reason: RejectReason, log: Logger, message: string, fields?: Record<string, unknown>): void {
    this.#rejections.set(reason, (this.#rejections.get(reason) ?? 0) + 1);
    const now = Date.now();
    let w = this.#rejectLog.get(reason);
    if (!w) this.#rejectLog.set(reason, (w = { windowStart: now, lines: 0, suppressed: 0 }));
    if (now - w.windowStart >= 1000) Object.assign(w, { windowStart: now, lines: 0 });
    if (w.lines >= REJECT_LOG_LINES_PER_SECOND) {
      w.suppressed++;
      return;
    }
    w.lines++;
    log.warn({ reason, ...fields, ...(w.suppressed > 0 && { suppressedBefore: w.suppressed }) }, message);
    w.suppressed = 0;
  }

  #detach(stream: XdsStream): void {
    this.#open.delete(stream);
    const nodeId = stream.nodeId;
    if (nodeId === undefined) return;
    const set = this.#byNode.get(nodeId);
    set?.delete(stream);
    if (set?.size === 0) this.#byNode.delete(nodeId);
  }

  /** What the streams report: counted here, then passed to each observer (one failing observer breaks no stream). */
  #events(): XdsEvents {
    const emit = <K extends keyof XdsObserver>(hook: K, ...args: Parameters<NonNullable<XdsObserver[K]>>) => {
      for (const o of this.#observers) {
        try {
          (o[hook] as ((...a: typeof args) => void) | undefined)?.(...args);
        } catch (err) {
          this.#log.error({ err, hook }, 'an xDS observer failed');
        }
      }
    };
    return {
      pushSent: (typeUrl) => {
        this.#pushes++;
        emit('pushSent', typeUrl);
      },
      nackReceived: (typeUrl) => {
        this.#nacks++;
        emit('nackReceived', typeUrl);
      },
      pushLatency: (typeUrl, seconds) => emit('pushLatency', typeUrl, seconds),
      converged: (typeUrl, seconds) => emit('converged', typeUrl, seconds),
    };
  }

  #onUpdate(nodeId: string, changedTypes: string[]): void {
    const streams = this.#byNode.get(nodeId);
    if (!streams) return;
    const at = this.#now(); // listeners run inside setSnapshot: this is when the snapshot was set
    for (const stream of [...streams]) {
      try {
        stream.push(changedTypes, at);
      } catch (err) {
        // One broken stream must not stop the others (or the snapshot cache) from progressing.
        this.#log.error({ err, nodeId, stream: stream.id }, 'push to xDS stream failed');
      }
    }
  }
}
