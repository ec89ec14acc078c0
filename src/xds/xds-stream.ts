/**
 * What every ADS stream shares, State of the World or Delta: authentication on the first message,
 * the node it belongs to, the per-stream limits (first-request timeout, request rate, types, broken
 * messages: stream-guard.ts), writing with back-pressure (at most one owed response per type, built from
 * the latest state when the stream drains: latest wins), shutdown, and the status frame.
 * Subclasses own the per-type protocol state and decide what a response carries.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { NodeMessage } from './ads-service.ts';
import type { ProxyConfigView, ProxyStatus, SentResource, TypeStatus } from './proxy-status.ts';
import { PushTimings } from './push-timings.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import { StreamGuard, type Rejection } from './stream-guard.ts';
import { sortByPushOrder } from './type-urls.ts';
import type { MalformedRequest } from './wire-guards.ts';
import type { RejectReason, XdsLimits } from './xds-limits.ts';
import type { XdsEvents } from './xds-observer.ts';

/** What a stream needs from the server that owns it. */
export interface AdsStreamHost {
  readonly cache: SnapshotCache;
  readonly controlPlaneId: string;
  readonly limits: XdsLimits;
  authenticate(nodeId: string, metadata: grpc.Metadata, peerCertificate: PeerCertificate | undefined): boolean;
  /** The stream authenticated as its node: route that node's updates to it; false if the node has too many streams. */
  attach(stream: XdsStream): boolean;
  /** The stream is gone (any reason); forget it. Called exactly once. */
  detach(stream: XdsStream): void;
  /** Pushes, NACKs and their timings, as they happen (counted by the server, passed on to its observers). */
  readonly events: XdsEvents;
  /** Monotonic milliseconds: the clock of push latency and convergence. */
  now(): number;
  /** A request for a type URL meshplane does not serve (answered empty, as xDS requires). */
  countUnknownType(): void;
  /** Counts a refused client by `reason` and logs `message` at warn on `log` (throttled under a flood). */
  reject(reason: RejectReason, log: Logger, message: string, fields?: Record<string, unknown>): void;
}

/** The parts of a request every transport carries. */
export interface RequestBase {
  node?: NodeMessage;
  type_url?: string;
}

type Call<Req, Res> = grpc.ServerDuplexStream<Req, Res>;

/** One ADS stream of either transport. */
export abstract class XdsStream<Req extends RequestBase = RequestBase, Res = unknown> {
  readonly id: number;
  readonly peer: string;
  readonly connectedAt = new Date().toISOString();
  abstract readonly transport: 'sotw' | 'delta';
  protected readonly host: AdsStreamHost;
  protected log: Logger;
  readonly #call: Call<Req, Res>;
  #nodeId: string | undefined;
  #node: NodeMessage | undefined;
  /** Types owed a response while `call.write` signals back-pressure, with whether it is owed even if unchanged. */
  readonly #owed = new Map<string, boolean>();
  #blocked = false;
  #closed = false;
  #nonceCounter = 0;
  readonly #guard: StreamGuard;
  readonly #timings: PushTimings;

  constructor(id: number, call: Call<Req, Res>, host: AdsStreamHost, logger: Logger) {
    this.id = id;
    this.#call = call;
    this.host = host;
    this.peer = safePeer(call);
    this.log = logger.child({ stream: id, peer: this.peer });
    this.#guard = new StreamGuard(host.limits, (r) => this.#reject(r));
    this.#timings = new PushTimings(() => host.now(), host.events);
    call.on('data', (req: Req | MalformedRequest) => this.#onRequest(req));
    call.on('end', () => this.end('the client half-closed')); // finish our side too
    call.on('cancelled', () => this.#onCancelled());
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

  /**
   * The node's snapshot changed for `changedTypes` at `at` (host.now()): respond on each subscribed
   * one, in push order. Every type is marked changed before any is sent, since one response can
   * bring another along (EDS after CDS) and that one carries the change too.
   */
  push(changedTypes: readonly string[], at = this.host.now()): void {
    const subscribed = sortByPushOrder(changedTypes).filter((t) => this.hasType(t));
    for (const typeUrl of subscribed) this.#timings.changed(typeUrl, at);
    for (const typeUrl of subscribed) this.send(typeUrl, false);
  }

  /** Ends the stream with status OK (server shutdown); queued writes are flushed first. */
  end(reason = 'ended by the server'): void {
    if (this.#closed) return;
    this.#dispose(reason);
    this.#call.end();
  }

  /** Closes the stream with an error status (credentials revoked, workload removed, limits). */
  terminate(code: grpc.status, details: string): void {
    this.fail(code, details);
  }

  /** This stream's state, or undefined before it authenticated. */
  status(): ProxyStatus | undefined {
    if (this.#nodeId === undefined) return undefined;
    return {
      nodeId: this.#nodeId,
      streamId: this.id,
      transport: this.transport,
      connectedAt: this.connectedAt,
      peer: this.peer,
      queued: this.#owed.size,
      types: this.typeStatuses(),
    };
  }

  /** The stream as CSDS reads it, or undefined before it authenticated. */
  configView(): ProxyConfigView | undefined {
    const status = this.status();
    if (!status) return undefined;
    return { status, node: this.#node ?? { id: status.nodeId }, sent: (typeUrl) => this.sentResources(typeUrl) };
  }

  protected abstract handle(req: Req): void;
  protected abstract hasType(typeUrl: string): boolean;
  /** The response owed for `typeUrl` now, or undefined if there is nothing to say; records it as sent. */
  protected abstract buildResponse(typeUrl: string, nonce: string, force: boolean): Res | undefined;
  /** Called after a response for `typeUrl` went out (e.g. CDS -> EDS warming). */
  protected afterSend(_typeUrl: string, _response: Res): void {}
  protected abstract typeStatuses(): TypeStatus[];
  protected abstract sentResources(typeUrl: string): SentResource[];
  /** Frees per-type state on close. */
  protected abstract clear(): void;

  protected isOwed(typeUrl: string): boolean {
    return this.#owed.has(typeUrl);
  }

  /** The proxy ACKed the response `nonce` of `typeUrl` (for convergence times). */
  protected recordAck(typeUrl: string, nonce: string): void {
    this.#timings.acked(typeUrl, nonce);
  }

  /** The proxy NACKed the response `nonce` of `typeUrl`: counted; what it carried never converges. */
  protected recordNack(typeUrl: string, nonce: string): void {
    this.host.events.nackReceived(typeUrl);
    this.#timings.nacked(typeUrl, nonce);
  }

  /**
   * Respond on `typeUrl` if there is something to say (`force`: even if unchanged). While the stream
   * is blocked only the fact that a response is owed is kept; it is built from the state at drain time.
   */
  protected send(typeUrl: string, force: boolean): void {
    if (this.#closed) return;
    if (this.#blocked) {
      this.#owed.set(typeUrl, force || this.#owed.get(typeUrl) === true);
      return;
    }
    const nonce = String(this.#nonceCounter + 1);
    const response = this.buildResponse(typeUrl, nonce, force);
    if (response === undefined) {
      this.#timings.nothingOwed(typeUrl);
      return;
    }
    this.#nonceCounter++;
    let writable: boolean;
    try {
      writable = this.#call.write(response);
    } catch (err) {
      this.log.warn({ err }, 'write to xDS stream failed; dropping the stream');
      this.#dispose('write failed');
      return;
    }
    this.host.events.pushSent(typeUrl);
    this.#timings.written(typeUrl, nonce);
    if (!writable) {
      this.#blocked = true;
      this.#call.once('drain', () => this.#drain());
    }
    this.afterSend(typeUrl, response);
  }

  /** Closes the stream with an error status. */
  protected fail(code: grpc.status, details: string): void {
    if (this.#closed) return;
    this.#dispose(details);
    // grpc-js turns an 'error' event into the call's status and ends it.
    this.#call.emit('error', { code, details, metadata: new grpc.Metadata() });
  }

  #onRequest(req: Req | MalformedRequest): void {
    if (this.#closed) return;
    try {
      const refused = this.#guard.admitMessage(req, this.transport === 'delta' ? 'DeltaDiscoveryRequest' : 'DiscoveryRequest');
      if (refused) return this.#reject(refused);
      const request = req as Req; // every MalformedRequest was refused above
      if (!this.#checkNode(request)) return;
      if (!request.type_url) return this.#reject(invalid('type_url is required on an ADS request'));
      const typeUrl = request.type_url;
      const tooMany = this.#guard.admitType(typeUrl, () => {
        this.host.countUnknownType();
        this.log.debug({ typeUrl }, 'request for a type URL meshplane does not serve; answering with no resources');
      });
      if (tooMany) return this.#reject(tooMany);
      this.handle(request);
    } catch (err) {
      this.log.error({ err }, 'failed to handle an xDS request; closing the stream');
      this.fail(grpc.status.INTERNAL, 'meshplane failed to handle the xDS request; see the control-plane log');
    }
  }

  /** Authenticates the first message; later ones may omit the node but must not change it. */
  #checkNode(req: Req): boolean {
    if (this.#nodeId !== undefined) {
      if (req.node?.id && req.node.id !== this.#nodeId) {
        const details = `node.id changed from "${this.#nodeId}" to "${req.node.id}" on one stream; open a new stream per node`;
        this.#reject({ ...invalid(details), reason: 'node_changed', fields: { newNodeId: req.node.id } });
        return false;
      }
      return true;
    }
    const nodeId = req.node?.id;
    if (!nodeId) {
      this.#reject(invalid('the first request on a stream must carry node.id'));
      return false;
    }
    let ok = false;
    try {
      ok = this.host.authenticate(nodeId, this.#call.metadata, peerCertificate(this.#call));
    } catch (err) {
      this.log.error({ err, nodeId }, 'xDS authentication check failed');
    }
    if (!ok) {
      // Never log the metadata: it carries the token.
      this.host.reject('unauthenticated', this.log, 'xDS stream rejected: authentication failed for node', { nodeId, code: 'PERMISSION_DENIED' });
      this.fail(grpc.status.PERMISSION_DENIED, `node "${nodeId}" is not authorized on this control plane (check its xDS token)`);
      return false;
    }
    this.#nodeId = nodeId;
    this.#node = req.node;
    this.log = this.log.child({ nodeId });
    if (!this.host.attach(this)) {
      const details = `node "${nodeId}" already has ${this.host.limits.maxStreamsPerNode} xDS streams open (the most allowed per node)`;
      this.#reject({ reason: 'too_many_streams_for_node', code: grpc.status.RESOURCE_EXHAUSTED, details });
      return false;
    }
    this.log.info({ transport: this.transport }, 'xDS stream connected');
    return true;
  }

  /** Closes the stream for a client that broke a rule or a limit: counted, logged at warn, with the rejection's status. */
  #reject({ reason, code, details, fields }: Rejection): void {
    if (this.#closed) return;
    this.host.reject(reason, this.log, `xDS stream rejected (${reason}): ${details}`, { code: grpc.status[code], ...fields });
    this.fail(code, details);
  }

  /** The client cancelled, or grpc-js closed the call itself (oversized or undecodable message): say which. */
  #onCancelled(): void {
    if (this.#closed) return;
    const byGrpc = this.#guard.closedByGrpc(this.#call.metadata);
    const r = byGrpc?.rejection;
    if (r) this.host.reject(r.reason, this.log, `xDS stream rejected (${r.reason}): ${r.details}`, { code: grpc.status[r.code] });
    this.#dispose(byGrpc ? `closed by grpc-js with ${byGrpc.status}` : 'cancelled by the client');
  }

  #drain(): void {
    if (this.#closed) return;
    this.#blocked = false;
    const owed = new Map(this.#owed);
    this.#owed.clear();
    // Still in push order; a write that blocks again parks the rest (see send).
    for (const typeUrl of sortByPushOrder(owed.keys())) this.send(typeUrl, owed.get(typeUrl)!);
  }

  #dispose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#guard.stop();
    this.#owed.clear();
    this.#timings.clear();
    this.clear();
    this.log.info({ reason }, 'xDS stream closed');
    this.host.detach(this);
  }
}

function invalid(details: string): Rejection {
  return { reason: 'invalid_request', code: grpc.status.INVALID_ARGUMENT, details };
}

/** The call's peer address, or 'unknown' once the call is gone (grpc-js throws then). */
export function safePeer(call: { getPeer(): string }): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}

/** The client's TLS certificate, when the stream runs over TLS with one (empty object otherwise in Node). */
function peerCertificate(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null | undefined }): PeerCertificate | undefined {
  try {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    return cert && Object.keys(cert).length > 0 ? cert : undefined;
  } catch {
    return undefined;
  }
}
