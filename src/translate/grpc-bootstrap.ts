import { GRPC_SERVER_LISTENER_TEMPLATE } from './names.ts';

/**
 * The gRPC xDS bootstrap (gRFC A27 / A36) for one proxyless workload, in the JSON shape
 * grpc-js-xds reads from GRPC_XDS_BOOTSTRAP (a file) or GRPC_XDS_BOOTSTRAP_CONFIG (the text).
 *
 * Plaintext only: grpc-js-xds 1.14.1 accepts `channel_creds` of type `insecure` or
 * `google_default` and nothing else (xds-bootstrap.ts SUPPORTED_CHANNEL_CREDS_TYPES), and has no
 * call credentials setting, so it can present neither meshplane's per-workload token nor an xDS
 * client certificate. The CLI therefore emits this only with `--insecure-xds`.
 */
export interface GrpcBootstrapOptions {
  nodeId: string;
  /** node.cluster: `<namespace>/<serviceAccount>`, as for Envoy. */
  nodeCluster: string;
  xdsHost: string;
  xdsPort: number;
}

export function buildGrpcBootstrap(o: GrpcBootstrapOptions) {
  const host = o.xdsHost.includes(':') ? `[${o.xdsHost}]` : o.xdsHost;
  return {
    xds_servers: [{ server_uri: `${host}:${o.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    // grpc-js rejects a node without `locality` (xds-bootstrap.ts validateNode).
    node: { id: o.nodeId, cluster: o.nodeCluster, locality: {} },
    // An XdsServer bound to ip:port asks for this name with %s = ip:port (names.ts).
    server_listener_resource_name_template: GRPC_SERVER_LISTENER_TEMPLATE,
  };
}
