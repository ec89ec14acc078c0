import type { Protocol } from '../model/types.ts';
import { buildHttpEdgeLog, buildTcpEdgeLog, TCP_EDGE_LOG_OPTIONS } from './edge-reporting.ts';
import { FILTER, TYPE } from './names.ts';

export const isHttp = (p: Protocol) => p !== 'TCP';

/**
 * The terminal network filter of a chain: an HTTP connection manager for HTTP-family ports (so
 * later features can act per request), tcp_proxy for TCP ports.
 */
export function buildTerminalFilter(opts: {
  protocol: Protocol;
  statPrefix: string;
  cluster: string;
  routeName: string;
  /**
   * Inbound mTLS chains tell the app who called, in x-forwarded-client-cert. Elsewhere Envoy's
   * default (SANITIZE) strips any XFCC a client sent.
   */
  setClientCert?: boolean;
  /** HTTP filters that run before the router (RBAC), in order. */
  httpFilters?: readonly object[];
  /**
   * Inbound: normalize the path (RFC 3986, Istio's default BASE normalization) before any filter
   * matches it, or `GET /api/../admin` would pass an ALLOW on `/api/*` and reach the app's /admin.
   */
  normalizePath?: boolean;
  /** Inbound: report each request or connection to the control plane (edge-reporting.ts). */
  reportEdges?: boolean;
}) {
  if (!isHttp(opts.protocol)) {
    return {
      name: FILTER.tcpProxy,
      typed_config: {
        '@type': TYPE.tcpProxy,
        stat_prefix: opts.statPrefix,
        cluster: opts.cluster,
        ...(opts.reportEdges && { access_log: [buildTcpEdgeLog()], access_log_options: TCP_EDGE_LOG_OPTIONS }),
      },
    };
  }
  return {
    name: FILTER.hcm,
    typed_config: {
      '@type': TYPE.hcm,
      stat_prefix: opts.statPrefix,
      codec_type: 'AUTO',
      ...(opts.normalizePath && { normalize_path: { value: true } }), // a BoolValue wrapper
      // Never trust an XFCC header from outside; on mTLS chains set it from the verified peer.
      ...(opts.setClientCert && {
        forward_client_cert_details: 'SANITIZE_SET',
        set_current_client_cert_details: { uri: true },
      }),
      route_config: {
        name: opts.routeName,
        virtual_hosts: [
          {
            name: opts.routeName,
            domains: ['*'],
            // No route timeout: streaming gRPC and long polls are the app's business, as in Istio.
            routes: [{ match: { prefix: '/' }, route: { cluster: opts.cluster, timeout: { seconds: 0 } } }],
          },
        ],
      },
      http_filters: [...(opts.httpFilters ?? []), { name: FILTER.router, typed_config: { '@type': TYPE.router } }],
      ...(opts.reportEdges && { access_log: [buildHttpEdgeLog()] }),
    },
  };
}
