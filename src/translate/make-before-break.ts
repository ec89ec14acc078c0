import type { NamedResource, ProxyResources } from './translate-proxy.ts';

/**
 * Make before break (xDS protocol: "only then remove stale clusters"): a cluster that disappears
 * from a proxy's config is kept for one more update, so the listeners that stop using it are
 * applied before it goes, and no request meets a listener that still names a missing cluster.
 *
 * `served` is what the proxy was last given, `lingering` the clusters already kept over once.
 * Returns what to serve now and which clusters linger (the caller re-applies later to drop them).
 */
export function keepRemovedClustersOnce(
  next: ProxyResources,
  served: ProxyResources | undefined,
  lingering: ReadonlySet<string>,
): { resources: ProxyResources; lingering: Set<string> } {
  const wanted = new Set(next.clusters.map((c) => c.name));
  const keep: NamedResource[] = (served?.clusters ?? []).filter((c) => !wanted.has(c.name) && !lingering.has(c.name));
  if (keep.length === 0) return { resources: next, lingering: new Set() };
  const clusters = [...next.clusters, ...keep].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { resources: { ...next, clusters }, lingering: new Set(keep.map((c) => c.name)) };
}
