import { isIP } from 'node:net';

/**
 * The Envoy bootstrap for one sidecar: node identity, admin on loopback, LDS/CDS (and through
 * them SDS) over one ADS stream to meshplane. Written in Envoy's YAML/JSON mapping (durations as
 * "1s", plain booleans), not as protobufjs input: Envoy parses this file itself.
 */
export const XDS_CLUSTER = 'meshplane-xds';

export interface BootstrapOptions {
  nodeId: string;
  /** node.cluster: Envoy requires one; `<namespace>/<serviceAccount>` groups replicas. */
  nodeCluster: string;
  xdsHost: string;
  xdsPort: number;
  adminPort: number;
  /** Incremental xDS (DeltaAggregatedResources) instead of State of the World; CDS/LDS/SDS follow the ADS stream. */
  delta?: boolean;
  /** null = plaintext xDS (`--insecure-xds`, debugging only). */
  xdsTls: {
    trustedCaPem: string;
    serverSpiffeId: string;
    /** This node's xDS client certificate and key: the key is what Envoy's admin /config_dump never shows. */
    clientCertPem: string;
    clientKeyPem: string;
    token: string;
    tokenHeader: string;
  } | null;
}

export function buildBootstrap(o: BootstrapOptions) {
  const isIp = isIP(o.xdsHost) !== 0;
  return {
    node: { id: o.nodeId, cluster: o.nodeCluster },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: o.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [
          {
            envoy_grpc: { cluster_name: XDS_CLUSTER },
            ...(o.xdsTls && { initial_metadata: [{ key: o.xdsTls.tokenHeader, value: o.xdsTls.token }] }),
          },
        ],
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          type: isIp ? 'STATIC' : 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              // gRPC needs HTTP/2; keepalives notice a dead control plane without waiting for TCP.
              explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.xdsHost, port_value: o.xdsPort } } } }] }],
          },
          ...(o.xdsTls && {
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                common_tls_context: {
                  alpn_protocols: ['h2'],
                  tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
                  // The token alone is readable from Envoy's admin; the key is redacted there.
                  tls_certificates: [{ certificate_chain: { inline_string: o.xdsTls.clientCertPem }, private_key: { inline_string: o.xdsTls.clientKeyPem } }],
                  // Private keys travel on this channel: accept only the control plane's own certificate.
                  validation_context: {
                    trusted_ca: { inline_string: o.xdsTls.trustedCaPem },
                    match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: o.xdsTls.serverSpiffeId } }],
                  },
                },
              },
            },
          }),
        },
      ],
    },
  };
}
