/**
 * What `AdsServer.status()` reports per connected proxy: for the admin `/debug/proxies` endpoint and
 * `meshplane status`. Plain JSON-friendly data (times are ISO 8601 strings).
 */

/** The last NACK of one type on one stream. */
export interface NackStatus {
  /** The version that was rejected (the one sent with `nonce`). */
  version: string;
  nonce: string;
  /** `error_detail.message` as sent by the proxy (Envoy: the reason, truncated). */
  message: string;
  /** ISO 8601 time the NACK was received. */
  at: string;
}

/** State of one type URL on one stream. Times are ISO 8601 strings. */
export interface TypeStatus {
  typeUrl: string;
  /** `'*'` for a wildcard subscription (explicit or legacy), else the requested names, sorted. */
  subscribed: '*' | string[];
  versionSent?: string;
  nonceSent?: string;
  versionAcked?: string;
  lastNack?: NackStatus;
  sentAt?: string;
  ackedAt?: string;
}

/** One connected, authenticated ADS stream. */
export interface ProxyStatus {
  nodeId: string;
  /** Unique per server; a proxy that reconnects gets a new one. */
  streamId: number;
  connectedAt: string;
  /** gRPC peer address (`ip:port`). */
  peer: string;
  /** One entry per type URL the proxy has requested, in push order. */
  types: TypeStatus[];
}
