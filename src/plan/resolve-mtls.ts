import type { Metadata, MtlsMode, PeerAuthentication, PeerAuthMode } from '../model/types.ts';

/** Where an effective mode came from, for `explain`, debug output and golden plans. */
export type MtlsScope = 'default' | 'mesh' | 'namespace' | 'workload' | 'port';

export interface EffectiveMtls {
  mode: MtlsMode;
  scope: MtlsScope;
  /** `namespace/name` of the deciding PeerAuthentication; absent for the default. */
  policy?: string;
}

export interface ResolvedMtls {
  /** The workload-level mode: applies to every port without a port-level override. */
  workload: EffectiveMtls;
  /** Port-level overrides keyed by targetPort, UNSET already resolved to the workload mode. */
  ports: ReadonlyMap<number, EffectiveMtls>;
}

/** The workload a PeerAuthentication may select. */
export interface MtlsSubject {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/**
 * Resolves PeerAuthentication for one workload exactly as Istio does
 * (pilot/pkg/security/authn/policy_applier.go, see shared/reference/istio.md §1.3):
 *
 * - mesh scope: a policy without selector in the root namespace;
 * - namespace scope: a policy without selector in the workload's namespace;
 * - workload scope: a policy in the workload's namespace whose `matchLabels` are a subset of the
 *   workload's labels (selector policies in the root namespace are ignored);
 * - port scope: `portLevelMtls` of the chosen workload policy, keyed by targetPort.
 *
 * The narrowest scope that sets a mode wins; UNSET inherits from the next wider scope; with no
 * policy at all the mode is PERMISSIVE. When several policies compete at one scope, the oldest
 * (creationTimestamp, then name) wins and the others are ignored.
 */
export function resolveMtls(policies: readonly PeerAuthentication[], rootNamespace: string, subject: MtlsSubject): ResolvedMtls {
  const { mesh, namespace, workload } = decidingPolicies(policies, rootNamespace, subject);
  let effective: EffectiveMtls = { mode: 'PERMISSIVE', scope: 'default' };
  effective = inherit(effective, mesh, 'mesh');
  if (namespace !== mesh) effective = inherit(effective, namespace, 'namespace');
  effective = inherit(effective, workload, 'workload');

  const ports = new Map<number, EffectiveMtls>();
  for (const [port, mode] of workload?.portLevelMtls ?? []) {
    ports.set(port, mode === 'UNSET' ? effective : { mode, scope: 'port', policy: policyRef(workload!.metadata) });
  }
  return { workload: effective, ports };
}

/**
 * The policy that decides at each scope for `subject` (the oldest that applies there), before
 * UNSET inheritance: what resolveMtls combines, and what `meshplane advise strict` changes.
 */
export function decidingPolicies(
  policies: readonly PeerAuthentication[],
  rootNamespace: string,
  subject: MtlsSubject,
): { mesh?: PeerAuthentication; namespace?: PeerAuthentication; workload?: PeerAuthentication } {
  const byAge = [...policies].sort(comparePolicyAge);
  const hasSelector = (p: PeerAuthentication) => p.selector !== undefined && Object.keys(p.selector).length > 0;
  return {
    mesh: byAge.find((p) => p.metadata.namespace === rootNamespace && !hasSelector(p)),
    namespace: byAge.find((p) => p.metadata.namespace === subject.namespace && !hasSelector(p)),
    workload: byAge.find(
      (p) =>
        p.metadata.namespace === subject.namespace &&
        p.metadata.namespace !== rootNamespace &&
        hasSelector(p) &&
        selects(p.selector!, subject.labels),
    ),
  };
}

/** The effective mode on one targetPort of a resolved workload. */
export function mtlsForPort(resolved: ResolvedMtls, targetPort: number): EffectiveMtls {
  return resolved.ports.get(targetPort) ?? resolved.workload;
}

export function policyRef(m: Pick<Metadata, 'name' | 'namespace'>): string {
  return `${m.namespace}/${m.name}`;
}

function inherit(parent: EffectiveMtls, policy: PeerAuthentication | undefined, scope: MtlsScope): EffectiveMtls {
  if (!policy || policy.mode === 'UNSET') return parent;
  return { mode: policy.mode as Exclude<PeerAuthMode, 'UNSET'>, scope, policy: policyRef(policy.metadata) };
}

function selects(matchLabels: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

/** Oldest first; a policy without creationTimestamp counts as newer than any with one; then by name, then namespace. */
export function comparePolicyAge(a: { metadata: Metadata }, b: { metadata: Metadata }): number {
  const ta = a.metadata.creationTimestamp ? Date.parse(a.metadata.creationTimestamp) : Number.POSITIVE_INFINITY;
  const tb = b.metadata.creationTimestamp ? Date.parse(b.metadata.creationTimestamp) : Number.POSITIVE_INFINITY;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareStrings(a.metadata.name, b.metadata.name) || compareStrings(a.metadata.namespace, b.metadata.namespace);
}

/** Code-point order: deterministic whatever the locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
