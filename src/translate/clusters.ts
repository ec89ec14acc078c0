import { isIP } from 'node:net';
import type { Protocol } from '../model/types.ts';
import type { ExternalUpstreamPlan, InboundPlan, ServiceUpstreamPlan, UpstreamPlan } from '../plan/proxy-plan.ts';
import {
  FILTER,
  MESH_TLS_MATCH,
  TRANSPORT_MTLS,
  TRANSPORT_PLAINTEXT,
  TRANSPORT_SOCKET_MATCH_KEY,
  TYPE,
  externalClusterName,
  localClusterName,
  serviceClusterName,
} from './names.ts';
import { buildUpstreamMtlsContext, buildUpstreamSimpleTlsContext } from './tls-context.ts';

const CONNECT_TIMEOUT = { seconds: 5 };

export function upstreamClusterName(upstream: UpstreamPlan): string {
  return upstream.kind === 'external' ? externalClusterName(upstream.service) : serviceClusterName(upstream.service, upstream.portName);
}

/** HTTP/2 and gRPC upstreams need HTTP/2 said explicitly; HTTP/1.1 is Envoy's default. */
function protocolOptions(protocol: Protocol) {
  if (protocol !== 'HTTP2' && protocol !== 'GRPC') return {};
  return {
    typed_extension_protocol_options: {
      [FILTER.httpProtocolOptions]: { '@type': TYPE.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } },
    },
  };
}

const socketAddress = (address: string, port: number) => ({ address: { socket_address: { address, port_value: port } } });

/** The app behind an inbound port, on the sidecar's own host. */
export function buildLocalCluster(port: InboundPlan) {
  const name = localClusterName(port.targetAddress, port.targetPort);
  return {
    name,
    type: 'STATIC',
    connect_timeout: CONNECT_TIMEOUT,
    ...protocolOptions(port.protocol),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: socketAddress(port.targetAddress, port.targetPort) }] }] },
  };
}

export function buildUpstreamCluster(upstream: UpstreamPlan) {
  return upstream.kind === 'external' ? buildExternalCluster(upstream) : buildServiceCluster(upstream);
}

/**
 * A mesh service port. TLS is chosen per endpoint (auto mTLS): endpoints with a sidecar that
 * accepts mTLS carry metadata selecting the mTLS transport socket; the rest fall through to
 * plaintext. Endpoints are inline (STATIC), so a membership change is a CDS update.
 */
function buildServiceCluster(upstream: ServiceUpstreamPlan) {
  const name = upstreamClusterName(upstream);
  const anyMtls = upstream.endpoints.some((e) => e.tls === 'MESH_MTLS');
  return {
    name,
    type: 'STATIC',
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
    ...protocolOptions(upstream.protocol),
    // Leave from the workload's own address, so the destination sees it as source.ip.
    ...(upstream.sourceAddress && {
      upstream_bind_config: { source_address: { address: upstream.sourceAddress, port_value: 0 } },
    }),
    ...(anyMtls && {
      transport_socket_matches: [
        {
          name: TRANSPORT_MTLS,
          match: structOf(MESH_TLS_MATCH),
          transport_socket: { name: FILTER.tlsTransport, typed_config: buildUpstreamMtlsContext(upstream.peerIdentities) },
        },
        {
          name: TRANSPORT_PLAINTEXT,
          match: structOf({}),
          transport_socket: { name: FILTER.rawBufferTransport, typed_config: { '@type': TYPE.rawBuffer } },
        },
      ],
    }),
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: upstream.endpoints.map((e) => ({
            endpoint: socketAddress(e.address, e.port),
            ...(e.tls === 'MESH_MTLS' && { metadata: { filter_metadata: { [TRANSPORT_SOCKET_MATCH_KEY]: structOf(MESH_TLS_MATCH) } } }),
          })),
        },
      ],
    },
  };
}

/** Outside the mesh: plaintext or plain TLS, never mesh mTLS. A hostname is resolved by Envoy. */
function buildExternalCluster(upstream: ExternalUpstreamPlan) {
  const name = upstreamClusterName(upstream);
  const tls = upstream.tls;
  return {
    name,
    type: isIP(upstream.address) ? 'STATIC' : 'LOGICAL_DNS',
    connect_timeout: CONNECT_TIMEOUT,
    ...protocolOptions(upstream.protocol),
    ...(tls.mode === 'SIMPLE' && {
      transport_socket: { name: FILTER.tlsTransport, typed_config: buildUpstreamSimpleTlsContext(tls) },
    }),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: socketAddress(upstream.address, upstream.port) }] }] },
  };
}

/** google.protobuf.Struct as protobufjs wants it: camelCase `stringValue` even with keepCase. */
function structOf(fields: Readonly<Record<string, string>>) {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) };
}
