/**
 * Builds and signs a leaf certificate with node:crypto and hand-written DER (der.ts). The profile
 * is issue.ts's: it passes the fixed extensions (built once per signer with @peculiar/x509) and the
 * per-leaf fields; this file only encodes them. @peculiar/x509's generic ASN.1 path cost ~3 ms of
 * JavaScript per leaf (encode, then re-parse what it encoded); this one costs ~0.3 ms, most of it
 * the P-256 key generation and the signature, both native.
 *
 * TBSCertificate (RFC 5280 §4.1): v3, serial, signature algorithm, issuer = the signer's subject,
 * validity, empty subject, SPKI, extensions = the signer's fixed ones + subjectAltName (critical).
 */
import { generateKeyPair as generateKeyPairCallback, generateKeyPairSync, KeyObject, sign, type RSAKeyPairOptions } from 'node:crypto';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import type { KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { contextTag, derBitString, derSequence, derTime, derTlv, derUnsignedInteger, ipAddressBytes, TAG } from './der.ts';
import type { x509 } from './x509.ts';

const generateKeyPairAsync = promisify(generateKeyPairCallback);
/** generateKeyPairSync with JWK encodings (node takes keyObject.export()'s formats there; @types/node 20 omits 'jwk'). */
const generateEcJwk = generateKeyPairSync as unknown as (
  type: 'ec',
  options: { namedCurve: string; publicKeyEncoding: { format: 'jwk' }; privateKeyEncoding: { format: 'jwk' } },
) => { publicKey: JsonWebKey; privateKey: JsonWebKey };

/** What every leaf of one signer shares, ready to be copied into each. */
export interface LeafSigner {
  /** DER Name: the signer certificate's subject. */
  issuerName: Buffer;
  /** DER AlgorithmIdentifier of the signature, in the TBS and around it. */
  signatureAlgorithm: Buffer;
  /** DER Extensions every leaf carries, in order. */
  extensions: Buffer[];
  signingKey: KeyObject;
}

export interface LeafFields {
  keyAlgorithm: KeyAlgorithm;
  /** Lowercase hex of a positive serial (randomSerialHex). */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  uris: readonly string[];
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

const OID = {
  subjectAltName: Buffer.from('0603551d11', 'hex'),
  ecPublicKey: Buffer.from('06072a8648ce3d0201', 'hex'),
  prime256v1: Buffer.from('06082a8648ce3d030107', 'hex'),
};
const SIGNATURE_ALGORITHMS = {
  ec: Buffer.from('300a06082a8648ce3d040302', 'hex'), // ecdsa-with-SHA256, no parameters (RFC 5758)
  rsa: Buffer.from('300d06092a864886f70d01010b0500', 'hex'), // sha256WithRSAEncryption, NULL parameters
} as const;
const V3 = derTlv(contextTag(0, true), derTlv(TAG.INTEGER, Buffer.from([2])));
const EMPTY_NAME = derSequence();
const CRITICAL = derTlv(TAG.BOOLEAN, Buffer.from([0xff]));

/** The LeafSigner of an authority, given the fixed extensions its leaves carry. */
export function leafSignerOf(authority: Authority, extensions: readonly x509.Extension[]): LeafSigner {
  const signingKey = KeyObject.from(authority.caKeys.privateKey);
  const type = signingKey.asymmetricKeyType;
  const curve = signingKey.asymmetricKeyDetails?.namedCurve;
  if ((type !== 'ec' && type !== 'rsa') || (type === 'ec' && curve !== 'prime256v1')) {
    throw new Error(`cannot sign with a ${type}${curve ? ` ${curve}` : ''} key (ECDSA P-256 or RSA 2048 only)`);
  }
  return {
    issuerName: Buffer.from(authority.caCert.subjectName.toArrayBuffer()),
    signatureAlgorithm: SIGNATURE_ALGORITHMS[type],
    extensions: extensions.map((e) => Buffer.from(e.rawData)),
    signingKey,
  };
}

/** A new key pair and a certificate for its public half, both PEM (the key PKCS#8). */
export async function buildLeaf(signer: LeafSigner, fields: LeafFields): Promise<{ certPem: string; privateKeyPem: string }> {
  const key = await generateLeafKey(fields.keyAlgorithm);
  return { certPem: pem(signTbs(signer, encodeLeafTbs(signer, fields, key.spki)), 'CERTIFICATE'), privateKeyPem: key.privateKeyPem };
}

/** The TBSCertificate of a leaf whose public key is `spki` (DER SubjectPublicKeyInfo). */
export function encodeLeafTbs(signer: LeafSigner, fields: LeafFields, spki: Uint8Array): Buffer {
  return derSequence(
    V3,
    derUnsignedInteger(fields.serialNumber),
    signer.signatureAlgorithm,
    signer.issuerName,
    derSequence(derTime(fields.notBefore), derTime(fields.notAfter)),
    // No subject: the identity is the URI SAN alone (SPIFFE X509-SVID profile).
    EMPTY_NAME,
    spki,
    derTlv(contextTag(3, true), derSequence(...signer.extensions, encodeSubjectAltName(fields))),
  );
}

/** subjectAltName, critical (the subject is empty): URIs, then DNS names, then IP addresses. */
export function encodeSubjectAltName(fields: Pick<LeafFields, 'uris' | 'dnsNames' | 'ipAddresses'>): Buffer {
  const names = [
    ...fields.uris.map((uri) => derTlv(contextTag(6, false), Buffer.from(uri, 'latin1'))),
    ...fields.dnsNames.map((dns) => derTlv(contextTag(2, false), Buffer.from(dns, 'latin1'))),
    ...fields.ipAddresses.map((ip) => derTlv(contextTag(7, false), ipAddressBytes(ip))),
  ];
  return derSequence(OID.subjectAltName, CRITICAL, derTlv(TAG.OCTET_STRING, derSequence(...names)));
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
export function signTbs(signer: LeafSigner, tbs: Buffer): Buffer {
  // ECDSA: a DER Ecdsa-Sig-Value, as X.509 wants; RSA: PKCS#1 v1.5. Both over SHA-256.
  return derSequence(tbs, signer.signatureAlgorithm, derBitString(sign('sha256', tbs, signer.signingKey)));
}

/**
 * A fresh leaf key: SPKI DER and PKCS#8 PEM, byte for byte what WebCrypto's exports give. P-256
 * is generated synchronously (~0.1 ms) and encoded from its JWK (OpenSSL 3's DER encoders take
 * ~0.4 ms). RSA-2048 (~200 ms) is generated on the libuv pool when called on the main thread, so
 * the event loop is not held, and synchronously in worker threads.
 *
 * The encodings are asked of the key generation itself, never exported from the KeyObjects it
 * returns: on Node 20, exporting a just-generated KeyObject deadlocks its thread if a GC runs
 * during the export and finalizes the generation job (the job's destructor takes the key's lock,
 * which the export holds). generateKeyPairSync + keyObject.export({format: 'jwk'}) hung an issuer
 * worker after a few thousand certificates; with --max-semi-space-size=1 on the first.
 */
export async function generateLeafKey(alg: KeyAlgorithm): Promise<{ spki: Buffer; privateKeyPem: string }> {
  if (alg === 'RSA_2048') {
    const options: RSAKeyPairOptions<'der', 'pem'> = {
      modulusLength: 2048,
      publicExponent: 0x10001,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    };
    // In an issuer worker, on the worker's own thread: ~200 ms of libuv-pool time per key would
    // hold up the main thread's file system work queued behind it.
    const { publicKey, privateKey } = isMainThread ? await generateKeyPairAsync('rsa', options) : generateKeyPairSync('rsa', options);
    return { spki: publicKey, privateKeyPem: privateKey };
  }
  const { privateKey: jwk } = generateEcJwk('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const algorithm = derSequence(OID.ecPublicKey, OID.prime256v1);
  // PKCS#8 { version 0, algorithm, OCTET STRING { ECPrivateKey { 1, d, [1] publicKey } } }, as OpenSSL writes it.
  const ecPrivateKey = derSequence(
    derTlv(TAG.INTEGER, Buffer.from([1])),
    derTlv(TAG.OCTET_STRING, Buffer.from(jwk.d!, 'base64url')),
    derTlv(contextTag(1, true), derBitString(point)),
  );
  const pkcs8 = derSequence(derTlv(TAG.INTEGER, Buffer.from([0])), algorithm, derTlv(TAG.OCTET_STRING, ecPrivateKey));
  return { spki: derSequence(algorithm, derBitString(point)), privateKeyPem: pem(pkcs8, 'PRIVATE KEY') };
}

/** A PEM block with a final newline: the same text as key-algorithms.ts pemBlock, without its copies. */
export function pem(der: Uint8Array, tag: string): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < base64.length; i += 64) body += `${base64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${tag}-----\n${body}-----END ${tag}-----\n`;
}
