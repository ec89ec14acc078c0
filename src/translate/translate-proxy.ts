import type { ProxyPlan } from '../plan/proxy-plan.ts';
import { compareStrings } from '../plan/resolve-mtls.ts';
import { buildLocalCluster, buildUpstreamCluster } from './clusters.ts';
import { buildInboundListener } from './inbound-listener.ts';
import { buildOutboundListener } from './outbound-listener.ts';
import { buildSecrets, type ProxyCertificates } from './secrets.ts';

/** A named Envoy resource as a protobufjs `fromObject` input (Anys carry '@type'). */
export interface NamedResource {
  name: string;
  [field: string]: unknown;
}

/** A ClusterLoadAssignment: named by `cluster_name`, and it has no `name` field to carry one. */
export interface LoadAssignment {
  cluster_name: string;
  [field: string]: unknown;
}

/** Everything one proxy receives, each list sorted by name. */
export interface ProxyResources {
  listeners: NamedResource[];
  clusters: NamedResource[];
  secrets: NamedResource[];
  /** RDS RouteConfigurations; Envoy sidecars get theirs inline, proxyless gRPC apps over RDS. */
  routes?: NamedResource[];
  /** EDS ClusterLoadAssignments, for EDS clusters (proxyless gRPC apps). */
  endpoints?: LoadAssignment[];
}

/**
 * Plan -> Envoy resources for one proxy. Pure and deterministic: no I/O, no clock; the same plan
 * and certificates always give the same objects (and so the same content-hash versions).
 */
export function translateProxy(plan: ProxyPlan, certs: ProxyCertificates): ProxyResources {
  const listeners = [
    ...plan.inbound.map((port) => buildInboundListener(port, plan.trustDomain)),
    ...plan.outbound.map(buildOutboundListener),
  ];
  const clusters = uniqueByName([...plan.inbound.map(buildLocalCluster), ...plan.outbound.map((o) => buildUpstreamCluster(o.upstream))]);
  return { listeners: sortByName(listeners), clusters: sortByName(clusters), secrets: translateSecrets(certs) };
}

/** The SDS secrets alone, as translateProxy gives them: for a certificate rotation, which changes nothing else. */
export function translateSecrets(certs: ProxyCertificates): NamedResource[] {
  return sortByName(buildSecrets(certs));
}

function sortByName<T extends NamedResource>(items: T[]): T[] {
  return items.sort((a, b) => compareStrings(a.name, b.name));
}

/** Two inbound ports to one local target, or two outbounds to one upstream, share a cluster. */
function uniqueByName<T extends NamedResource>(items: T[]): T[] {
  return [...new Map(items.map((i) => [i.name, i])).values()];
}
