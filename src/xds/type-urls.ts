/**
 * The xDS resource types meshplane serves over ADS: their type URLs, protobuf message names and the
 * order in which a change touching several types is pushed on one stream.
 */

const PREFIX = 'type.googleapis.com/';

/** Protobuf message full names, keyed like {@link TYPE_URL}. */
export const MESSAGE_NAME = {
  listener: 'envoy.config.listener.v3.Listener',
  cluster: 'envoy.config.cluster.v3.Cluster',
  secret: 'envoy.extensions.transport_sockets.tls.v3.Secret',
  route: 'envoy.config.route.v3.RouteConfiguration',
  endpoint: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

export type ResourceKind = keyof typeof MESSAGE_NAME;

/** Full `type.googleapis.com/...` type URLs, as they appear in DiscoveryRequest/Response and in each `Any`. */
export const TYPE_URL = {
  listener: `${PREFIX}${MESSAGE_NAME.listener}`,
  cluster: `${PREFIX}${MESSAGE_NAME.cluster}`,
  secret: `${PREFIX}${MESSAGE_NAME.secret}`,
  route: `${PREFIX}${MESSAGE_NAME.route}`,
  endpoint: `${PREFIX}${MESSAGE_NAME.endpoint}`,
} as const;

/**
 * The order in which one update is pushed when it changes several types (make-before-break, xDS spec
 * "eventual consistency considerations"):
 * - secrets first: a listener or cluster that references a *new* SDS secret warms only once the
 *   secret arrives, so sending the secret before its parent avoids a warming round-trip (and the
 *   initial_fetch_timeout stall when it goes wrong); rotating an existing secret needs no order;
 * - clusters before listeners: a listener (or route) must never point at a cluster Envoy does not
 *   know yet, else traffic is blackholed (503 NR/UH);
 * - endpoints right after clusters: an EDS cluster finishes warming only when its
 *   ClusterLoadAssignment arrives;
 * - routes last: they are not warmed, so every cluster they name must already exist.
 * Removals ride in the same full-state LDS/CDS responses, so removed clusters go only after the
 * listeners that stopped using them have been replaced (clusters are removed by the CDS response,
 * which precedes LDS: callers that need strict make-before-break stage removals in a later snapshot).
 */
export const PUSH_ORDER: readonly string[] = [TYPE_URL.secret, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];

const SHORT_NAMES: Readonly<Record<string, string>> = {
  [TYPE_URL.listener]: 'LDS',
  [TYPE_URL.cluster]: 'CDS',
  [TYPE_URL.secret]: 'SDS',
  [TYPE_URL.route]: 'RDS',
  [TYPE_URL.endpoint]: 'EDS',
};

/** `LDS`, `CDS`, `SDS`, `RDS`, `EDS` for the types we serve; the message name otherwise. */
export function shortTypeName(typeUrl: string): string {
  return SHORT_NAMES[typeUrl] ?? messageNameOf(typeUrl);
}

/** The protobuf message full name inside a type URL (`type.googleapis.com/a.b.C` -> `a.b.C`). */
export function messageNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** Rank of a type URL in {@link PUSH_ORDER}; unknown types sort after the known ones. */
export function pushRank(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i === -1 ? PUSH_ORDER.length : i;
}

/** Sorts type URLs into push order (unknown types after the known ones, alphabetically). */
export function sortByPushOrder<T extends string>(typeUrls: Iterable<T>): T[] {
  return [...typeUrls].sort((a, b) => pushRank(a) - pushRank(b) || (a < b ? -1 : a > b ? 1 : 0));
}
