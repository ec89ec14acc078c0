import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { loadOrCreateAuthority, type AuthorityOptions } from './authority.ts';
import { cleanupTempDirs, hasOpenssl, opensslText, tempDir } from './ca-test-helpers.ts';
import { issueWorkloadCert } from './issue.ts';
import { x509 } from './x509.ts';

afterAll(cleanupTempDirs);

const TEN_YEARS = 87600 * 3600;
const ecdsa: AuthorityOptions = { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: TEN_YEARS, trustDomain: 'cluster.local' };

function stateDir(): string {
  return join(tempDir(), 'state');
}

async function expectStateInvalid(promise: Promise<unknown>, file: string, text: string | RegExp): Promise<MeshplaneError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MeshplaneError);
  const e = err as MeshplaneError;
  expect(e.code).toBe('STATE_INVALID');
  expect(e.message).toContain(file);
  expect(e.message).toMatch(text);
  return e;
}

describe('loadOrCreateAuthority', () => {
  it('creates the root once and reuses it on the next start', async () => {
    const dir = stateDir();
    const first = await loadOrCreateAuthority(dir, ecdsa);
    const second = await loadOrCreateAuthority(dir, ecdsa);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.authority.rootFingerprint).toBe(first.authority.rootFingerprint);
    expect(second.authority.caCertPem).toBe(first.authority.caCertPem);
    expect(first.authority.trustBundlePem).toBe(first.authority.caCertPem);
    expect(first.authority.rootFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(new X509Certificate(first.authority.caCertPem).fingerprint256.replaceAll(':', '').toLowerCase()).toBe(first.authority.rootFingerprint);

    expect(statSync(join(dir, 'ca', 'root-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ca', 'root-cert.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ca')).mode & 0o777).toBe(0o700);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'ca', 'root-key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readdirSync(dir)).toEqual(['ca']); // no temp dir left behind
  });

  it('makes a self-signed ECDSA P-256 CA with the documented profile', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const { authority } = await loadOrCreateAuthority(stateDir(), { ...ecdsa, now });
    const cert = new X509Certificate(authority.caCertPem);
    expect(authority.keyAlgorithm).toBe('ECDSA_P256');
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('O=meshplane\nCN=meshplane root CA cluster.local');
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new Date(cert.validFrom).toISOString()).toBe('2029-12-31T23:59:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2039-12-30T00:00:00.000Z');
    expect(cert.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/); // 16 bytes, positive

    const basic = authority.caCert.getExtension(x509.BasicConstraintsExtension)!;
    const usage = authority.caCert.getExtension(x509.KeyUsagesExtension)!;
    expect([basic.ca, basic.critical]).toEqual([true, true]);
    expect(usage.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(usage.critical).toBe(true);
    expect(authority.caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    if (hasOpenssl) {
      const text = opensslText(authority.caCertPem);
      expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    }
  });

  it('makes an RSA-2048 root signing with SHA-256 PKCS#1 v1.5', async () => {
    const dir = stateDir();
    const { authority } = await loadOrCreateAuthority(dir, { ...ecdsa, keyAlgorithm: 'RSA_2048' });
    const cert = new X509Certificate(authority.caCertPem);
    expect(authority.keyAlgorithm).toBe('RSA_2048');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.verify(cert.publicKey)).toBe(true);
    if (hasOpenssl) expect(opensslText(authority.caCertPem)).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    // Reload: the algorithm comes from the stored key, whatever the mesh asks for now.
    const again = await loadOrCreateAuthority(dir, ecdsa);
    expect(again.authority.keyAlgorithm).toBe('RSA_2048');
    expect(again.authority.rootFingerprint).toBe(authority.rootFingerprint);
  });

  it('yields one root when several callers create it at once', async () => {
    const dir = stateDir();
    const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateAuthority(dir, ecdsa)));
    expect(new Set(results.map((r) => r.authority.rootFingerprint)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(['ca']);
  });

  it('yields one root when several processes create it at once', async () => {
    const dir = stateDir();
    const module = fileURLToPath(new URL('./authority.ts', import.meta.url));
    const script = `const { loadOrCreateAuthority } = await import(${JSON.stringify(module)});
      const r = await loadOrCreateAuthority(process.argv[1], { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 3600, trustDomain: 'td' });
      console.log(JSON.stringify({ fp: r.authority.rootFingerprint, created: r.created }));`;
    const run = promisify(execFile);
    const outs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], { cwd: process.cwd() })),
    );
    const results = outs.map((o) => JSON.parse(o.stdout.trim()) as { fp: string; created: boolean });
    expect(new Set(results.map((r) => r.fp)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await loadOrCreateAuthority(dir, ecdsa)).authority.rootFingerprint).toBe(results[0]!.fp);
  });

  describe('refuses a damaged state dir instead of making a new root', () => {
    async function made(opts: AuthorityOptions = ecdsa): Promise<{ dir: string; cert: string; key: string }> {
      const dir = stateDir();
      await loadOrCreateAuthority(dir, opts);
      return { dir, cert: join(dir, 'ca', 'root-cert.pem'), key: join(dir, 'ca', 'root-key.pem') };
    }

    it('corrupt key file', async () => {
      const { dir, key } = await made();
      writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n');
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), key, /not a valid unencrypted PEM private key/);
    });

    it('missing certificate', async () => {
      const { dir, cert } = await made();
      rmSync(cert);
      const e = await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), cert, /is missing/);
      expect(e.message).toMatch(/changes the root of trust/);
    });

    it('missing key', async () => {
      const { dir, key } = await made();
      rmSync(key);
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), key, /is missing/);
    });

    it('an empty ca/ directory', async () => {
      const dir = stateDir();
      mkdirSync(join(dir, 'ca'), { recursive: true });
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), join(dir, 'ca'), /holds neither/);
    });

    it('key of another root', async () => {
      const a = await made();
      const b = await made();
      copyFileSync(b.key, a.key);
      await expectStateInvalid(loadOrCreateAuthority(a.dir, ecdsa), a.key, /does not match the certificate/);
    });

    it('key of another algorithm', async () => {
      const a = await made();
      const b = await made({ ...ecdsa, keyAlgorithm: 'RSA_2048' });
      copyFileSync(b.key, a.key);
      await expectStateInvalid(loadOrCreateAuthority(a.dir, ecdsa), a.key, /does not match the certificate/);
    });

    it('garbage certificate', async () => {
      const { dir, cert } = await made();
      writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), cert, /not a valid PEM certificate/);
    });

    it('certificate file without a PEM block', async () => {
      const { dir, cert } = await made();
      writeFileSync(cert, 'hello\n');
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), cert, /exactly one PEM certificate, found 0/);
    });

    it('expired root', async () => {
      const dir = stateDir();
      await loadOrCreateAuthority(dir, { ...ecdsa, rootCertTtlSeconds: 3600, now: new Date('2020-01-01T00:00:00Z') });
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), join(dir, 'ca', 'root-cert.pem'), /expired at 2020-01-01T01:00:00\.000Z/);
    });

    it('certificate that is not a CA', async () => {
      const { dir, cert, key } = await made();
      const { authority } = await loadOrCreateAuthority(dir, ecdsa);
      const leaf = await issueWorkloadCert(authority, { spiffeId: 'spiffe://td/ns/a/sa/b', ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
      writeFileSync(cert, leaf.certChainPem);
      writeFileSync(key, leaf.privateKeyPem);
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), cert, /not a CA certificate/);
    });

    it.skipIf(process.platform === 'win32')('key file readable by others', async () => {
      const { dir, key } = await made();
      chmodSync(key, 0o644);
      await expectStateInvalid(loadOrCreateAuthority(dir, ecdsa), key, new RegExp(`mode 0644.*chmod 600 ${key}`));
    });
  });
});
