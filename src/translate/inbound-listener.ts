import type { InboundPlan } from '../plan/proxy-plan.ts';
import {
  CHAIN_MTLS,
  CHAIN_PLAINTEXT,
  FILTER,
  TYPE,
  inboundListenerName,
  inboundStatPrefix,
  localClusterName,
} from './names.ts';
import { buildRefusedEdgeLog } from './edge-reporting.ts';
import { buildTerminalFilter, isHttp } from './network-filters.ts';
import { buildHttpRbacFilters, buildNetworkRbacFilters } from './rbac-filters.ts';
import { buildDownstreamMtlsContext } from './tls-context.ts';

/**
 * One listener per inbound port, its filter chains chosen by the effective mTLS mode:
 *
 * - STRICT: tls_inspector and a single chain matching `transport_protocol: tls` that terminates
 *   mTLS. A plaintext connection matches no chain and Envoy closes it (filter_chain_not_found).
 * - PERMISSIVE: tls_inspector, the same mTLS chain, and a `raw_buffer` chain for plaintext.
 * - DISABLE: one plaintext chain and no inspector: TLS bytes, if any, go to the app untouched.
 *
 * Each chain has a distinct match, so Envoy never sees duplicate matches (it would reject the
 * whole listener). Every chain reports its callers to the control plane (edge-reporting.ts).
 */
export function buildInboundListener(port: InboundPlan, trustDomain: string) {
  const name = inboundListenerName(port.listenAddress, port.listenPort);
  const statPrefix = inboundStatPrefix(port.listenAddress, port.listenPort);
  const http = isHttp(port.protocol);
  // Authorization goes on every chain: which chain a connection took never widens what it may do.
  const filters = (setClientCert: boolean) => {
    const terminal = buildTerminalFilter({
      protocol: port.protocol,
      statPrefix,
      cluster: localClusterName(port.targetAddress, port.targetPort),
      routeName: name,
      setClientCert,
      reportEdges: true,
      ...(http && { httpFilters: buildHttpRbacFilters(port.authz), normalizePath: true }),
    });
    return http ? [terminal] : [...buildNetworkRbacFilters(port.authz, statPrefix), terminal];
  };
  const mtlsChain = {
    name: CHAIN_MTLS,
    filter_chain_match: { transport_protocol: 'tls' },
    filters: filters(true),
    transport_socket: {
      name: FILTER.tlsTransport,
      typed_config: buildDownstreamMtlsContext(trustDomain, http ? ['h2', 'http/1.1'] : []),
    },
  };
  const plaintextChain = (match: object | undefined) => ({
    name: CHAIN_PLAINTEXT,
    ...(match && { filter_chain_match: match }),
    filters: filters(false),
  });

  const mode = port.mtls.mode;
  const chains =
    mode === 'STRICT' ? [mtlsChain] : mode === 'PERMISSIVE' ? [mtlsChain, plaintextChain({ transport_protocol: 'raw_buffer' })] : [plaintextChain(undefined)];
  return {
    name,
    address: { socket_address: { address: port.listenAddress, port_value: port.listenPort } },
    traffic_direction: 'INBOUND',
    ...(mode !== 'DISABLE' && {
      listener_filters: [{ name: FILTER.tlsInspector, typed_config: { '@type': TYPE.tlsInspector } }],
    }),
    // A server-first protocol sends nothing for tls_inspector to read; fall through to plaintext.
    ...(mode === 'PERMISSIVE' && { continue_on_listener_filters_timeout: true }),
    filter_chains: chains,
    // Only a connection no chain accepts is logged here: a plaintext caller refused by STRICT.
    ...(mode === 'STRICT' && { access_log: [buildRefusedEdgeLog()] }),
  };
}
