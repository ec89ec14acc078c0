import type { ProxylessInboundPlan, ProxylessOutboundPlan, ProxylessPlan } from '../plan/proxy-plan.ts';
import { compareStrings } from '../plan/resolve-mtls.ts';
import {
  CHAIN_PLAINTEXT,
  FILTER,
  TYPE,
  grpcRbacFilterName,
  grpcRouteName,
  grpcServerListenerName,
  grpcTarget,
  inboundListenerName,
  serviceClusterName,
} from './names.ts';
import { buildHttpRbacFilters } from './rbac-filters.ts';
import type { LoadAssignment, NamedResource, ProxyResources } from './translate-proxy.ts';

/**
 * Plan -> the xDS resources a proxyless gRPC app asks for (grpc-js-xds 1.14 is the reference; its
 * validation rules are cited from node_modules/@grpc/grpc-js-xds/src). Pure and deterministic.
 *
 * - per outbound: an API Listener named after the `xds:///` target, whose HCM fetches its
 *   RouteConfiguration over RDS; the route sends everything to an EDS Cluster whose
 *   ClusterLoadAssignment (same name) lists the endpoints;
 * - per inbound: a server Listener (A36) with one plaintext filter chain, an inline route with
 *   `non_forwarding_action` (anything else fails every call), and the RBAC filters of the port.
 *
 * No TLS anywhere: grpc-js rejects SDS in TLS contexts and meshplane issues it no certificate.
 */
export function translateProxyless(plan: ProxylessPlan): ProxyResources {
  const listeners: NamedResource[] = [...plan.outbound.map(buildApiListener), ...plan.inbound.map(buildServerListener)];
  return {
    listeners: listeners.sort(byName),
    routes: plan.outbound.map(buildRoute).sort(byName),
    clusters: plan.outbound.map(buildEdsCluster).sort(byName),
    endpoints: plan.outbound.map(buildLoadAssignment).sort((a, b) => compareStrings(a.cluster_name, b.cluster_name)),
    secrets: [],
  };
}

const byName = (a: NamedResource, b: NamedResource) => compareStrings(a.name, b.name);
const ADS = { ads: {}, resource_api_version: 'V3' };
const ROUTER = { name: FILTER.router, typed_config: { '@type': TYPE.router } };

/** Client side: the HCM must end with the router filter and use RDS over ADS (listener-resource-type.ts). */
function buildApiListener(out: ProxylessOutboundPlan): NamedResource {
  return {
    name: grpcTarget(out.service, out.portName),
    api_listener: {
      api_listener: {
        '@type': TYPE.hcm,
        rds: { config_source: ADS, route_config_name: grpcRouteName(out.service, out.portName) },
        http_filters: [ROUTER],
      },
    },
  };
}

/** One virtual host for any authority: the listener already says which service this is. */
function buildRoute(out: ProxylessOutboundPlan): NamedResource {
  const name = grpcRouteName(out.service, out.portName);
  return {
    name,
    virtual_hosts: [{ name, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: serviceClusterName(out.service, out.portName) } }] }],
  };
}

/** EDS over ADS; round robin is what grpc-js maps to xds_wrr_locality + round_robin. */
function buildEdsCluster(out: ProxylessOutboundPlan): NamedResource {
  return { name: serviceClusterName(out.service, out.portName), type: 'EDS', eds_cluster_config: { eds_config: ADS }, lb_policy: 'ROUND_ROBIN' };
}

/**
 * grpc-js requires a locality on every LocalityLbEndpoints and skips those without a
 * load_balancing_weight (xds-dependency-manager.ts), so one weighted, unnamed locality holds all.
 */
function buildLoadAssignment(out: ProxylessOutboundPlan): LoadAssignment {
  const lbEndpoints = out.endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } } }));
  return {
    cluster_name: serviceClusterName(out.service, out.portName),
    endpoints: lbEndpoints.length === 0 ? [] : [{ locality: {}, load_balancing_weight: { value: 1 }, lb_endpoints: lbEndpoints }],
  };
}

/**
 * Server side (server.ts): the Listener's socket_address must equal the address the app bound,
 * and a chain without filter_chain_match is grpc-js's plaintext (`raw_buffer`) chain. The route is
 * inline, so a policy change reaches the app in the same LDS update as anything else.
 */
function buildServerListener(port: ProxylessInboundPlan): NamedResource {
  const routeName = inboundListenerName(port.listenAddress, port.listenPort);
  const rbac = buildHttpRbacFilters(port.authz).map((f, i) => ({ ...f, name: grpcRbacFilterName(port.authz!.filters[i]!.action) }));
  return {
    name: grpcServerListenerName(port.listenAddress, port.listenPort),
    address: { socket_address: { address: port.listenAddress, port_value: port.listenPort } },
    traffic_direction: 'INBOUND',
    filter_chains: [
      {
        name: CHAIN_PLAINTEXT,
        filters: [
          {
            name: FILTER.hcm,
            typed_config: {
              '@type': TYPE.hcm,
              route_config: {
                name: routeName,
                virtual_hosts: [{ name: routeName, domains: ['*'], routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }] }],
              },
              http_filters: [...rbac, ROUTER],
            },
          },
        ],
      },
    ],
  };
}
