/**
 * Where workload certificates come from: the state dir's own roots (rotated with
 * `meshplane ca rotate-root`), or an intermediate CA the operator provides in
 * Mesh.spec.ca.intermediate (rotated by replacing its files and restarting). Either way the xDS
 * channel stays on the state dir's root, which every bootstrap pins.
 */
import type { CaSettings } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { loadProvidedCa } from './provided-ca.ts';
import { WorkloadRoots } from './workload-roots.ts';

export interface WorkloadCa {
  readonly mode: 'self-signed' | 'provided';
  /** The CA that signs workload certificates now. */
  signer(): Authority;
  /** The ROOTCA secret: every root a peer's certificate may chain to. */
  trustBundlePem(): string;
  /** Fingerprints of the roots in the bundle. */
  trustedRoots(): string[];
  trusts(rootFingerprint: string): boolean;
  /** Root rotation state; only for self-signed. */
  readonly rotation?: WorkloadRoots;
}

export async function openWorkloadCa(opts: { stateDir: string; configDir: string; control: Authority; ca: CaSettings }): Promise<WorkloadCa> {
  if (opts.ca.intermediate) {
    const provided = await loadProvidedCa(opts.ca.intermediate, { baseDir: opts.configDir });
    const roots = [provided.rootFingerprint];
    return {
      mode: 'provided',
      signer: () => provided,
      trustBundlePem: () => provided.trustBundlePem,
      trustedRoots: () => roots,
      trusts: (fp) => roots.includes(fp),
    };
  }
  const rotation = await WorkloadRoots.open(opts.stateDir, opts.control);
  return {
    mode: 'self-signed',
    signer: () => rotation.signer(),
    trustBundlePem: () => rotation.trustBundlePem,
    trustedRoots: () => rotation.info().map((r) => r.fingerprint),
    trusts: (fp) => rotation.trusts(fp),
    rotation,
  };
}
