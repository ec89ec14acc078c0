/**
 * The Aggregated Discovery Service (State of the World) on grpc-js: accepts Envoy ADS streams, routes
 * snapshot updates to the streams of the changed node, and reports per-stream status.
 * Delta ADS is declared so that a delta client gets a clear UNIMPLEMENTED instead of a generic error.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { adsServiceDefinition, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from './ads-service.ts';
import { AdsStream, type AdsStreamHost } from './ads-stream.ts';
import type { ProxyStatus } from './proxy-status.ts';
import type { SnapshotCache } from './snapshot-cache.ts';

export type { NackStatus, ProxyStatus, TypeStatus } from './proxy-status.ts';

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
  /** Extra grpc-js server options (keepalive, max_connection_age, ...). */
  grpcOptions?: grpc.ServerOptions;
}

/** How long `close()` waits for streams to finish before forcing the server down. */
const SHUTDOWN_GRACE_MS = 2000;

/** SotW ADS server over a {@link SnapshotCache}. */
export class AdsServer {
  readonly cache: SnapshotCache;
  readonly controlPlaneId: string;
  readonly #authenticate: AdsServerOptions['authenticate'];
  readonly #log: Logger;
  readonly #server: grpc.Server;
  /** Every open stream, authenticated or not (for shutdown). */
  readonly #open = new Set<AdsStream>();
  /** Authenticated streams by node id: where a node's updates go. */
  readonly #byNode = new Map<string, Set<AdsStream>>();
  readonly #unsubscribe: () => void;
  #nextStreamId = 0;
  #pushes = 0;
  #nacks = 0;
  #closing: Promise<void> | undefined;
  /** What the streams see of the server (kept off the public API). */
  readonly #host: AdsStreamHost;

  constructor(opts: AdsServerOptions) {
    this.cache = opts.cache;
    this.controlPlaneId = opts.controlPlaneId;
    this.#authenticate = opts.authenticate;
    this.#log = opts.logger;
    this.#server = new grpc.Server(opts.grpcOptions);
    this.#server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>) => this.#onStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<object, object>) => {
        this.#log.warn({ peer: call.getPeer() }, 'rejected a Delta ADS stream: not implemented');
        call.emit('error', {
          code: grpc.status.UNIMPLEMENTED,
          details:
            'meshplane does not serve Delta xDS (DeltaAggregatedResources) yet; use State-of-the-World ADS ' +
            '(ads_config.api_type: GRPC, the default of `meshplane bootstrap`)',
        });
      },
    });
    this.#host = {
      cache: this.cache,
      controlPlaneId: this.controlPlaneId,
      authenticate: (nodeId, metadata, cert) => this.#authenticate(nodeId, metadata, cert) === true,
      attach: (stream) => this.#attach(stream),
      detach: (stream) => this.#detach(stream),
      countPush: () => void this.#pushes++,
      countNack: () => void this.#nacks++,
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

  /** Authenticated SotW streams currently connected. */
  get streams(): number {
    let n = 0;
    for (const set of this.#byNode.values()) n += set.size;
    return n;
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

  /** Per connected (authenticated) stream: node, connection time, peer, and per-type sent/ACKed/NACK state. */
  status(): ProxyStatus[] {
    const out: ProxyStatus[] = [];
    for (const set of this.#byNode.values()) {
      for (const stream of set) {
        const s = stream.status();
        if (s) out.push(s);
      }
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.streamId - b.streamId));
  }

  #onStream(call: grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>): void {
    if (this.#closing) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'meshplane control plane is shutting down' });
      return;
    }
    const stream = new AdsStream(++this.#nextStreamId, call, this.#host, this.#log);
    if (!stream.closed) this.#open.add(stream);
  }

  #attach(stream: AdsStream): void {
    const nodeId = stream.nodeId!;
    let set = this.#byNode.get(nodeId);
    if (!set) this.#byNode.set(nodeId, (set = new Set()));
    set.add(stream);
  }

  #detach(stream: AdsStream): void {
    this.#open.delete(stream);
    const nodeId = stream.nodeId;
    if (nodeId === undefined) return;
    const set = this.#byNode.get(nodeId);
    set?.delete(stream);
    if (set?.size === 0) this.#byNode.delete(nodeId);
  }

  #onUpdate(nodeId: string, changedTypes: string[]): void {
    const streams = this.#byNode.get(nodeId);
    if (!streams) return;
    for (const stream of [...streams]) {
      try {
        stream.push(changedTypes);
      } catch (err) {
        // One broken stream must not stop the others (or the snapshot cache) from progressing.
        this.#log.error({ err, nodeId, stream: stream.id }, 'push to xDS stream failed');
      }
    }
  }
}
