/**
 * Which workloads a policy applies to. Shared by the model's warnings and the plan layer so both
 * agree on Istio's scoping rules.
 */
import type { AuthorizationPolicy, Workload } from './types.ts';

/** A selector matches when every pair is among the labels; no selector matches everything. */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/**
 * Istio's AuthorizationPolicy scope (reference/istio.md §4.1). In the root namespace a policy
 * applies across the whole mesh: to every workload without a selector, and — unlike
 * PeerAuthentication, where a root-namespace selector is ignored — to matching workloads of every
 * namespace with one. Elsewhere it applies to its own namespace's workloads, filtered by the selector.
 * Whether the workload has a sidecar (and so can enforce anything) is the caller's concern.
 */
export function authorizationPolicySelects(
  policy: Pick<AuthorizationPolicy, 'metadata' | 'selector'>,
  workload: Pick<Workload, 'metadata'>,
  rootNamespace: string,
): boolean {
  const ns = policy.metadata.namespace;
  if (ns !== rootNamespace && ns !== workload.metadata.namespace) return false;
  return labelsMatch(policy.selector, workload.metadata.labels);
}
