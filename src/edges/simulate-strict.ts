/**
 * The PeerAuthentication change `meshplane advise strict` asks about, applied to a copy of the
 * policies, so each port's mode after it comes from the same resolver the translation uses
 * (plan/resolve-mtls.ts): narrowest scope wins, so a workload or port-level policy may keep a port
 * PERMISSIVE after a namespace goes STRICT, exactly as Istio would.
 */
import type { Metadata, PeerAuthentication, Workload } from '../model/types.ts';
import { decidingPolicies, policyRef } from '../plan/resolve-mtls.ts';

export type StrictScope = { kind: 'mesh' } | { kind: 'namespace'; namespace: string } | { kind: 'workload'; namespace: string; name: string };

export interface SimulatedChange {
  /** The policies as they would be after the change. */
  policies: PeerAuthentication[];
  /** What the change is, in words: which policy is set to STRICT, or which would be added. */
  description: string;
}

/**
 * Sets the policy that decides at `scope` to STRICT (the oldest, as the resolver picks it), keeping
 * its port-level settings; where no policy exists at that scope, adds one.
 */
export function simulateStrict(policies: readonly PeerAuthentication[], rootNamespace: string, scope: StrictScope, workload?: Workload): SimulatedChange {
  let deciding: PeerAuthentication | undefined;
  let added: PeerAuthentication;
  if (scope.kind === 'workload') {
    if (!workload) throw new Error('a workload scope needs its workload');
    const labels = workload.metadata.labels;
    deciding = decidingPolicies(policies, rootNamespace, { namespace: scope.namespace, labels }).workload;
    // Selecting every label of the workload: in the simulation only this workload is resolved.
    added = proposed({ name: `${scope.name}-strict`, namespace: scope.namespace }, { ...labels });
  } else {
    const namespace = scope.kind === 'mesh' ? rootNamespace : scope.namespace;
    deciding = decidingPolicies(policies, rootNamespace, { namespace, labels: {} }).namespace;
    added = proposed({ name: 'default', namespace });
  }
  if (deciding) {
    const strict: PeerAuthentication = { ...deciding, mode: 'STRICT' };
    return {
      policies: policies.map((p) => (p === deciding ? strict : p)),
      description: `PeerAuthentication ${policyRef(deciding.metadata)} set to mtls.mode STRICT${deciding.portLevelMtls.size > 0 ? ' (its portLevelMtls kept)' : ''}`,
    };
  }
  const where = scope.kind === 'mesh' ? 'mesh-wide' : scope.kind === 'namespace' ? `namespace-wide` : 'selecting the workload';
  return { policies: [...policies, added], description: `a new ${where} PeerAuthentication ${policyRef(added.metadata)} with mtls.mode STRICT` };
}

function proposed(m: Pick<Metadata, 'name' | 'namespace'>, selector?: Record<string, string>): PeerAuthentication {
  return {
    kind: 'PeerAuthentication',
    source: { file: '(proposed by meshplane advise strict)', index: 0 },
    // The newest policy at its scope, as one applied now would be: an older one still wins a tie.
    metadata: { ...m, labels: {}, annotations: {} },
    ...(selector && { selector }),
    mode: 'STRICT',
    portLevelMtls: new Map(),
  };
}
