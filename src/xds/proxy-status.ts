/**
 * What `AdsServer.status()` reports per connected proxy: for the admin `/debug/proxies` endpoint,
 * Prometheus metrics, `meshplane status` and CSDS. Plain JSON-friendly data (times are ISO 8601 strings).
 */
import type { NodeMessage } from './ads-service.ts';
import type { EncodedAny } from './resource-encoder.ts';

/** The last NACK of one type on one stream. */
export interface NackStatus {
  /** The version that was rejected (the one sent with `nonce`; Delta: the response's system_version_info). */
  version: string;
  nonce: string;
  /** `error_detail.message` as sent by the proxy (Envoy: the reason, truncated). */
  message: string;
  /** ISO 8601 time the NACK was received. */
  at: string;
}

/**
 * Like `istioctl proxy-status`, per proxy and type:
 * - NOT SENT: nothing of this type was sent on this stream yet;
 * - SYNCED: the latest response was ACKed and nothing newer is owed;
 * - NACKED: the latest response was rejected (the proxy keeps its last good resources);
 * - STALE: a response awaits its ACK, or a newer one is queued behind a slow stream.
 */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT';

/** State of one type URL on one stream. Times are ISO 8601 strings. */
export interface TypeStatus {
  typeUrl: string;
  state: SyncState;
  /** `'*'` for a wildcard subscription (explicit or legacy), else the requested names, sorted. Delta: `'*'` plus names is reported as `'*'`. */
  subscribed: '*' | string[];
  /** SotW: version_info of the latest response. Delta: its system_version_info (the type's version for this node). */
  versionSent?: string;
  nonceSent?: string;
  /** The nonce sent and not yet ACKed or NACKed, if any. */
  pendingNonce?: string;
  versionAcked?: string;
  lastNack?: NackStatus;
  sentAt?: string;
  ackedAt?: string;
  /** Resources the proxy holds as far as the server knows (Delta: names sent and not removed; SotW: in the latest response). */
  resources: number;
  /** Delta only: how many initial_resource_versions the proxy announced when it (re)connected. */
  initialResourceVersions?: number;
}

/** One connected, authenticated ADS stream. */
export interface ProxyStatus {
  nodeId: string;
  /** Unique per server; a proxy that reconnects gets a new one. */
  streamId: number;
  /** State of the World (`StreamAggregatedResources`) or incremental (`DeltaAggregatedResources`). */
  transport: 'sotw' | 'delta';
  connectedAt: string;
  /** gRPC peer address (`ip:port`). */
  peer: string;
  /** Responses held back because the stream is not draining (back-pressure): at most one per type, latest wins. */
  queued: number;
  /** One entry per type URL the proxy has requested, in push order. */
  types: TypeStatus[];
}

/** One resource as last sent to a proxy (for CSDS): the bytes are the shared encoded Any. */
export interface SentResource {
  name: string;
  /**
   * The version Envoy's config_dump shows for it: Delta, the per-resource version (its content hash);
   * SotW, the version_info of the response that last changed it.
   */
  version: string;
  any: EncodedAny;
  /** ISO 8601 time it was sent (SotW: the response that last changed it). */
  sentAt: string;
}

/** A connected proxy as CSDS sees it: status, the node it announced, and per type what it was sent. */
export interface ProxyConfigView {
  status: ProxyStatus;
  node: NodeMessage;
  /** Resources of `typeUrl` the proxy was last sent and still holds (as far as the server knows), by name. */
  sent(typeUrl: string): readonly SentResource[];
}
