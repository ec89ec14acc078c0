import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import { loadOrCreateAuthority, type Authority } from './authority.ts';
import { cleanupTempDirs, hasOpenssl, opensslText, opensslVerify, tempDir } from './ca-test-helpers.ts';
import { issueServerCert, issueWorkloadCert, type IssuedCert } from './issue.ts';
import { spiffeId } from './spiffe.ts';
import { x509 } from './x509.ts';

const ID = spiffeId('cluster.local', 'shop', 'backend');
const roots = new Map<KeyAlgorithm, Authority>();

beforeAll(async () => {
  for (const alg of ['ECDSA_P256', 'RSA_2048'] as const) {
    const { authority } = await loadOrCreateAuthority(`${tempDir()}/state`, { keyAlgorithm: alg, rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });
    roots.set(alg, authority);
  }
});
afterAll(cleanupTempDirs);

function root(alg: KeyAlgorithm): Authority {
  return roots.get(alg)!;
}

/** The private key signs something the leaf's public key verifies, and the public halves are equal. */
function expectKeyMatchesLeaf(issued: IssuedCert): void {
  const leaf = new X509Certificate(issued.certChainPem);
  const key = createPrivateKey(issued.privateKeyPem);
  expect(createPublicKey(key).export({ type: 'spki', format: 'der' })).toEqual(leaf.publicKey.export({ type: 'spki', format: 'der' }));
  const data = Buffer.from('probe');
  expect(verify('sha256', data, leaf.publicKey, sign('sha256', data, key))).toBe(true);
}

const combos: Array<[KeyAlgorithm, KeyAlgorithm]> = [
  ['ECDSA_P256', 'ECDSA_P256'],
  ['RSA_2048', 'RSA_2048'],
  ['ECDSA_P256', 'RSA_2048'],
  ['RSA_2048', 'ECDSA_P256'],
];

describe('issueWorkloadCert', () => {
  it.each(combos)('%s root issues a valid %s workload leaf', async (rootAlg, leafAlg) => {
    const now = new Date();
    const issued = await issueWorkloadCert(root(rootAlg), { spiffeId: ID, ttlSeconds: 86400, keyAlgorithm: leafAlg, now });
    const leaf = new X509Certificate(issued.certChainPem);
    const rootCert = new X509Certificate(root(rootAlg).caCertPem);

    expect(leaf.checkIssued(rootCert)).toBe(true);
    expect(leaf.verify(rootCert.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.subject ?? '').toBe('');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // node lists the EKUs here
    expect(leaf.serialNumber.toLowerCase()).toBe(issued.serialNumber);
    expect(issued.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(new Date(leaf.validFrom).getTime()).toBe(issued.notBefore.getTime());
    expect(new Date(leaf.validTo).getTime()).toBe(issued.notAfter.getTime());
    expect(issued.notBefore.getTime()).toBe(Math.floor((now.getTime() - 120_000) / 1000) * 1000);
    expect(issued.notAfter.getTime()).toBe(Math.floor((now.getTime() + 86400_000) / 1000) * 1000);
    expect(issued.uriSans).toEqual([ID]);
    expect(issued.dnsNames).toEqual([]);
    expect(issued.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    expect(createPrivateKey(issued.privateKeyPem).asymmetricKeyType).toBe(leafAlg === 'RSA_2048' ? 'rsa' : 'ec');
    expectKeyMatchesLeaf(issued);

    if (hasOpenssl) {
      for (const purpose of ['sslclient', 'sslserver'] as const) {
        const r = opensslVerify(root(rootAlg).trustBundlePem, issued.certChainPem, purpose);
        expect(r.output).toContain(': OK');
        expect(r.ok).toBe(true);
      }
    }
  });

  it('has the Istio leaf profile, extension by extension', async () => {
    const authority = root('ECDSA_P256');
    const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
    const leaf = new x509.X509Certificate(issued.certChainPem);
    const basic = leaf.getExtension(x509.BasicConstraintsExtension)!;
    const usage = leaf.getExtension(x509.KeyUsagesExtension)!;
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect([basic.ca, basic.critical]).toEqual([false, true]);
    expect(usage.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(usage.critical).toBe(true);
    expect(san.critical).toBe(true);
    expect(san.names.toJSON()).toEqual([{ type: 'url', value: ID }]);
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(authority.caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    expect(leaf.subjectName.toJSON()).toEqual([]);
    expect(leaf.issuer).toBe(authority.caCert.subject);
    if (hasOpenssl) {
      const text = opensslText(issued.certChainPem);
      expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/backend\s/);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    }
  });

  it('gives every leaf its own key and serial', async () => {
    const certs = await Promise.all(Array.from({ length: 100 }, () => issueWorkloadCert(root('ECDSA_P256'), { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' })));
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(100);
    expect(new Set(certs.map((c) => c.privateKeyPem)).size).toBe(100);
  });

  it('never outlives the root', async () => {
    const authority = root('ECDSA_P256');
    const now = new Date(authority.caCert.notAfter.getTime() - 3600_000);
    const issued = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 86400, keyAlgorithm: 'ECDSA_P256', now });
    expect(issued.notAfter.getTime()).toBe(authority.caCert.notAfter.getTime());
  });

  it.each([
    [{ spiffeId: 'http://cluster.local/ns/a/sa/b' }, /does not start with spiffe:\/\//],
    [{ spiffeId: 'spiffe://Cluster.Local/ns/a/sa/b' }, /trust domain/],
    [{ spiffeId: 'spiffe://td/ns//sa/b' }, /path segment/],
    [{ ttlSeconds: 0 }, /ttlSeconds must be a positive number/],
    [{ now: new Date('2200-01-01T00:00:00Z') }, /root CA expired/],
  ])('rejects %j with CA_FAILED', async (override, message) => {
    const req = { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' as const, ...override };
    const err = await issueWorkloadCert(root('ECDSA_P256'), req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshplaneError);
    expect((err as MeshplaneError).code).toBe('CA_FAILED');
    expect((err as MeshplaneError).message).toMatch(message);
  });
});

describe('issueServerCert', () => {
  const req = { spiffeId: spiffeId('cluster.local', 'mesh-system', 'meshplane'), dnsNames: ['localhost', 'meshplane.local'], ipAddresses: ['127.0.0.1', '::1'], ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' as const };

  it('carries URI, DNS and IP SANs', async () => {
    const issued = await issueServerCert(root('ECDSA_P256'), req);
    const leaf = new X509Certificate(issued.certChainPem);
    expect(leaf.subjectAltName).toBe(`URI:${req.spiffeId}, DNS:localhost, DNS:meshplane.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBeDefined();
    expect(issued.uriSans).toEqual([req.spiffeId]);
    expect(issued.dnsNames).toEqual(['localhost', 'meshplane.local']);
    expectKeyMatchesLeaf(issued);
    if (hasOpenssl) expect(opensslVerify(root('ECDSA_P256').trustBundlePem, issued.certChainPem, 'sslserver').ok).toBe(true);
  });

  it('rejects a bad IP address or DNS name', async () => {
    await expect(issueServerCert(root('ECDSA_P256'), { ...req, ipAddresses: ['300.1.1.1'] })).rejects.toThrow(/"300\.1\.1\.1" is not an IP address/);
    await expect(issueServerCert(root('ECDSA_P256'), { ...req, dnsNames: ['bad name'] })).rejects.toThrow(/"bad name" is not a DNS name/);
  });

  it('completes a mutual TLS handshake with a workload cert (node/OpenSSL verifier)', async () => {
    for (const alg of ['ECDSA_P256', 'RSA_2048'] as const) {
      const authority = root(alg);
      const server = await issueServerCert(authority, { ...req, keyAlgorithm: alg });
      const client = await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 3600, keyAlgorithm: alg });
      const peers: string[] = [];
      const tlsServer = createServer(
        { key: server.privateKeyPem, cert: server.certChainPem, ca: authority.trustBundlePem, requestCert: true, rejectUnauthorized: true },
        (socket: TLSSocket) => {
          peers.push(socket.getPeerX509Certificate()?.subjectAltName ?? '');
          socket.end('ok');
        },
      );
      tlsServer.listen(0, '127.0.0.1');
      await once(tlsServer, 'listening');
      try {
        const { port } = tlsServer.address() as AddressInfo;
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: authority.trustBundlePem, key: client.privateKeyPem, cert: client.certChainPem });
        let reply = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (reply += chunk));
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        expect(socket.getPeerX509Certificate()?.subjectAltName).toContain(`URI:${req.spiffeId}`);
        await once(socket, 'end');
        socket.destroy();
        expect(reply).toBe('ok');
        expect(peers).toEqual([`URI:${ID}`]);
      } finally {
        tlsServer.close();
      }
    }
  });
});
