/**
 * Helpers shared by the CA tests: throwaway state dirs and an `openssl verify` wrapper (an
 * independent verifier; tests that need it are skipped when the CLI is absent).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh directory under the OS temp dir; the state dir itself is `<it>/state` (not yet created). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshplane-ca-test-'));
  made.push(dir);
  return dir;
}

/** Removes every directory made by tempDir(); call from afterAll. */
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Whether the openssl CLI can be run. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** `openssl verify -CAfile root -purpose <purpose> leaf`: exit status and output. */
export function opensslVerify(rootPem: string, leafPem: string, purpose: 'sslclient' | 'sslserver'): { ok: boolean; output: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), rootPem);
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const r = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'root.pem'), '-purpose', purpose, join(dir, 'leaf.pem')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** `openssl x509 -text` of a PEM certificate. */
export function opensslText(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem, encoding: 'utf8' });
}
