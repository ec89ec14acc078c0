/**
 * What one gRPC access log entry says about a caller: which inbound address it reached, from where,
 * and, when the chain terminated mTLS, the identity in the peer's verified certificate.
 */

/** One request or connection a sidecar reported on one of its inbound listeners. */
export interface ConnectionReport {
  listenAddress: string;
  listenPort: number;
  /** The caller's IP as the sidecar saw it (the source of the TCP connection). */
  peerAddress: string;
  /** The chain terminated mTLS: the peer presented a certificate the sidecar verified. */
  mtls: boolean;
  /** The peer certificate's first URI SAN (a SPIFFE ID), when `mtls`. */
  identity?: string;
  /** No filter chain accepted the connection (plaintext on a STRICT port). */
  refused: boolean;
  /** Envoy's id of the request or connection: a TCP connection is logged when it connects and when it ends. */
  streamId?: string;
}

/** `envoy.config.core.v3.Address`, as protobufjs decodes it (keepCase). */
interface AddressMessage {
  socket_address?: { address?: string; port_value?: number };
}

/** The part of `envoy.data.accesslog.v3.AccessLogCommon` read here. */
export interface AccessLogCommonMessage {
  downstream_remote_address?: AddressMessage;
  downstream_direct_remote_address?: AddressMessage;
  downstream_local_address?: AddressMessage;
  tls_properties?: { tls_version?: string; peer_certificate_properties?: { subject_alt_name?: { uri?: string; dns?: string }[] } };
  stream_id?: string;
}

/** `envoy.service.accesslog.v3.StreamAccessLogsMessage`, decoded. */
export interface StreamAccessLogsMessage {
  identifier?: { node?: { id?: string }; log_name?: string };
  http_logs?: { log_entry?: { common_properties?: AccessLogCommonMessage }[] };
  tcp_logs?: { log_entry?: { common_properties?: AccessLogCommonMessage }[] };
}

/** The reports in one message; entries without the addresses they need are skipped. */
export function readAccessLogMessage(message: StreamAccessLogsMessage, refused: boolean): ConnectionReport[] {
  const entries = [...(message.http_logs?.log_entry ?? []), ...(message.tcp_logs?.log_entry ?? [])];
  const reports: ConnectionReport[] = [];
  for (const entry of entries) {
    const report = readCommon(entry.common_properties, refused);
    if (report) reports.push(report);
  }
  return reports;
}

function readCommon(c: AccessLogCommonMessage | undefined, refused: boolean): ConnectionReport | undefined {
  const local = c?.downstream_local_address?.socket_address;
  // The direct address is the TCP peer even if a proxy protocol header rewrote the remote one.
  const peer = (c?.downstream_direct_remote_address ?? c?.downstream_remote_address)?.socket_address;
  if (!local?.address || !local.port_value || !peer?.address) return undefined;
  const sans = c?.tls_properties?.peer_certificate_properties?.subject_alt_name ?? [];
  const identity = sans.find((s) => s.uri)?.uri;
  // Envoy 1.40 leaves the peer certificate out of tcp_proxy's entry on connect (it is in the one at
  // the end). The mTLS chain admits no TLS without a verified client certificate, so such an entry
  // is an mTLS caller whose identity comes later: nothing to record yet.
  if (identity === undefined && c?.tls_properties?.tls_version) return undefined;
  return {
    listenAddress: local.address,
    listenPort: local.port_value,
    peerAddress: peer.address,
    mtls: identity !== undefined,
    ...(identity !== undefined && { identity }),
    refused,
    ...(c?.stream_id && { streamId: c.stream_id }),
  };
}
