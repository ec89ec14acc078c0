/**
 * buildProxyPlans for a model that changes a little at a time (every config reload), giving the
 * same plans while redoing only what the change can reach:
 *
 * - When only AuthorizationPolicies changed (the Mesh, Services, ExternalServices, Workloads and
 *   PeerAuthentications are the same objects as last time, which model-parser.ts gives for
 *   unchanged documents), only the workloads an added, removed or changed policy selects (before
 *   or after) are planned again: a policy reaches nothing else (authz is per inbound port of the
 *   workloads it selects; endpoints, TLS and identities do not depend on policies).
 * - Anything else is planned in full.
 *
 * Either way a plan equal to the last one of its node is returned as that same object, so callers
 * can skip translating proxies whose plan did not change by comparing identities.
 */
import { isDeepStrictEqual } from 'node:util';
import { authorizationPolicySelects } from '../model/select-workloads.ts';
import { qualifiedName, type AuthorizationPolicy, type MeshModel, type Workload } from '../model/types.ts';
import { buildProxyPlan, buildProxyPlans, hasEnvoy, indexModel, type ModelIndex } from './build-proxy-plans.ts';
import type { ProxyPlan } from './proxy-plan.ts';

export interface PlannedProxies {
  /** One per sidecar workload, sorted by node id: what buildProxyPlans(model) gives. */
  plans: ProxyPlan[];
  /** The model's index (for buildProxylessPlans, say). */
  index: ModelIndex;
}

interface Last extends PlannedProxies {
  model: MeshModel;
  /** Namespace -> its sidecar workloads: whom a policy of that namespace can select. */
  sidecarsIn: Map<string, Workload[]>;
}

export class ProxyPlanner {
  #last: Last | undefined;
  /** Plans built by the last call (reused ones not counted): for tests and benchmarks. */
  planned = 0;

  plan(model: MeshModel): PlannedProxies {
    const last = this.#last;
    if (last?.model === model) {
      this.planned = 0;
      return last;
    }
    this.#last = last && sameTopology(last.model, model) ? this.#policiesChanged(last, model) : this.#full(model, last);
    return this.#last;
  }

  #full(model: MeshModel, last: Last | undefined): Last {
    const index = indexModel(model);
    const before = new Map(last?.plans.map((p) => [p.nodeId, p]));
    const plans = buildProxyPlans(model, index).map((plan) => sameOr(before.get(plan.nodeId), plan));
    this.planned = plans.length;
    const sidecarsIn = new Map<string, Workload[]>();
    for (const w of model.workloads.filter(hasEnvoy)) {
      const list = sidecarsIn.get(w.metadata.namespace);
      if (list) list.push(w);
      else sidecarsIn.set(w.metadata.namespace, [w]);
    }
    return { model, index, plans, sidecarsIn };
  }

  #policiesChanged(last: Last, model: MeshModel): Last {
    // Everything indexed but the policies is unchanged; policies are looked up again.
    const index: ModelIndex = { ...last.index, model, memo: { ...last.index.memo, policiesIn: new Map() } };
    const root = model.mesh.rootNamespace;
    const now = new Set(model.authorizationPolicies);
    const then = new Set(last.model.authorizationPolicies);
    const changed: AuthorizationPolicy[] = [...last.model.authorizationPolicies.filter((p) => !now.has(p)), ...model.authorizationPolicies.filter((p) => !then.has(p))];
    const affected = new Set<string>();
    for (const policy of changed) {
      const candidates = policy.metadata.namespace === root ? [...last.sidecarsIn.values()].flat() : (last.sidecarsIn.get(policy.metadata.namespace) ?? []);
      for (const w of candidates) if (authorizationPolicySelects(policy, w, root)) affected.add(qualifiedName(w.metadata));
    }
    const plans = last.plans.map((plan) => (affected.has(plan.nodeId) ? sameOr(plan, buildProxyPlan(index.workloads.get(plan.nodeId)!, index)) : plan));
    this.planned = affected.size;
    return { model, index, plans, sidecarsIn: last.sidecarsIn };
  }
}

/** Same Mesh, Services, ExternalServices, Workloads and PeerAuthentications (as objects, in order). */
function sameTopology(a: MeshModel, b: MeshModel): boolean {
  return (
    a.mesh === b.mesh &&
    sameItems(a.services, b.services) &&
    sameItems(a.externalServices, b.externalServices) &&
    sameItems(a.workloads, b.workloads) &&
    sameItems(a.peerAuthentications, b.peerAuthentications)
  );
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/** The last plan when the new one equals it, else the new one. */
function sameOr(last: ProxyPlan | undefined, plan: ProxyPlan): ProxyPlan {
  return last && sameData(last, plan) ? last : plan;
}

/**
 * Deep equality for plain data (objects, arrays, primitives), which plans are: several times faster
 * than isDeepStrictEqual on thousands of plans. Anything else (a Map, say) is left to isDeepStrictEqual.
 */
function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(a);
  if (Array.isArray(b) || proto !== Object.getPrototypeOf(b)) return false;
  if (proto !== Object.prototype && proto !== null) return isDeepStrictEqual(a, b);
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) if (!Object.hasOwn(y, k) || !sameData(x[k], y[k])) return false;
  return true;
}
