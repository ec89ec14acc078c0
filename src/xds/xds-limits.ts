/**
 * What one xDS client may cost the control plane, and what happens past it. Every limit closes the
 * offending stream (or refuses a new one) with a status whose details name the limit, a warn log line
 * naming the node/peer, and a count in `meshplane_xds_rejected_total{reason}`: a hostile or broken
 * client is bounded, and the other proxies' pushes never wait on it.
 */
import type * as grpc from '@grpc/grpc-js';
import { MeshplaneError } from '../errors.ts';

export interface XdsLimits {
  /** Largest request accepted (grpc.max_receive_message_length); grpc-js refuses bigger ones with RESOURCE_EXHAUSTED before buffering them. */
  maxMessageBytes: number;
  /** Streams open at once, authenticated or not, SotW and Delta; a stream over it is refused. */
  maxStreams: number;
  /** Authenticated streams of one node.id at once; a stream over it is refused. */
  maxStreamsPerNode: number;
  /** Requests per second per stream, sustained (token bucket refill rate). */
  requestsPerSecond: number;
  /** Requests a stream may send at once before the rate applies (token bucket size). */
  requestBurst: number;
  /** A stream that sends no request this long after opening is closed (DEADLINE_EXCEEDED). */
  firstRequestTimeoutMs: number;
  /** Distinct type URLs one stream may request; each keeps per-type state. */
  maxTypesPerStream: number;
  /** An HTTP/2 connection with no stream this long is closed (grpc.max_connection_idle_ms). */
  connectionIdleTimeoutMs: number;
}

/**
 * Safe for the target of 10,000 proxies, and far above what a healthy Envoy does:
 * - 4 MiB: grpc-js's own default; Envoy's largest request is a Delta reconnect listing the versions it
 *   holds (initial_resource_versions), well under 1 MiB even for thousands of resources.
 * - 20,000 streams: two per proxy, so a whole fleet can reconnect while its old streams wind down.
 * - 4 per node: Envoy uses one ADS stream; a few cover a reconnect before the server noticed the old
 *   stream's end (keepalive takes up to 40 s) and a hot restart. A stolen token cannot fan out.
 * - 100/s, burst 400: Envoy sends one request per type per push (its ACK) plus a handful on connect,
 *   and pushes are debounced (at most ~10 a second), so even constant churn stays near 60/s;
 *   a flood is cut after about 400 requests, at negligible cost to the event loop.
 * - 10 s first request: Envoy sends its first DiscoveryRequest at once; a silent stream only holds memory.
 * - 32 types: Envoy uses at most ~10 (LDS, CDS, EDS, RDS, SDS, VHDS, ECDS, RTDS, ...); unknown ones
 *   are answered empty (as xDS requires), so each costs a little state.
 * - 60 s idle connection: an Envoy always has its ADS stream open; a connection without one is a
 *   scanner, a half-open peer that answers pings, or a client that will reconnect on demand.
 *   (Peers that do not answer pings are already dropped by keepalive after 30 + 10 s.)
 */
export const DEFAULT_XDS_LIMITS: Readonly<XdsLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxStreams: 20_000,
  maxStreamsPerNode: 4,
  requestsPerSecond: 100,
  requestBurst: 400,
  firstRequestTimeoutMs: 10_000,
  maxTypesPerStream: 32,
  connectionIdleTimeoutMs: 60_000,
});

/** Why a stream was refused or closed: the `reason` label of `meshplane_xds_rejected_total`. */
export const REJECT_REASONS = [
  'unauthenticated',
  'invalid_request',
  'node_changed',
  'rate_limited',
  'too_many_streams',
  'too_many_streams_for_node',
  'first_request_timeout',
  'too_many_types',
  'malformed',
  'oversized',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** `partial` over the defaults; a limit that is not a positive integer is a usage error naming it. */
export function resolveXdsLimits(partial: Partial<XdsLimits> = {}): XdsLimits {
  const limits = { ...DEFAULT_XDS_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof XdsLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_XDS_LIMITS)) throw new MeshplaneError('USAGE', `unknown xDS limit "${key}"`);
    if (!Number.isSafeInteger(value) || value <= 0) throw new MeshplaneError('USAGE', `xDS limit ${key} must be a positive integer, got ${String(value)}`);
    limits[key] = value;
  }
  return limits;
}

/** The grpc-js server options that enforce the connection- and message-level limits. */
export function grpcOptionsFor(limits: XdsLimits): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_connection_idle_ms': limits.connectionIdleTimeoutMs,
  };
}

/** Per-stream request rate: `burst` at once, then `ratePerSecond` sustained. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now = performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = performance.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.ratePerSecond) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
