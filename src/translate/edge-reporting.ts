/**
 * Connection reports for the STRICT-readiness advice: every inbound chain sends an access log
 * entry per request (HTTP) or per connection (TCP) to the control plane over Envoy's gRPC access
 * log service, on the xDS cluster the bootstrap already defines. The entry carries the peer's
 * address and, on an mTLS chain, its verified certificate: enough to tell who calls each inbound
 * port in plaintext. The listener itself reports connections no chain accepted (a plaintext
 * caller on a STRICT port), so the advice can also show who is being refused.
 */
import { XDS_CLUSTER } from './bootstrap.ts';
import { FILTER, TYPE } from './names.ts';

/** Log names, the first thing on each access log stream: they tell the receiver what an entry is. */
export const EDGE_LOG = { served: 'meshplane.edges.served', refused: 'meshplane.edges.refused' } as const;

/**
 * Envoy buffers entries and flushes a stream at this interval or when the buffer fills, so reports
 * reach the control plane within about a second and cost one message per second at most per stream.
 */
const FLUSH = { seconds: 1, nanos: 0 };
const BUFFER_BYTES = 16 * 1024;

function commonConfig(logName: string) {
  return {
    log_name: logName,
    grpc_service: { envoy_grpc: { cluster_name: XDS_CLUSTER } },
    transport_api_version: 'V3',
    buffer_flush_interval: FLUSH,
    buffer_size_bytes: { value: BUFFER_BYTES },
  };
}

/** The HTTP connection manager's report: one entry per request. */
export function buildHttpEdgeLog() {
  return {
    name: FILTER.httpGrpcAccessLog,
    typed_config: { '@type': TYPE.httpGrpcAccessLog, common_config: commonConfig(EDGE_LOG.served) },
  };
}

/** tcp_proxy's report: one entry when the upstream connects (long-lived connections count at once) and one at close. */
export function buildTcpEdgeLog() {
  return {
    name: FILTER.tcpGrpcAccessLog,
    typed_config: { '@type': TYPE.tcpGrpcAccessLog, common_config: commonConfig(EDGE_LOG.served) },
  };
}

/** tcp_proxy options that make its report arrive when the connection starts, not only when it ends. */
export const TCP_EDGE_LOG_OPTIONS = { flush_access_log_on_connected: true };

/** The listener's report: Envoy logs here only connections that matched no filter chain. */
export function buildRefusedEdgeLog() {
  return {
    name: FILTER.tcpGrpcAccessLog,
    typed_config: { '@type': TYPE.tcpGrpcAccessLog, common_config: commonConfig(EDGE_LOG.refused) },
  };
}
