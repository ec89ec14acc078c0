/**
 * The messages between the issuer pool (main thread, issuer-pool.ts) and its worker threads
 * (issuer-worker.ts), and the conversions both sides share. Everything here survives the
 * structured clone of postMessage: plain objects, strings, numbers (Dates travel as epoch ms).
 */
import { createHash, createPrivateKey } from 'node:crypto';
import type { KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import type { IssuedCert } from './issue.ts';
import { KEY_ALGORITHMS, keyAlgorithmOf } from './key-algorithms.ts';
import { subtle, x509 } from './x509.ts';

/** What a worker needs to rebuild a signer: the Authority minus its parsed and imported objects. */
export interface SignerMaterial {
  keyAlgorithm: KeyAlgorithm;
  caCertPem: string;
  /** PKCS#8 PEM. Sent once per signer per worker; never echoed back, never logged. */
  caKeyPem: string;
  chainPem: string;
  trustBundlePem: string;
  rootFingerprint: string;
}

export type ToWorker =
  /** Load a signer under `signer` (its key); later `issue` messages name it. */
  | { type: 'signer'; signer: string; material: SignerMaterial }
  /** Drop a signer the pool no longer sends requests for. */
  | { type: 'forget'; signer: string }
  | { type: 'issue'; id: number; signer: string; spiffeId: string; ttlSeconds: number; keyAlgorithm: KeyAlgorithm; nowMs?: number }
  /** Test only: the worker throws from its message handler, i.e. dies of an uncaught exception. */
  | { type: 'crash' }
  /** Test only: the worker's thread spins forever, as if deadlocked. */
  | { type: 'hang' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'issued'; id: number; cert: WireCert }
  | { type: 'failed'; id: number; message: string };

/** IssuedCert with its Dates as epoch milliseconds. */
export interface WireCert extends Omit<IssuedCert, 'notBefore' | 'notAfter'> {
  notBeforeMs: number;
  notAfterMs: number;
}

export function certToWire(cert: IssuedCert): WireCert {
  const { notBefore, notAfter, ...rest } = cert;
  return { ...rest, notBeforeMs: notBefore.getTime(), notAfterMs: notAfter.getTime() };
}

export function certFromWire(wire: WireCert): IssuedCert {
  const { notBeforeMs, notAfterMs, ...rest } = wire;
  return { ...rest, notBefore: new Date(notBeforeMs), notAfter: new Date(notAfterMs) };
}

const signerKeys = new WeakMap<Authority, string>();

/**
 * The key a signer is known by in the workers: sha256 of its certificate and the chain its leaves
 * carry (the same CA certificate implies the same key). Cached per Authority object.
 */
export function signerKeyOf(authority: Authority): string {
  let key = signerKeys.get(authority);
  if (key === undefined) {
    key = createHash('sha256').update(authority.caCertPem).update('\0').update(authority.chainPem).digest('hex');
    signerKeys.set(authority, key);
  }
  return key;
}

export function signerMaterialOf(authority: Authority): SignerMaterial {
  const { keyAlgorithm, caCertPem, caKeyPem, chainPem, trustBundlePem, rootFingerprint } = authority;
  return { keyAlgorithm, caCertPem, caKeyPem, chainPem, trustBundlePem, rootFingerprint };
}

/**
 * An Authority rebuilt from its material, as authority.ts builds one: the certificate parsed by
 * @peculiar/x509, the PKCS#8 key imported into WebCrypto (non-extractable, sign only).
 */
export async function authorityFromMaterial(material: SignerMaterial): Promise<Authority> {
  const caCert = new x509.X509Certificate(material.caCertPem);
  const key = createPrivateKey(material.caKeyPem);
  const alg = keyAlgorithmOf(key);
  if (!alg) throw new Error(`the signing key is a ${key.asymmetricKeyType} key meshplane does not support (ECDSA P-256 or RSA 2048 only)`);
  const params = KEY_ALGORITHMS[alg].import;
  const caKeys: CryptoKeyPair = {
    privateKey: await subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), params, false, ['sign']),
    publicKey: await subtle.importKey('spki', caCert.publicKey.rawData, params, true, ['verify']),
  };
  return { ...material, caCert, caKeys };
}

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g;

/** Text from a worker with any PEM block (a key, should one ever end up in a message) cut out. */
export function redactPem(text: string): string {
  return text.replace(PEM_BLOCK, '[PEM redacted]');
}
