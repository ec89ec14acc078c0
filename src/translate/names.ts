import type { AuthzAction } from '../model/types.ts';

/**
 * Every Envoy resource name, stat prefix and well-known constant meshplane emits, in one place.
 * Names follow Kuma's `inbound:<address>:<port>` style so a name says what it is.
 */

export const SECRET_WORKLOAD_CERT = 'default'; // the workload's certificate chain and key (Istio's name)
export const SECRET_TRUST_BUNDLE = 'ROOTCA'; // the mesh trust bundle (Istio's name)

export const inboundListenerName = (address: string, port: number) => `inbound:${address}:${port}`;
export const outboundListenerName = (address: string, port: number) => `outbound:${address}:${port}`;
/** The local app behind an inbound port. */
export const localClusterName = (address: string, port: number) => `local:${address}:${port}`;
/** A mesh Service port as seen by callers. */
export const serviceClusterName = (service: string, portName: string) => `outbound:${service}:${portName}`;
export const externalClusterName = (service: string) => `external:${service}`;

/**
 * Proxyless gRPC (Istio's "proxyless gRPC"; grpc-js-xds as the reference client). The app dials
 * `xds:///<portName>.<service>.<namespace>` (e.g. `xds:///grpc.echo.shop`) and its xDS client asks
 * for an API Listener of exactly that name (bootstrap client listener template `%s`); its RDS
 * RouteConfiguration carries the same name. Not Istio's `host:port`: meshplane's Service ports
 * have names, not numbers, and the target is also the HTTP/2 authority, which grpc-js parses as
 * a URL (`http2.connect('http://' + authority)`, grpc-js transport.js), so `echo.shop:grpc`
 * fails with "Invalid URL". Port, service and namespace are DNS labels: the name is a hostname.
 * An xDS-enabled server bound to `<ip>:<port>` asks for the bootstrap's
 * server_listener_resource_name_template with `%s` = `<ip>:<port>`.
 */
export const grpcTarget = (service: string, portName: string) => `${portName}.${service}`;
export const grpcRouteName = grpcTarget;
export const GRPC_SERVER_LISTENER_TEMPLATE = 'meshplane.dev/grpc/lds/inbound/%s';
export const grpcServerListenerName = (address: string, port: number) => GRPC_SERVER_LISTENER_TEMPLATE.replace('%s', `${address}:${port}`);
/** grpc-js NACKs an HCM with two HTTP filters of one name, so each RBAC action gets its own. */
export const grpcRbacFilterName = (action: AuthzAction) => `${FILTER.httpRbac}.${action.toLowerCase()}`;

/** Dots and colons would split the stat name into tags in /stats/prometheus, so they become `_`. */
const statSafe = (address: string) => address.replace(/[.:]/g, '_');
export const inboundStatPrefix = (address: string, port: number) => `inbound_${statSafe(address)}_${port}`;
export const outboundStatPrefix = (address: string, port: number) => `outbound_${statSafe(address)}_${port}`;

/** Filter chain names show up in access logs (%FILTER_CHAIN_NAME%) and config dumps. */
export const CHAIN_MTLS = 'mtls';
export const CHAIN_PLAINTEXT = 'plaintext';

/** Endpoint metadata that selects the mTLS transport socket (transport_socket_matches). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';
export const MESH_TLS_MATCH = { meshTls: 'mtls' } as const;
export const TRANSPORT_MTLS = 'mesh-mtls';
export const TRANSPORT_PLAINTEXT = 'plaintext';

export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export const TYPE = {
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  httpRbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  networkRbac: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  httpGrpcAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  tcpGrpcAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig',
} as const;

export const FILTER = {
  tlsInspector: 'envoy.filters.listener.tls_inspector',
  hcm: 'envoy.filters.network.http_connection_manager',
  router: 'envoy.filters.http.router',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  tlsTransport: 'envoy.transport_sockets.tls',
  rawBufferTransport: 'envoy.transport_sockets.raw_buffer',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  httpRbac: 'envoy.filters.http.rbac',
  networkRbac: 'envoy.filters.network.rbac',
  httpGrpcAccessLog: 'envoy.access_loggers.http_grpc',
  tcpGrpcAccessLog: 'envoy.access_loggers.tcp_grpc',
} as const;

/**
 * RBAC stat prefixes, one per action, so the AUDIT, DENY and ALLOW filters of one port never
 * count into the same counter. What Envoy 1.40 emits from them (seen on /stats; Envoy puts a dot
 * after each prefix segment that lacks one):
 *
 * - HTTP, `http.<hcm stat_prefix>.rbac.<action>.allowed|denied` (from `rules_stat_prefix`), and
 *   `http.<hcm stat_prefix>.rbac.istio_dry_run_<action>_.shadow_allowed|shadow_denied`.
 * - TCP, `tcp.<stat_prefix>.<action>.rbac.allowed|denied` and
 *   `tcp.<stat_prefix>.<action>.rbac.istio_dry_run_<action>_.shadow_allowed|shadow_denied`:
 *   next to tcp_proxy's `tcp.<stat_prefix>.*`.
 *
 * The prefixes also prefix the filter's dynamic metadata keys, verbatim (no dot added):
 * `allow.enforced_effective_policy_id`, `istio_dry_run_deny_shadow_engine_result`. Without a rules
 * prefix the three HTTP filters would overwrite each other's `enforced_*` keys.
 */
export const rbacRulesStatPrefix = (action: AuthzAction) => `${action.toLowerCase()}.`;
export const networkRbacStatPrefix = (statPrefix: string, action: AuthzAction) => `tcp.${statPrefix}.${action.toLowerCase()}.`;
/**
 * Istio's dry-run prefixes (`istio_dry_run_allow_`, `istio_dry_run_deny_`), so access-log and
 * tracing fields built for Istio's shadow metadata carry over. Istio has no AUDIT dry run;
 * `istio_dry_run_audit_` keeps one apart from ALLOW's should the plan ever produce it.
 */
export const rbacShadowStatPrefix = (action: AuthzAction) => `istio_dry_run_${action.toLowerCase()}_`;
