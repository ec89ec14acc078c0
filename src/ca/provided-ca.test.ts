import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import type { IntermediateCaFiles, KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import {
  cleanupTempDirs,
  hasOpenssl,
  makeTestCa,
  makeTestHierarchy,
  opensslVerifyChain,
  tempDir,
  type TestHierarchy,
  writeTestHierarchy,
} from './ca-test-helpers.ts';
import { issueWorkloadCert } from './issue.ts';
import { loadProvidedCa } from './provided-ca.ts';
import { spiffeId } from './spiffe.ts';

const ID = spiffeId('cluster.local', 'shop', 'backend');
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g;

let ec1: TestHierarchy; // root -> intermediate, ECDSA P-256
let ec2: TestHierarchy; // root -> intermediate -> issuing intermediate, ECDSA P-256
let rsa1: TestHierarchy; // root -> intermediate, RSA 2048

beforeAll(async () => {
  [ec1, ec2, rsa1] = await Promise.all([
    makeTestHierarchy(),
    makeTestHierarchy({ depth: 2 }),
    makeTestHierarchy({ keyAlgorithm: 'RSA_2048' }),
  ]);
});
afterAll(cleanupTempDirs);

function sha256(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

function load(w: { dir: string; files: IntermediateCaFiles }, now?: Date): Promise<Authority> {
  return loadProvidedCa(w.files, now ? { baseDir: w.dir, now } : { baseDir: w.dir });
}

/** Every certificate of `chainPem` is issued and signed by the next; the last by `rootPem`. */
function expectVerifiesToRoot(chainPem: string, rootPem: string): void {
  const certs = [...(chainPem.match(PEM_CERT) ?? []), rootPem].map((pem) => new X509Certificate(pem));
  for (let i = 0; i < certs.length - 1; i++) {
    expect(certs[i]!.checkIssued(certs[i + 1]!), `certificate ${i} issued by ${i + 1}`).toBe(true);
    expect(certs[i]!.verify(certs[i + 1]!.publicKey), `certificate ${i} signed by ${i + 1}`).toBe(true);
  }
  const root = certs[certs.length - 1]!;
  expect(root.checkIssued(root) && root.verify(root.publicKey)).toBe(true);
}

async function expectConfigError(promise: Promise<unknown>, file: string, ...fragments: string[]): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MeshplaneError);
  const e = err as MeshplaneError;
  expect(e.code).toBe('CONFIG_INVALID');
  expect(e.message.startsWith(file), e.message).toBe(true);
  for (const f of fragments) expect(e.message).toContain(f);
}

const hierarchies: Array<[string, () => TestHierarchy, KeyAlgorithm]> = [
  ['ECDSA root -> intermediate', () => ec1, 'ECDSA_P256'],
  ['ECDSA root -> intermediate -> intermediate', () => ec2, 'ECDSA_P256'],
  ['RSA root -> intermediate', () => rsa1, 'RSA_2048'],
];

describe('loadProvidedCa', () => {
  it('makes the intermediate the signer, with the chain leaves carry and the roots peers trust', async () => {
    const w = writeTestHierarchy(ec2);
    const authority = await load(w);
    const [signer, upper] = ec2.intermediates;
    expect(authority.keyAlgorithm).toBe('ECDSA_P256');
    expect(authority.caCertPem).toBe(signer!.pem);
    expect(authority.caCert.subject).toBe(signer!.cert.subject);
    expect(authority.chainPem).toBe(signer!.pem + upper!.pem);
    expect(authority.trustBundlePem).toBe(ec2.root.pem);
    expect(authority.rootFingerprint).toBe(sha256(ec2.root.pem));
    expect(authority.caKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(authority.caKeyPem).export({ format: 'jwk' })).toEqual(createPrivateKey(signer!.keyPem).export({ format: 'jwk' }));
  });

  describe.each(hierarchies)('%s', (_name, hierarchy, alg) => {
    it.each(['ECDSA_P256', 'RSA_2048'] as const)(`a %s leaf carries the intermediates and verifies to the root (node:crypto)`, async (leafAlg) => {
      const h = hierarchy();
      const authority = await load(writeTestHierarchy(h));
      expect(authority.keyAlgorithm).toBe(alg); // the CA key's own algorithm, whatever the leaves use
      const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: leafAlg });
      const blocks = issued.certChainPem.match(PEM_CERT)!;
      expect(blocks).toHaveLength(1 + h.intermediates.length);
      expect(blocks.slice(1).join('')).toBe(h.intermediates.map((c) => c.pem).join(''));
      expect(new X509Certificate(blocks[0]!).subjectAltName).toBe(`URI:${ID}`);
      expectVerifiesToRoot(issued.certChainPem, authority.trustBundlePem);
    });

    it.skipIf(!hasOpenssl)(`openssl verify -CAfile root -untrusted chain accepts the leaf${hasOpenssl ? '' : ' (SKIPPED: no openssl binary)'}`, async () => {
      const authority = await load(writeTestHierarchy(hierarchy()));
      const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
      const [leaf, ...chain] = issued.certChainPem.match(PEM_CERT)!;
      for (const purpose of ['sslclient', 'sslserver'] as const) {
        const r = opensslVerifyChain(authority.trustBundlePem, chain.join(''), leaf!, purpose);
        expect(r.output).toContain('OK');
        expect(r.ok, r.output).toBe(true);
      }
      // Without the intermediates the leaf does not verify: the chain is what makes it work.
      expect(opensslVerifyChain(authority.trustBundlePem, '', leaf!, 'sslclient').ok).toBe(false);
    });
  });

  it('resolves relative paths against baseDir and takes absolute paths as they are', async () => {
    const w = writeTestHierarchy(ec1);
    const parent = dirname(w.dir);
    const sub = basename(w.dir);
    const files = { certFile: join(w.dir, 'ca-cert.pem'), keyFile: `${sub}/ca-key.pem`, rootCertFile: `./${sub}/../${sub}/root-cert.pem` };
    expect((await loadProvidedCa(files, { baseDir: parent })).caCertPem).toBe(ec1.intermediates[0]!.pem);
    const elsewhere = tempDir();
    await expectConfigError(loadProvidedCa(w.files, { baseDir: elsewhere }), join(elsewhere, 'ca-cert.pem'), 'does not exist', `resolved against the config directory ${elsewhere}`);
  });

  it('reads SEC1 EC and PKCS#1 RSA keys as well as PKCS#8, and hands out PKCS#8', async () => {
    for (const [h, type] of [[ec1, 'sec1'], [rsa1, 'pkcs1']] as const) {
      const w = writeTestHierarchy(h);
      const legacy = createPrivateKey(h.intermediates[0]!.keyPem).export({ type, format: 'pem' }).toString();
      expect(legacy).toMatch(type === 'sec1' ? /BEGIN EC PRIVATE KEY/ : /BEGIN RSA PRIVATE KEY/);
      writeFileSync(join(w.dir, w.files.keyFile), legacy);
      const authority = await load(w);
      expect(authority.caKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
      expectVerifiesToRoot(issued.certChainPem, h.root.pem);
    }
  });

  it('accepts several roots: trusts them all, and names the one the chain ends at', async () => {
    const other = await makeTestCa({ name: 'another root CA' });
    const w = writeTestHierarchy(ec1);
    writeFileSync(join(w.dir, w.files.rootCertFile), other.pem + ec1.root.pem);
    const authority = await load(w);
    expect(authority.trustBundlePem).toBe(other.pem + ec1.root.pem);
    expect(authority.rootFingerprint).toBe(sha256(ec1.root.pem));
  });

  it("accepts Istio's cert-chain.pem (ca-cert + intermediates + root) without repeating them in leaves", async () => {
    const w = writeTestHierarchy(ec2);
    const [signer, upper] = ec2.intermediates;
    writeFileSync(join(w.dir, 'cert-chain.pem'), signer!.pem + upper!.pem + ec2.root.pem);
    expect((await load(w)).chainPem).toBe(signer!.pem + upper!.pem);
  });

  it(`signs leaves with an intermediate whose pathLen is 0${hasOpenssl ? '' : ' (openssl check SKIPPED: no openssl binary)'}`, async () => {
    const intermediate = await makeTestCa({ name: 'pathlen 0 CA', issuer: ec1.root, pathLength: 0 });
    const h = { root: ec1.root, intermediates: [intermediate] };
    const authority = await load(writeTestHierarchy(h));
    const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
    expectVerifiesToRoot(issued.certChainPem, ec1.root.pem);
    if (hasOpenssl) {
      const [leaf, ...chain] = issued.certChainPem.match(PEM_CERT)!;
      const r = opensslVerifyChain(ec1.root.pem, chain.join(''), leaf!, 'sslserver');
      expect(r.ok, r.output).toBe(true);
    }
  });
});

describe('loadProvidedCa refuses, naming the file and what to do', () => {
  /** The ECDSA root -> intermediate files, with `edit` applied (file name -> new content). */
  function withFiles(edit: Record<string, string> = {}, h: TestHierarchy = ec1): { dir: string; files: IntermediateCaFiles } {
    const w = writeTestHierarchy(h);
    for (const [name, text] of Object.entries(edit)) writeFileSync(join(w.dir, name), text, { mode: 0o600 });
    return w;
  }
  const path = (w: { dir: string }, name: string): string => join(w.dir, name);

  it.each(['certFile', 'keyFile', 'rootCertFile', 'chainFile'] as const)('a missing %s', async (field) => {
    const w = writeTestHierarchy(ec2);
    const files = { ...w.files, [field]: 'nope.pem' };
    await expectConfigError(load({ dir: w.dir, files }), path(w, 'nope.pem'), `(spec.ca.intermediate.${field}) does not exist`);
  });

  it('an unreadable file (a directory)', async () => {
    const w = withFiles();
    await expectConfigError(load({ dir: w.dir, files: { ...w.files, rootCertFile: '.' } }), w.dir, 'cannot be read');
  });

  it.each(['0640', '0604', '0644'])('a key file others can access (mode %s)', async (mode) => {
    const w = withFiles();
    chmodSync(path(w, 'ca-key.pem'), parseInt(mode, 8));
    await expectConfigError(load(w), path(w, 'ca-key.pem'), `(mode ${mode})`, 'private key', `chmod 600 ${path(w, 'ca-key.pem')}`);
  });

  it('an encrypted key', async () => {
    const encrypted = createPrivateKey(ec1.intermediates[0]!.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
    const w = withFiles({ 'ca-key.pem': encrypted });
    await expectConfigError(load(w), path(w, 'ca-key.pem'), 'is encrypted', 'openssl pkey');
  });

  it('a key file that holds a certificate, or garbage', async () => {
    let w = withFiles({ 'ca-key.pem': ec1.intermediates[0]!.pem });
    await expectConfigError(load(w), path(w, 'ca-key.pem'), 'did you swap certFile and keyFile');
    w = withFiles({ 'ca-key.pem': 'not a key' });
    await expectConfigError(load(w), path(w, 'ca-key.pem'), 'is not a valid PEM private key');
  });

  it('a key that is not the certificate\'s', async () => {
    const w = withFiles({ 'ca-key.pem': ec2.intermediates[0]!.keyPem });
    await expectConfigError(load(w), path(w, 'ca-key.pem'), `is not the private key of ${path(w, 'ca-cert.pem')}`);
  });

  it('a key of an unsupported algorithm (ECDSA P-384)', async () => {
    const intermediate = await makeTestCa({ name: 'p384 CA', issuer: ec1.root, keyAlgorithm: 'ECDSA_P384' });
    const w = writeTestHierarchy({ root: ec1.root, intermediates: [intermediate] });
    await expectConfigError(load(w), path(w, 'ca-key.pem'), 'holds a ec secp384r1 key', 'ECDSA P-256 or RSA 2048 only');
  });

  it('a certFile with two certificates, none, DER-looking text, or a private key', async () => {
    const [signer, upper] = ec2.intermediates;
    let w = withFiles({ 'ca-cert.pem': signer!.pem + upper!.pem });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'must hold exactly one certificate', 'found 2', 'chainFile');
    w = withFiles({ 'ca-cert.pem': '' });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'holds no PEM certificate', 'openssl x509 -inform der');
    w = withFiles({ 'ca-cert.pem': ec1.intermediates[0]!.keyPem });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'did you swap certFile and keyFile');
    w = withFiles({ 'ca-cert.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'is not a valid certificate');
  });

  it('a certFile that is not a CA, or may not sign certificates', async () => {
    const leafLike = await makeTestCa({ name: 'not a CA', issuer: ec1.root, ca: false, keyUsage: null });
    let w = writeTestHierarchy({ root: ec1.root, intermediates: [leafLike] });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'is not a CA certificate', 'CN=not a CA');
    const noCertSign = await makeTestCa({ name: 'crl only', issuer: ec1.root, keyUsage: 0x02 /* cRLSign */ });
    w = writeTestHierarchy({ root: ec1.root, intermediates: [noCertSign] });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'lacks keyCertSign');
  });

  it('a certFile that is a self-signed root', async () => {
    const w = withFiles({ 'ca-cert.pem': ec1.root.pem });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'is a self-signed root', 'issue an intermediate');
  });

  it('an expired or not yet valid certFile', async () => {
    const now = Date.now();
    const expired = await makeTestCa({ name: 'old CA', issuer: ec1.root, notBefore: new Date(now - 2 * 86400_000), notAfter: new Date(now - 86400_000) });
    let w = writeTestHierarchy({ root: ec1.root, intermediates: [expired] });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'CN=old CA', 'expired at', 'renew it');
    const future = await makeTestCa({ name: 'future CA', issuer: ec1.root, notBefore: new Date(now + 86400_000) });
    w = writeTestHierarchy({ root: ec1.root, intermediates: [future] });
    await expectConfigError(load(w), path(w, 'ca-cert.pem'), 'is not valid until', 'clock');
    // Good files, judged two years later (opts.now).
    w = writeTestHierarchy(ec1);
    await expectConfigError(load(w, new Date(now + 2 * 365 * 86400_000)), path(w, 'ca-cert.pem'), 'expired at');
  });

  it('an expired intermediate in chainFile, or an expired root', async () => {
    const now = Date.now();
    const oldUpper = await makeTestCa({ name: 'old upper CA', issuer: ec1.root, notBefore: new Date(now - 2 * 86400_000), notAfter: new Date(now - 86400_000) });
    const signer = await makeTestCa({ name: 'issuing CA', issuer: oldUpper });
    let w = writeTestHierarchy({ root: ec1.root, intermediates: [signer, oldUpper] });
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'CN=old upper CA', 'expired at');
    const oldRoot = await makeTestCa({ name: 'old root', notBefore: new Date(now - 2 * 86400_000), notAfter: new Date(now - 1000) });
    w = writeTestHierarchy({ root: oldRoot, intermediates: [await makeTestCa({ name: 'child', issuer: oldRoot })] });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'CN=old root', 'expired at');
  });

  it('a two-level hierarchy without chainFile', async () => {
    const w = writeTestHierarchy(ec2);
    await expectConfigError(load({ dir: w.dir, files: { ...w.files, chainFile: undefined } }), path(w, 'root-cert.pem'), 'holds no root that issued', 'list that intermediate in chainFile');
  });

  it('a chainFile holding an unrelated intermediate, or one in the wrong order', async () => {
    const [signer, upper] = ec2.intermediates;
    const unrelated = await makeTestCa({ name: 'unrelated CA', issuer: ec2.root });
    let w = withFiles({ 'cert-chain.pem': unrelated.pem + upper!.pem }, ec2);
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'certificate 1 (CN=unrelated CA', 'which did not issue the certificate (CN=test issuing CA', 'in order');
    // root -> a -> b -> c with chainFile listing a before b.
    const a = await makeTestCa({ name: 'a', issuer: ec1.root });
    const b = await makeTestCa({ name: 'b', issuer: a });
    const c = await makeTestCa({ name: 'c', issuer: b });
    w = writeTestHierarchy({ root: ec1.root, intermediates: [c, a, b] });
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'certificate 1 (CN=a', 'did not issue the certificate (CN=c', 'certFile\'s issuer first');
    w = writeTestHierarchy({ root: ec1.root, intermediates: [c, b, a] });
    await expect(load(w)).resolves.toBeDefined();
    // Same name, another key: caught by the key identifiers, or (without them) by the signature.
    for (const ski of [true, false]) {
      const lookalike = await makeTestCa({ name: 'test intermediate CA', issuer: ec2.root, keys: ec1.intermediates[0]!.keys, ski });
      expect(signer!.cert.issuer).toBe(lookalike.cert.subject);
      w = withFiles({ 'cert-chain.pem': lookalike.pem }, ec2);
      await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'has the name of the issuer of the certificate (CN=test issuing CA', 'but not its key');
    }
  });

  it('a chainFile that is empty, holds a non-CA, or ends with a root rootCertFile lacks', async () => {
    let w = withFiles({ 'cert-chain.pem': '' }, ec2);
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'holds no PEM certificate');
    const other = await makeTestCa({ name: 'stray root' });
    w = withFiles({ 'cert-chain.pem': ec2.intermediates[1]!.pem + other.pem }, ec2);
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'ends with certificate 2 (CN=stray root', 'add it to rootCertFile');
    const notCa = await makeTestCa({ name: 'test intermediate CA', issuer: ec2.root, ca: false, keyUsage: null });
    w = withFiles({ 'cert-chain.pem': notCa.pem }, ec2);
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'is not a CA certificate');
  });

  it('a rootCertFile without the root, or with the wrong key under the right name', async () => {
    let w = withFiles({ 'root-cert.pem': (await makeTestCa({ name: 'unrelated root' })).pem });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'holds no root that issued', 'add that root to rootCertFile');
    for (const ski of [true, false]) {
      const lookalike = await makeTestCa({ name: 'test root CA', ski });
      w = withFiles({ 'root-cert.pem': lookalike.pem });
      await expectConfigError(load(w), path(w, 'root-cert.pem'), 'holds a root with the name of the issuer', 'but not its key');
    }
  });

  it('a rootCertFile that is empty, holds an intermediate, or a self-signed non-CA', async () => {
    let w = withFiles({ 'root-cert.pem': '' });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'holds no PEM certificate');
    w = withFiles({ 'root-cert.pem': ec1.root.pem + ec2.intermediates[1]!.pem });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'certificate 2 (', 'is not a self-signed root', 'move intermediates to chainFile');
    const selfSignedLeaf = await makeTestCa({ name: 'self-signed leaf', ca: false, keyUsage: null });
    w = withFiles({ 'root-cert.pem': selfSignedLeaf.pem + ec1.root.pem });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'is not a CA certificate');
  });

  it('a pathLen the hierarchy exceeds (root or upper intermediate)', async () => {
    const root = await makeTestCa({ name: 'strict root', pathLength: 0 });
    let w = writeTestHierarchy({ root, intermediates: [await makeTestCa({ name: 'child', issuer: root })] });
    await expectConfigError(load(w), path(w, 'root-cert.pem'), 'CN=strict root', 'pathLen 0 allows 0 CA certificate(s) below it, but this hierarchy has 1');
    const upper = await makeTestCa({ name: 'upper', issuer: ec1.root, pathLength: 0 });
    w = writeTestHierarchy({ root: ec1.root, intermediates: [await makeTestCa({ name: 'issuing', issuer: upper }), upper] });
    await expectConfigError(load(w), path(w, 'cert-chain.pem'), 'CN=upper', 'pathLen 0', 'has 1');
    // pathLen 1 on the upper intermediate is enough for one CA below it.
    const roomy = await makeTestCa({ name: 'roomy', issuer: ec1.root, pathLength: 1 });
    await expect(load(writeTestHierarchy({ root: ec1.root, intermediates: [await makeTestCa({ name: 'issuing', issuer: roomy }), roomy] }))).resolves.toBeDefined();
  });
});
