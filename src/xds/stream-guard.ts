/**
 * The per-stream limits of xds-limits.ts, apart from the protocol: a stream asks its guard about each
 * message and each new type URL, and closes itself with the {@link Rejection} it gets back.
 */
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from './type-urls.ts';
import { grpcSentStatus, MalformedRequest } from './wire-guards.ts';
import { TokenBucket, type RejectReason, type XdsLimits } from './xds-limits.ts';

/** Why a stream is closed: the status the client sees, and the reason and log fields the server records. */
export interface Rejection {
  reason: RejectReason;
  code: grpc.status;
  details: string;
  fields?: Record<string, unknown>;
}

const SERVED_TYPES: ReadonlySet<string> = new Set(Object.values(TYPE_URL));

/**
 * Statuses grpc-js sends by itself: RESOURCE_EXHAUSTED over grpc.max_receive_message_length (or
 * inflating past it); INTERNAL/UNIMPLEMENTED for a compressed message that does not decompress.
 * Anything else (a client's own deadline) is no rejection.
 */
const GRPC_REJECTIONS: Partial<Record<grpc.status, RejectReason>> = {
  [grpc.status.RESOURCE_EXHAUSTED]: 'oversized',
  [grpc.status.INTERNAL]: 'malformed',
  [grpc.status.UNIMPLEMENTED]: 'malformed',
};

export class StreamGuard {
  readonly #limits: XdsLimits;
  readonly #bucket: TokenBucket;
  /** Closes a stream that never sends its first request (bounds idle and half-open streams). */
  #firstRequestTimer: NodeJS.Timeout | undefined;
  /** Type URLs requested on the stream (bounded by limits.maxTypesPerStream). */
  readonly #typeUrls = new Set<string>();

  /** `onSilent` runs if no message arrives within limits.firstRequestTimeoutMs. */
  constructor(limits: XdsLimits, onSilent: (r: Rejection) => void) {
    this.#limits = limits;
    this.#bucket = new TokenBucket(limits.requestsPerSecond, limits.requestBurst);
    const ms = limits.firstRequestTimeoutMs;
    this.#firstRequestTimer = setTimeout(
      () => onSilent({ reason: 'first_request_timeout', code: grpc.status.DEADLINE_EXCEEDED, details: `no DiscoveryRequest within ${ms} ms of opening the stream` }),
      ms,
    );
    this.#firstRequestTimer.unref();
  }

  /** Every message, before it is looked at: undecodable bytes, or one request too many. */
  admitMessage(msg: unknown, messageName: string): Rejection | undefined {
    clearTimeout(this.#firstRequestTimer);
    if (msg instanceof MalformedRequest) {
      return { reason: 'malformed', code: grpc.status.INVALID_ARGUMENT, details: `the request (${msg.bytes} bytes) is not a valid ${messageName}: ${msg.error}` };
    }
    if (!this.#bucket.take()) {
      const { requestsPerSecond, requestBurst } = this.#limits;
      return { reason: 'rate_limited', code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${requestsPerSecond} requests per second (burst ${requestBurst}) on one stream` };
    }
    return undefined;
  }

  /** A type URL the stream asks for: a new one counts against the limit; `onUnknown` for one meshplane does not serve. */
  admitType(typeUrl: string, onUnknown: () => void): Rejection | undefined {
    if (this.#typeUrls.has(typeUrl)) return undefined;
    const max = this.#limits.maxTypesPerStream;
    if (this.#typeUrls.size >= max) {
      return { reason: 'too_many_types', code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${max} distinct type URLs requested on one stream`, fields: { typeUrl } };
    }
    this.#typeUrls.add(typeUrl);
    if (!SERVED_TYPES.has(typeUrl)) onUnknown();
    return undefined;
  }

  /** On 'cancelled': the status grpc-js closed the call with by itself (see wire-guards.ts), if any, and whether it is a rejection. */
  closedByGrpc(metadata: grpc.Metadata): { status: string; rejection?: Rejection } | undefined {
    const sent = grpcSentStatus(metadata);
    if (!sent) return undefined;
    const reason = GRPC_REJECTIONS[sent.code];
    return { status: `${grpc.status[sent.code]}: ${sent.details}`, rejection: reason && { reason, code: sent.code, details: sent.details } };
  }

  stop(): void {
    clearTimeout(this.#firstRequestTimer);
    this.#typeUrls.clear();
  }
}
