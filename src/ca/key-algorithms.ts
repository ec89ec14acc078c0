/**
 * The two key algorithms meshplane supports, mapped to WebCrypto parameters, plus the PEM and
 * serial-number helpers shared by the root (authority.ts) and leaf (issue.ts) code.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '../model/types.ts';
import { subtle, x509 } from './x509.ts';

interface Params {
  generate: EcKeyGenParams | RsaHashedKeyGenParams;
  import: EcKeyImportParams | RsaHashedImportParams;
  sign: EcdsaParams | Algorithm;
}

/** ECDSA P-256 with SHA-256; RSA-2048 RSASSA-PKCS1-v1_5 with SHA-256 (what Istio's RSA CA uses). */
export const KEY_ALGORITHMS: Readonly<Record<KeyAlgorithm, Params>> = {
  ECDSA_P256: {
    generate: { name: 'ECDSA', namedCurve: 'P-256' },
    import: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
  },
  RSA_2048: {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

/** A fresh, extractable key pair (extractable so the private half can be written as PKCS#8). */
export async function generateKeyPair(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(KEY_ALGORITHMS[alg].generate, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Which supported algorithm a node key is, or undefined (other curves, other RSA sizes, Ed25519...). */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ECDSA_P256';
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 2048) return 'RSA_2048';
  return undefined;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), which Envoy/BoringSSL and node accept for EC and RSA alike. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pemBlock(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A PEM block ending with a newline, so blocks concatenate into chains and bundles. */
export function pemBlock(der: BufferSource, tag: string): string {
  return `${x509.PemConverter.encode(der, tag).trim()}\n`;
}

/**
 * A random positive 16-byte serial as lowercase hex. The top bit is cleared (a positive INTEGER
 * without a 0x00 pad) and the first byte kept non-zero (minimal DER), so the hex we report is
 * exactly what the certificate holds.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}
