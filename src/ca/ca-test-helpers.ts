/**
 * Helpers shared by the CA tests: throwaway state dirs, an `openssl verify` wrapper (an
 * independent verifier; tests that need it are skipped when the CLI is absent), and operator-style
 * CA hierarchies (root -> intermediate(s)) written as files, for the provided-CA tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IntermediateCaFiles, KeyAlgorithm } from '../model/types.ts';
import { generateKeyPair, pemBlock, privateKeyPem, randomSerialHex } from './key-algorithms.ts';
import { subtle, x509 } from './x509.ts';

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

/** `openssl verify -x509_strict -CAfile root -untrusted chain -purpose <purpose> leaf`: a leaf through intermediates. */
export function opensslVerifyChain(rootPem: string, chainPem: string, leafPem: string, purpose: 'sslclient' | 'sslserver'): { ok: boolean; output: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), rootPem);
  writeFileSync(join(dir, 'chain.pem'), chainPem);
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const args = ['verify', '-x509_strict', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), '-purpose', purpose, join(dir, 'leaf.pem')];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** P-384 is here only to test that an unsupported CA key is refused. */
export type TestKeyAlgorithm = KeyAlgorithm | 'ECDSA_P384';

/** A CA certificate with its keys, as an operator's tooling would have made it. */
export interface TestCa {
  pem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface TestCaOptions {
  /** The subject CN. */
  name: string;
  /** The signer; absent for a self-signed root. */
  issuer?: TestCa;
  keyAlgorithm?: TestKeyAlgorithm;
  /** Reuse a key pair (e.g. a second root with the same name but another key, or a mismatched key file). */
  keys?: CryptoKeyPair;
  /** Default: now - 1 h .. now + 1 year. */
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints CA flag; default true. */
  ca?: boolean;
  pathLength?: number;
  /** KeyUsage flags; default keyCertSign | cRLSign; null leaves the extension out. */
  keyUsage?: number | null;
  /** false leaves out the SubjectKeyIdentifier, so only the signature tells a look-alike CA apart. */
  ski?: boolean;
}

async function testKeys(alg: TestKeyAlgorithm): Promise<CryptoKeyPair> {
  if (alg !== 'ECDSA_P384') return generateKeyPair(alg);
  return (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A CA certificate with SKI and (below the root) AKI, so `openssl verify -x509_strict` accepts it. */
export async function makeTestCa(opts: TestCaOptions): Promise<TestCa> {
  const keys = opts.keys ?? (await testKeys(opts.keyAlgorithm ?? 'ECDSA_P256'));
  const now = Date.now();
  const subject = `CN=${opts.name}, O=meshplane tests`;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(opts.ca ?? true, opts.pathLength, true)];
  if (opts.ski !== false) extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const usage = opts.keyUsage === undefined ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : opts.keyUsage;
  if (usage !== null) extensions.push(new x509.KeyUsagesExtension(usage, true));
  if (opts.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject,
    issuer: opts.issuer ? opts.issuer.cert.subjectName : subject,
    notBefore: opts.notBefore ?? new Date(now - 3600_000),
    notAfter: opts.notAfter ?? new Date(now + 365 * 86400_000),
    publicKey: keys.publicKey,
    signingKey: (opts.issuer?.keys ?? keys).privateKey,
    extensions,
  });
  return { pem: pemBlock(cert.rawData, 'CERTIFICATE'), cert, keys, keyPem: await privateKeyPem(keys.privateKey) };
}

/** A root and the intermediates below it, `intermediates[0]` being the signer (leaf side first). */
export interface TestHierarchy {
  root: TestCa;
  intermediates: TestCa[];
}

/** root -> intermediate (depth 1) or root -> intermediate -> intermediate (depth 2), one algorithm throughout. */
export async function makeTestHierarchy(opts: { keyAlgorithm?: KeyAlgorithm; depth?: 1 | 2 } = {}): Promise<TestHierarchy> {
  const keyAlgorithm = opts.keyAlgorithm ?? 'ECDSA_P256';
  const root = await makeTestCa({ name: 'test root CA', keyAlgorithm });
  const upper = await makeTestCa({ name: 'test intermediate CA', keyAlgorithm, issuer: root });
  if ((opts.depth ?? 1) === 1) return { root, intermediates: [upper] };
  const signer = await makeTestCa({ name: 'test issuing CA', keyAlgorithm, issuer: upper });
  return { root, intermediates: [signer, upper] };
}

export const TEST_CA_FILES = { certFile: 'ca-cert.pem', keyFile: 'ca-key.pem', rootCertFile: 'root-cert.pem', chainFile: 'cert-chain.pem' } as const;

/**
 * Writes a hierarchy as Istio's `cacerts` names it (ca-cert.pem, ca-key.pem 0600, root-cert.pem,
 * and cert-chain.pem holding only the further intermediates, when there are any) into a fresh
 * directory. Returns that directory (the baseDir) and the relative file names.
 */
export function writeTestHierarchy(h: TestHierarchy, dir = tempDir()): { dir: string; files: IntermediateCaFiles } {
  const [signer, ...upper] = h.intermediates;
  if (!signer) throw new Error('a hierarchy needs at least one intermediate');
  writeFileSync(join(dir, TEST_CA_FILES.certFile), signer.pem);
  writeFileSync(join(dir, TEST_CA_FILES.keyFile), signer.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, TEST_CA_FILES.rootCertFile), h.root.pem);
  const { chainFile, ...files } = TEST_CA_FILES;
  if (upper.length === 0) return { dir, files: { ...files } };
  writeFileSync(join(dir, chainFile), upper.map((c) => c.pem).join(''));
  return { dir, files: { ...files, chainFile } };
}
