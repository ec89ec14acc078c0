import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import { loadOrCreateAuthority, type Authority } from './authority.ts';
import { cleanupTempDirs, hasOpenssl, opensslVerify, tempDir } from './ca-test-helpers.ts';
import { issueWorkloadCert, type IssuedCert, type WorkloadCertRequest } from './issue.ts';
import { createInlineIssuer, createIssuerPool, IssuerPool, type CertIssuer } from './issuer-pool.ts';
import { spiffeId } from './spiffe.ts';
import { x509 } from './x509.ts';

const ID = spiffeId('cluster.local', 'shop', 'backend');
const roots = new Map<KeyAlgorithm, Authority>();
const open: CertIssuer[] = [];

beforeAll(async () => {
  for (const alg of ['ECDSA_P256', 'RSA_2048'] as const) {
    const { authority } = await loadOrCreateAuthority(`${tempDir()}/state`, { keyAlgorithm: alg, rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });
    roots.set(alg, authority);
  }
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((p) => p.close()));
});
afterAll(cleanupTempDirs);

function root(alg: KeyAlgorithm): Authority {
  return roots.get(alg)!;
}

function pool(opts?: ConstructorParameters<typeof IssuerPool>[0]): IssuerPool {
  const p = createIssuerPool(opts) as IssuerPool;
  open.push(p);
  return p;
}

function req(overrides: Partial<WorkloadCertRequest> = {}): WorkloadCertRequest {
  return { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256', ...overrides };
}

/** What must be equal between two leaves of the same request: everything but key and serial. */
function profile(cert: IssuedCert) {
  const leaf = new x509.X509Certificate(cert.certChainPem);
  const node = new X509Certificate(cert.certChainPem);
  return {
    issuer: leaf.issuer,
    subject: leaf.subjectName.toJSON(),
    signatureAlgorithm: leaf.signatureAlgorithm,
    publicKeyAlgorithm: leaf.publicKey.algorithm,
    extensions: leaf.extensions.map((e) => ({ type: e.type, critical: e.critical, value: Buffer.from(e.value).toString('hex') })),
    subjectAltName: node.subjectAltName,
    chainCerts: cert.certChainPem.match(/BEGIN CERTIFICATE/g)?.length,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    validFrom: new Date(node.validFrom).getTime(),
    validTo: new Date(node.validTo).getTime(),
    uriSans: cert.uriSans,
    dnsNames: cert.dnsNames,
  };
}

function expectIssuedBy(cert: IssuedCert, authority: Authority): void {
  const leaf = new X509Certificate(cert.certChainPem);
  const ca = new X509Certificate(authority.caCertPem);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.serialNumber.toLowerCase()).toBe(cert.serialNumber);
  const key = createPrivateKey(cert.privateKeyPem);
  expect(createPublicKey(key).export({ type: 'spki', format: 'der' })).toEqual(leaf.publicKey.export({ type: 'spki', format: 'der' }));
  const data = Buffer.from('probe');
  expect(verify('sha256', data, leaf.publicKey, sign('sha256', data, key))).toBe(true);
}

describe('createIssuerPool', () => {
  it.each(['ECDSA_P256', 'RSA_2048'] as const)('issues a %s-signed leaf with exactly the inline profile', async (alg) => {
    const p = pool({ workers: 1 });
    const now = new Date();
    const [pooled, inline] = await Promise.all([p.issue(root(alg), req({ now })), issueWorkloadCert(root(alg), req({ now }))]);
    expect(pooled.notBefore).toBeInstanceOf(Date);
    expect(profile(pooled)).toEqual(profile(inline));
    expect(pooled.notAfter.getTime()).toBe(Math.floor((now.getTime() + 3600_000) / 1000) * 1000);
    expect(pooled.serialNumber).not.toBe(inline.serialNumber);
    expect(pooled.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    expectIssuedBy(pooled, root(alg));
    if (hasOpenssl) {
      for (const purpose of ['sslclient', 'sslserver'] as const) expect(opensslVerify(root(alg).trustBundlePem, pooled.certChainPem, purpose).ok).toBe(true);
    }
  });

  it('issues RSA leaves too', async () => {
    const cert = await pool({ workers: 1 }).issue(root('ECDSA_P256'), req({ keyAlgorithm: 'RSA_2048' }));
    expect(createPrivateKey(cert.privateKeyPem).asymmetricKeyType).toBe('rsa');
    expectIssuedBy(cert, root('ECDSA_P256'));
  });

  it('serves two authorities from one pool, sending each signer to a worker once', async () => {
    const post = vi.spyOn(Worker.prototype, 'postMessage');
    const p = pool({ workers: 2 });
    const ids = Array.from({ length: 40 }, (_, i) => spiffeId('cluster.local', 'ns', `sa-${i}`));
    const certs = await Promise.all(ids.map((id, i) => p.issue(root(i % 2 ? 'RSA_2048' : 'ECDSA_P256'), req({ spiffeId: id }))));
    certs.forEach((cert, i) => {
      const mine = root(i % 2 ? 'RSA_2048' : 'ECDSA_P256');
      const other = root(i % 2 ? 'ECDSA_P256' : 'RSA_2048');
      expectIssuedBy(cert, mine);
      expect(new X509Certificate(cert.certChainPem).verify(new X509Certificate(other.caCertPem).publicKey)).toBe(false);
      expect(cert.uriSans).toEqual([ids[i]]);
    });
    const sent = post.mock.calls.map(([msg]) => msg as { type: string });
    expect(sent.filter((m) => m.type === 'signer').length).toBeLessThanOrEqual(4); // 2 signers x 2 workers
    expect(sent.filter((m) => m.type === 'issue')).toHaveLength(40);
    for (const m of sent.filter((m) => m.type !== 'signer')) expect(JSON.stringify(m)).not.toContain('PRIVATE KEY');
  });

  it('issues 200 requested at once, each with its own key and serial', async () => {
    const p = pool({ workers: 2 });
    const all = Array.from({ length: 200 }, () => p.issue(root('ECDSA_P256'), req()));
    expect(p.pending).toBe(200);
    const certs = await Promise.all(all);
    expect(p.pending).toBe(0);
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(200);
    expect(new Set(certs.map((c) => c.privateKeyPem)).size).toBe(200);
    expectIssuedBy(certs[199]!, root('ECDSA_P256'));
  });

  it('reports issuance errors as CA_FAILED with the issuer message', async () => {
    const p = pool({ workers: 1 });
    for (const [bad, message] of [
      [{ spiffeId: 'http://cluster.local/ns/a/sa/b' }, /does not start with spiffe:\/\//],
      [{ ttlSeconds: 0 }, /ttlSeconds must be a positive number/],
      [{ now: new Date('2200-01-01T00:00:00Z') }, /root CA expired/],
    ] as const) {
      const err = await p.issue(root('ECDSA_P256'), req(bad)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshplaneError);
      expect((err as MeshplaneError).code).toBe('CA_FAILED');
      expect((err as MeshplaneError).message).toMatch(message);
      const inline = await issueWorkloadCert(root('ECDSA_P256'), req(bad)).catch((e: unknown) => e);
      expect((err as Error).message).toBe((inline as Error).message);
    }
    expect(p.pending).toBe(0);
  });

  it('fails clearly, without the key in the message, when the signing key cannot be loaded', async () => {
    const broken = { ...root('ECDSA_P256'), caKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n' };
    const err = await pool({ workers: 1 }).issue(broken, req()).catch((e: unknown) => e);
    expect((err as MeshplaneError).code).toBe('CA_FAILED');
    expect((err as Error).message).toMatch(/could not load the signing CA/);
    expect((err as Error).message).not.toMatch(/BEGIN|MIGHAgEA/);
  });

  it('fails the in-flight requests of a crashed worker and keeps serving', async () => {
    const p = pool({ workers: 1, inFlightPerWorker: 4 });
    const results = Array.from({ length: 12 }, () => p.issue(root('ECDSA_P256'), req()).then((c) => c, (e: unknown) => e as Error));
    p.faultWorkerForTest('crash');
    const settled = await Promise.all(results);
    const failed = settled.filter((r): r is Error => r instanceof Error);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(4); // only what was in flight
    for (const err of failed) {
      expect((err as MeshplaneError).code).toBe('CA_FAILED');
      expect(err.message).toMatch(/certificate issuer worker crashed \(.*simulated crash.*\) while issuing it/);
    }
    for (const ok of settled.filter((r) => !(r instanceof Error))) expectIssuedBy(ok as IssuedCert, root('ECDSA_P256'));
    expect(p.pending).toBe(0);
    expectIssuedBy(await p.issue(root('ECDSA_P256'), req()), root('ECDSA_P256'));
  });

  it('gives up on a worker that stops responding, fails its in-flight requests and keeps serving', async () => {
    const p = pool({ workers: 1, inFlightPerWorker: 2, stallTimeoutMs: 300 });
    await p.issue(root('ECDSA_P256'), req()); // started
    p.faultWorkerForTest('hang');
    const settled = await Promise.all(Array.from({ length: 6 }, () => p.issue(root('ECDSA_P256'), req()).then((c) => c, (e: unknown) => e as Error)));
    const failed = settled.filter((r): r is Error => r instanceof Error);
    expect(failed).toHaveLength(2); // the two in flight on the hung worker
    for (const err of failed) expect(err.message).toMatch(/certificate issuer worker stopped responding \(nothing for [\d.]+ s\) while issuing it/);
    for (const ok of settled.filter((r) => !(r instanceof Error))) expectIssuedBy(ok as IssuedCert, root('ECDSA_P256'));
    expect(p.pending).toBe(0);
  });

  it('close() rejects what is still queued, and every later request', async () => {
    const p = pool({ workers: 1, inFlightPerWorker: 1 });
    const results = Array.from({ length: 20 }, () => p.issue(root('ECDSA_P256'), req()).then(() => 'ok', (e: unknown) => e as Error));
    await p.close();
    const settled = await Promise.all(results);
    const failed = settled.filter((r): r is Error => r instanceof Error);
    expect(failed.length).toBeGreaterThanOrEqual(19);
    for (const err of failed) expect(err.message).toMatch(/issuer pool was closed/);
    expect(p.pending).toBe(0);
    await expect(p.issue(root('ECDSA_P256'), req())).rejects.toThrow(/issuer is closed/);
    await p.close(); // idempotent
  });

  it('keeps the event loop responsive while 500 certificates are issued', async () => {
    const p = pool();
    await p.issue(root('ECDSA_P256'), req()); // workers started
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const certs = await Promise.all(Array.from({ length: 500 }, () => p.issue(root('ECDSA_P256'), req())));
    delay.disable();
    expect(certs).toHaveLength(500);
    // Generous: the test shares the machine with other test files. bench/cert-storm.ts measures.
    expect(delay.max / 1e6).toBeLessThan(100);
  });

  it('rejects bad settings', () => {
    expect(() => createIssuerPool({ workers: 0 })).toThrow(/workers must be a positive integer/);
    expect(() => createIssuerPool({ inFlightPerWorker: 1.5 })).toThrow(/inFlightPerWorker must be a positive integer/);
  });
});

describe('createInlineIssuer', () => {
  it('issues on the main thread with the same profile and counts pending', async () => {
    const inline = createInlineIssuer();
    const now = new Date();
    const pending = inline.issue(root('ECDSA_P256'), req({ now }));
    expect(inline.pending).toBe(1);
    const cert = await pending;
    expect(inline.pending).toBe(0);
    expect(profile(cert)).toEqual(profile(await issueWorkloadCert(root('ECDSA_P256'), req({ now }))));
    expectIssuedBy(cert, root('ECDSA_P256'));
    await inline.close();
    await expect(inline.issue(root('ECDSA_P256'), req())).rejects.toThrow(/issuer is closed/);
  });
});
