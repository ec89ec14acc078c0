/** What a config reload compares: file content, changes that need a restart, CA settings. */
import { createHash } from 'node:crypto';
import type { Violation } from './errors.ts';
import type { CaSettings, MeshModel } from './model/types.ts';

/** One hash over every config file's name and text: equal hash, nothing to apply. */
export function hashFiles(files: readonly { file: string; text: string }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.file).update('\0').update(f.text).update('\0');
  return h.digest('hex');
}

/**
 * A change the running server cannot take: the trust domain names the xDS server's identity that
 * every bootstrap pins, and every workload identity.
 */
export function restartRequired(current: MeshModel, next: MeshModel): Violation | undefined {
  if (JSON.stringify(current.mesh.ca.intermediate) !== JSON.stringify(next.mesh.ca.intermediate)) {
    return {
      file: next.mesh.source.file,
      path: 'spec.ca.intermediate',
      message: 'changing which CA signs workload certificates changes the trust bundle of every proxy: restart `meshplane serve` to apply it',
      severity: 'error',
    };
  }
  if (current.mesh.trustDomain === next.mesh.trustDomain) return undefined;
  return {
    file: next.mesh.source.file,
    path: 'spec.trustDomain',
    message:
      `changing the trust domain (${current.mesh.trustDomain} -> ${next.mesh.trustDomain}) changes every identity and the ` +
      "xDS server's: restart `meshplane serve` with it, then give every proxy a new bootstrap",
    severity: 'error',
  };
}

export function sameCaSettings(a: CaSettings, b: CaSettings): boolean {
  return a.keyAlgorithm === b.keyAlgorithm && a.workloadCertTtlSeconds === b.workloadCertTtlSeconds && a.rotationRatio === b.rotationRatio;
}
