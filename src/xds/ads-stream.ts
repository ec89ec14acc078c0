/**
 * One State-of-the-World ADS stream: the per-stream, per-type-URL state machine (subscription, nonces,
 * versions sent and ACKed, NACKs) and the decision of when to write a DiscoveryResponse.
 *
 * Rules (reference/xds-protocol.md 1.3-1.6, 1.10): the first request of a type is always answered;
 * ACKs and NACKs are answered only if the desired state changed; a NACKed version is never resent;
 * a changed subscription is answered even when nothing changed; stale nonces are ignored; named types
 * are answered with the intersection of requested and existing names; pushes follow PUSH_ORDER.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { DiscoveryRequestMessage, DiscoveryResponseMessage, NodeMessage } from './ads-service.ts';
import type { NackStatus, ProxyStatus } from './proxy-status.ts';
import { EMPTY_SNAPSHOT, selectResources } from './snapshot.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import { TYPE_URL, sortByPushOrder } from './type-urls.ts';

/** What a stream needs from the server that owns it. */
export interface AdsStreamHost {
  readonly cache: SnapshotCache;
  readonly controlPlaneId: string;
  authenticate(nodeId: string, metadata: grpc.Metadata, peerCertificate: PeerCertificate | undefined): boolean;
  /** The stream authenticated as its node: route that node's updates to it. */
  attach(stream: AdsStream): void;
  /** The stream is gone (any reason); forget it. Called exactly once. */
  detach(stream: AdsStream): void;
  countPush(): void;
  countNack(): void;
}

type Mode = 'changed' | 'always';

interface TypeState {
  readonly typeUrl: string;
  /** Explicit `*`, or the legacy wildcard (empty names on a type that never had explicit names). */
  wildcard: boolean;
  /** Explicitly requested names without `*`, sorted and unique. */
  names: string[];
  /** The client has sent a non-empty resource_names for this type: empty now means "nothing". */
  explicit: boolean;
  nonceSent?: string;
  versionSent?: string;
  sentAt?: string;
  versionAcked?: string;
  ackedAt?: string;
  lastNack?: NackStatus;
}

type Call = grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

/** One SotW ADS stream, driven by its requests and by snapshot updates of its node. */
export class AdsStream {
  readonly id: number;
  readonly peer: string;
  readonly connectedAt = new Date().toISOString();
  readonly #call: Call;
  readonly #host: AdsStreamHost;
  #log: Logger;
  #nodeId: string | undefined;
  #node: NodeMessage | undefined;
  readonly #types = new Map<string, TypeState>();
  /** Responses held back while `call.write` signals back-pressure: only the latest per type (built at drain). */
  readonly #pending = new Map<string, Mode>();
  #blocked = false;
  #closed = false;
  #nonceCounter = 0;

  constructor(id: number, call: Call, host: AdsStreamHost, logger: Logger) {
    this.id = id;
    this.#call = call;
    this.#host = host;
    this.peer = safePeer(call);
    this.#log = logger.child({ stream: id, peer: this.peer });
    call.on('data', (req: DiscoveryRequestMessage) => this.#onRequest(req));
    call.on('end', () => this.end('the client half-closed')); // finish our side too
    call.on('cancelled', () => this.#dispose('cancelled by the client'));
    call.on('error', (err: Error) => this.#dispose(`stream error: ${err.message}`));
    call.on('close', () => this.#dispose('closed'));
  }

  /** The node id from the first request, once authenticated. */
  get nodeId(): string | undefined {
    return this.#nodeId;
  }

  /** The `node` of the first request (later requests may omit it: set_node_on_first_message_only). */
  get node(): NodeMessage | undefined {
    return this.#node;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The node's snapshot changed for `changedTypes`: send one response per changed subscribed type, in push order. */
  push(changedTypes: readonly string[]): void {
    for (const typeUrl of sortByPushOrder(changedTypes)) {
      const st = this.#types.get(typeUrl);
      if (st) this.#send(st, 'changed');
    }
  }

  /** Ends the stream with status OK (server shutdown); the proxy reconnects, here or elsewhere. */
  end(reason = 'ended by the server'): void {
    if (this.#closed) return;
    this.#dispose(reason);
    this.#call.end();
  }

  /** This stream's state, or undefined before it authenticated. */
  status(): ProxyStatus | undefined {
    if (this.#nodeId === undefined) return undefined;
    return {
      nodeId: this.#nodeId,
      streamId: this.id,
      connectedAt: this.connectedAt,
      peer: this.peer,
      types: sortByPushOrder(this.#types.keys()).map((t) => {
        const st = this.#types.get(t)!;
        return {
          typeUrl: t,
          subscribed: st.wildcard ? '*' : [...st.names],
          versionSent: st.versionSent,
          nonceSent: st.nonceSent,
          versionAcked: st.versionAcked,
          lastNack: st.lastNack && { ...st.lastNack },
          sentAt: st.sentAt,
          ackedAt: st.ackedAt,
        };
      }),
    };
  }

  #onRequest(req: DiscoveryRequestMessage): void {
    if (this.#closed) return;
    try {
      this.#handle(req);
    } catch (err) {
      this.#log.error({ err }, 'failed to handle a DiscoveryRequest; closing the stream');
      this.#fail(grpc.status.INTERNAL, 'meshplane failed to handle the DiscoveryRequest; see the control-plane log');
    }
  }

  #handle(req: DiscoveryRequestMessage): void {
    if (this.#nodeId === undefined) {
      if (!this.#authenticate(req)) return;
    } else if (req.node?.id && req.node.id !== this.#nodeId) {
      this.#fail(grpc.status.INVALID_ARGUMENT, `node.id changed from "${this.#nodeId}" to "${req.node.id}" on one stream; open a new stream per node`);
      return;
    }
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.#fail(grpc.status.INVALID_ARGUMENT, 'type_url is required on an ADS DiscoveryRequest');
      return;
    }

    let st = this.#types.get(typeUrl);
    const first = st === undefined;
    if (!st) {
      st = { typeUrl, wildcard: false, names: [], explicit: false };
      this.#types.set(typeUrl, st);
    }
    const nonce = req.response_nonce ?? '';
    if (st.nonceSent !== undefined) {
      // SotW: a request is stale once a newer nonce went out for its type; its successor will come.
      if (nonce !== st.nonceSent) {
        this.#log.debug({ typeUrl, nonce, latest: st.nonceSent }, 'ignoring DiscoveryRequest with a stale nonce');
        return;
      }
      if (req.error_detail) this.#recordNack(st, req);
      else {
        st.versionAcked = req.version_info ?? '';
        st.ackedAt = new Date().toISOString();
      }
    }
    const subscriptionChanged = this.#subscribe(st, req.resource_names ?? []);
    // First request: always answer (even empty) or Envoy waits initial_fetch_timeout. Changed names:
    // resend what is requested even if unchanged. Otherwise (ACK/NACK): only if the state moved on.
    this.#send(st, first || subscriptionChanged ? 'always' : 'changed');
  }

  #authenticate(req: DiscoveryRequestMessage): boolean {
    const nodeId = req.node?.id;
    if (!nodeId) {
      this.#fail(grpc.status.INVALID_ARGUMENT, 'the first DiscoveryRequest on a stream must carry node.id');
      return false;
    }
    let ok = false;
    try {
      ok = this.#host.authenticate(nodeId, this.#call.metadata, peerCertificate(this.#call));
    } catch (err) {
      this.#log.error({ err, nodeId }, 'xDS authentication check failed');
    }
    if (!ok) {
      // Never log the metadata: it carries the token.
      this.#log.warn({ nodeId }, 'xDS stream rejected: authentication failed for node');
      this.#fail(grpc.status.PERMISSION_DENIED, `node "${nodeId}" is not authorized on this control plane (check its xDS token)`);
      return false;
    }
    this.#nodeId = nodeId;
    this.#node = req.node;
    this.#log = this.#log.child({ nodeId });
    this.#host.attach(this);
    this.#log.info('xDS stream connected');
    return true;
  }

  /** Applies `resource_names` to the subscription; true if it changed. */
  #subscribe(st: TypeState, names: readonly string[]): boolean {
    const before = subscriptionKey(st);
    if (names.length === 0 && !st.explicit) {
      st.wildcard = true; // legacy wildcard
      st.names = [];
    } else {
      st.explicit = true;
      st.wildcard = names.includes('*');
      st.names = [...new Set(names.filter((n) => n !== '*'))].sort();
    }
    return subscriptionKey(st) !== before;
  }

  #recordNack(st: TypeState, req: DiscoveryRequestMessage): void {
    const nack: NackStatus = {
      version: st.versionSent ?? '',
      nonce: st.nonceSent ?? '',
      message: req.error_detail?.message ?? '',
      at: new Date().toISOString(),
    };
    st.lastNack = nack;
    this.#host.countNack();
    this.#log.warn({ typeUrl: st.typeUrl, version: nack.version, nonce: nack.nonce, error: nack.message }, 'proxy rejected (NACKed) an xDS response');
  }

  #send(st: TypeState, mode: Mode): void {
    if (this.#closed) return;
    if (this.#blocked) {
      this.#pending.set(st.typeUrl, this.#pending.get(st.typeUrl) === 'always' ? 'always' : mode);
      return;
    }
    const snapshot = this.#host.cache.getSnapshot(this.#nodeId!) ?? EMPTY_SNAPSHOT;
    const { version, resources } = selectResources(snapshot.get(st.typeUrl), st.wildcard ? '*' : st.names);
    if (mode === 'changed' && version === st.versionSent) return;

    const nonce = String(++this.#nonceCounter);
    const response: DiscoveryResponseMessage = {
      version_info: version,
      resources: resources.map((r) => r.any),
      type_url: st.typeUrl,
      nonce,
      control_plane: { identifier: this.#host.controlPlaneId },
    };
    st.versionSent = version;
    st.nonceSent = nonce;
    st.sentAt = new Date().toISOString();
    this.#host.countPush();
    this.#log.debug({ typeUrl: st.typeUrl, version, nonce, resources: resources.length }, 'sending DiscoveryResponse');

    let writable: boolean;
    try {
      writable = this.#call.write(response);
    } catch (err) {
      this.#log.warn({ err }, 'write to xDS stream failed; dropping the stream');
      this.#dispose('write failed');
      return;
    }
    if (!writable) {
      this.#blocked = true;
      this.#call.once('drain', () => this.#drain());
    }
    if (st.typeUrl === TYPE_URL.cluster) this.#resendEndpoints();
  }

  /**
   * Envoy finishes warming an (updated) EDS cluster only when a ClusterLoadAssignment arrives, even an
   * unchanged one (xds-protocol.md 1.4; go-control-plane#1035): follow every CDS response with the
   * stream's EDS subscription, unless that exact version was NACKed.
   */
  #resendEndpoints(): void {
    const eds = this.#types.get(TYPE_URL.endpoint);
    if (!eds || eds.nonceSent === undefined) return;
    const nacked = eds.lastNack !== undefined && eds.lastNack.nonce === eds.nonceSent;
    this.#send(eds, nacked ? 'changed' : 'always');
  }

  #drain(): void {
    if (this.#closed) return;
    this.#blocked = false;
    const pending = new Map(this.#pending);
    this.#pending.clear();
    // Still in push order; a write that blocks again parks the rest in #pending (see #send).
    for (const typeUrl of sortByPushOrder(pending.keys())) {
      const st = this.#types.get(typeUrl);
      if (st) this.#send(st, pending.get(typeUrl)!);
    }
  }

  #fail(code: grpc.status, details: string): void {
    if (this.#closed) return;
    this.#dispose(details);
    // grpc-js turns an 'error' event into the call's status and ends it.
    this.#call.emit('error', { code, details, metadata: new grpc.Metadata() });
  }

  #dispose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.clear();
    this.#types.clear();
    this.#log.info({ reason }, 'xDS stream closed');
    this.#host.detach(this);
  }
}

function subscriptionKey(st: TypeState): string {
  return `${st.wildcard ? '*' : ''}|${st.names.join('\0')}`;
}

function safePeer(call: Call): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}

/** The client's TLS certificate, when the stream runs over TLS with one (empty object otherwise in Node). */
function peerCertificate(call: Call): PeerCertificate | undefined {
  try {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    return cert && Object.keys(cert).length > 0 ? cert : undefined;
  } catch {
    return undefined;
  }
}
