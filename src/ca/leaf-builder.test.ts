import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '../model/types.ts';
import { loadOrCreateAuthority, type Authority } from './authority.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { derTime, derUnsignedInteger, ipAddressBytes, readDer, readDerChildren } from './der.ts';
import { generateKeyPair, pemBlock, randomSerialHex } from './key-algorithms.ts';
import { encodeLeafTbs, generateLeafKey, leafSignerOf, pem, signTbs, type LeafFields, type LeafSigner } from './leaf-builder.ts';
import { leafExtensions } from './issue.ts';
import { subtle, x509 } from './x509.ts';

const roots = new Map<KeyAlgorithm, Authority>();
beforeAll(async () => {
  for (const alg of ['ECDSA_P256', 'RSA_2048'] as const) {
    const { authority } = await loadOrCreateAuthority(`${tempDir()}/state`, { keyAlgorithm: alg, rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });
    roots.set(alg, authority);
  }
});
afterAll(cleanupTempDirs);

/** The certificate @peculiar/x509 makes of the same fields (issue.ts's builder before leaf-builder.ts). */
async function referenceCert(authority: Authority, extensions: x509.Extension[], f: LeafFields, spki: Uint8Array): Promise<x509.X509Certificate> {
  const sans: x509.JsonGeneralName[] = [
    ...f.uris.map((value): x509.JsonGeneralName => ({ type: 'url', value })),
    ...f.dnsNames.map((value): x509.JsonGeneralName => ({ type: 'dns', value })),
    ...f.ipAddresses.map((value): x509.JsonGeneralName => ({ type: 'ip', value })),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: f.serialNumber,
    issuer: authority.caCert.subjectName,
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    publicKey: new Uint8Array(spki).buffer,
    signingKey: authority.caKeys.privateKey,
    extensions: [...extensions, new x509.SubjectAlternativeNameExtension(sans, true)],
  });
}

/** The TBSCertificate bytes of a DER certificate. */
function tbsOf(der: Uint8Array): Buffer {
  const [tbs] = readDerChildren(der, readDer(der));
  return Buffer.from(der.subarray(tbs!.start, tbs!.end));
}

const workload = (overrides: Partial<LeafFields> = {}): LeafFields => ({
  keyAlgorithm: 'ECDSA_P256',
  serialNumber: randomSerialHex(),
  notBefore: new Date('2026-03-01T10:00:00Z'),
  notAfter: new Date('2026-03-02T10:00:00Z'),
  uris: ['spiffe://cluster.local/ns/shop/sa/backend'],
  dnsNames: [],
  ipAddresses: [],
  ...overrides,
});

describe('leaf-builder', () => {
  const cases: Array<[string, Partial<LeafFields>]> = [
    ['a workload leaf', {}],
    ['a server leaf with DNS and IP SANs', { dnsNames: ['localhost', 'meshplane.local'], ipAddresses: ['127.0.0.1', '::1', '2001:db8::8:800:200c:417a', '10.1.2.3'] }],
    ['a leaf valid into 2050 (GeneralizedTime)', { notBefore: new Date('2049-12-31T23:58:00Z'), notAfter: new Date('2050-01-01T00:00:01Z') }],
    ['a long SAN (multi-byte DER lengths)', { uris: [`spiffe://cluster.local/ns/${'n'.repeat(60)}/sa/${'s'.repeat(200)}`] }],
  ];
  for (const rootAlg of ['ECDSA_P256', 'RSA_2048'] as const) {
    it.each(cases)(`${rootAlg} root: encodes %s byte for byte as @peculiar/x509 does`, async (_, overrides) => {
      const authority = roots.get(rootAlg)!;
      const extensions = await leafExtensions(authority);
      const signer = leafSignerOf(authority, extensions);
      const fields = workload(overrides);
      const keys = await generateKeyPair('ECDSA_P256');
      const spki = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
      const reference = await referenceCert(authority, extensions, fields, spki);
      const tbs = encodeLeafTbs(signer, fields, spki);
      expect(tbs.toString('hex')).toBe(tbsOf(new Uint8Array(reference.rawData)).toString('hex'));

      const der = signTbs(signer, tbs);
      const mine = new X509Certificate(der);
      expect(mine.verify(new X509Certificate(authority.caCertPem).publicKey)).toBe(true);
      const ref = new x509.X509Certificate(reference.rawData);
      expect(new x509.X509Certificate(new Uint8Array(der)).signatureAlgorithm).toEqual(ref.signatureAlgorithm);
      expect(pem(der, 'CERTIFICATE')).toBe(pemBlock(new Uint8Array(der), 'CERTIFICATE'));
    });
  }

  it('makes P-256 keys whose SPKI and PKCS#8 are what OpenSSL and WebCrypto export', async () => {
    for (let i = 0; i < 300; i++) {
      const key = await generateLeafKey('ECDSA_P256');
      const node = createPrivateKey(key.privateKeyPem);
      expect(node.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(key.privateKeyPem).toBe(node.export({ type: 'pkcs8', format: 'pem' }));
      expect(key.spki).toEqual(createPublicKey(node).export({ type: 'spki', format: 'der' }));
    }
    const web = await generateKeyPair('ECDSA_P256');
    const webPem = pemBlock(await subtle.exportKey('pkcs8', web.privateKey), 'PRIVATE KEY');
    expect(createPrivateKey(webPem).export({ type: 'pkcs8', format: 'pem' })).toBe(webPem);
  });

  it('makes RSA-2048 keys', async () => {
    const key = await generateLeafKey('RSA_2048');
    const node = createPrivateKey(key.privateKeyPem);
    expect(node.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(key.privateKeyPem).toBe(node.export({ type: 'pkcs8', format: 'pem' }));
    expect(key.spki).toEqual(createPublicKey(node).export({ type: 'spki', format: 'der' }));
  });
});

describe('der', () => {
  it('encodes INTEGERs minimally', () => {
    expect(derUnsignedInteger('01').toString('hex')).toBe('020101');
    expect(derUnsignedInteger('0001').toString('hex')).toBe('020101');
    expect(derUnsignedInteger('80').toString('hex')).toBe('02020080');
    expect(derUnsignedInteger('00').toString('hex')).toBe('020100');
    expect(derUnsignedInteger('7f' + 'ff'.repeat(15)).toString('hex')).toBe('0210' + '7f' + 'ff'.repeat(15));
  });

  it('encodes times as RFC 5280 says', () => {
    expect(derTime(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(derTime(new Date('2050-01-01T00:00:00Z')).toString('latin1').slice(2)).toBe('20500101000000Z');
  });

  it.each([
    ['127.0.0.1', '7f000001'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
  ])('encodes the IP address %s', (ip, hex) => {
    expect(ipAddressBytes(ip).toString('hex')).toBe(hex);
  });
});

describe('generateLeafKey under GC pressure', () => {
  // Exporting a just-generated KeyObject deadlocked node 20 when a GC finalized the keygen job
  // mid-export; a 1 MB young generation made it happen at once. A hang is the failure here.
  it('makes thousands of keys with a GC at nearly every allocation', () => {
    const script = `import { generateLeafKey } from ${JSON.stringify(new URL('./leaf-builder.ts', import.meta.url).href)};
      for (let i = 0; i < 3000; i++) await generateLeafKey('ECDSA_P256');
      console.log('ok');`;
    const child = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    expect(child.error).toBeUndefined();
    expect(`${child.stdout}${child.stderr}`.trim()).toBe('ok');
  });
});
