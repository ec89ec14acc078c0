import type { RotationPhase } from './workload-roots.ts';

/** What a connected proxy holds, as far as root rotation cares. */
export interface ProxyTrustState {
  nodeId: string;
  /** It ACKed the secrets it was last sent (so it holds the bundle and certificate below). */
  secretsAcked: boolean;
  /** Fingerprints of the roots in the trust bundle it was last sent. */
  trustedRoots: readonly string[];
  /** Fingerprint of the root its certificate, as last sent, chains to. */
  certRoot?: string;
}

/**
 * Whether the current rotation phase has reached every connected proxy, so the next may start:
 * trust-both is done when every proxy trusts the new root; issue-next when every proxy holds a
 * certificate from it. `waitingFor` names the proxies still behind, for status and logs.
 */
export function rotationStepDone(phase: RotationPhase, nextRoot: string, proxies: readonly ProxyTrustState[]): { done: boolean; waitingFor: string[] } {
  if (phase === 'stable') return { done: false, waitingFor: [] };
  const behind = proxies.filter((p) =>
    !p.secretsAcked || (phase === 'trust-both' ? !p.trustedRoots.includes(nextRoot) : p.certRoot !== nextRoot),
  );
  return { done: behind.length === 0, waitingFor: behind.map((p) => p.nodeId).sort() };
}
