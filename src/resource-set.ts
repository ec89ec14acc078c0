/** The hand-over from translation to the snapshot cache: one proxy's resources keyed by type URL. */
import type { ProxyResources } from './translate/translate-proxy.ts';
import type { ResourceSet } from './xds/snapshot.ts';
import { TYPE_URL } from './xds/type-urls.ts';

export function toResourceSet(r: ProxyResources): ResourceSet {
  const entries = (list: { name: string }[]): { name: string; resource: object }[] => list.map((resource) => ({ name: resource.name, resource }));
  return new Map<string, { name: string; resource: object }[]>([
    [TYPE_URL.secret, entries(r.secrets)],
    [TYPE_URL.cluster, entries(r.clusters)],
    [TYPE_URL.listener, entries(r.listeners)],
    // Only nodes that use RDS/EDS (proxyless gRPC) have these; Envoy snapshots stay as they were.
    ...(r.routes ? [[TYPE_URL.route, entries(r.routes)] as const] : []),
    ...(r.endpoints ? [[TYPE_URL.endpoint, r.endpoints.map((resource) => ({ name: resource.cluster_name, resource }))] as const] : []),
  ]);
}
