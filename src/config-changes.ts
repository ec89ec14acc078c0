/** What a config reload compares: file content, changes that need a restart, CA settings. */
import type { Violation } from './errors.ts';
import type { CaSettings, MeshModel } from './model/types.ts';
import { sameFileContent, type ConfigFile } from './model/parse-documents.ts';

/**
 * The same config files (names and contents, in directory order): nothing to apply. Contents are
 * compared byte for byte when read from disk (a comparison, not a hash: far cheaper on a large config).
 */
export function sameFiles(a: readonly ConfigFile[], b: readonly ConfigFile[]): boolean {
  return a.length === b.length && a.every((f, i) => f.file === b[i]!.file && sameFileContent(f, b[i]!));
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
