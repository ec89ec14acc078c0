/**
 * Issuing leaf certificates from the mesh root, with Istio's workload profile: empty subject,
 * SPIFFE URI SAN (critical, as RFC 5280 requires when the subject is empty), digitalSignature +
 * keyEncipherment, serverAuth + clientAuth, CA:false, notBefore backdated 2 minutes.
 * Keys are generated here (centrally) and shipped over SDS, so the xDS channel is authenticated.
 */
import { isIP } from 'node:net';
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { randomSerialHex } from './key-algorithms.ts';
import { buildLeaf, leafSignerOf, type LeafSigner } from './leaf-builder.ts';
import { checkSpiffeId } from './spiffe.ts';
import { errorText } from './state-files.ts';
import { x509 } from './x509.ts';

/** A leaf certificate with its private key, ready for an SDS `tls_certificate`. */
export interface IssuedCert {
  /** Leaf PEM followed by the signer's chain (nothing more for a root, the intermediates otherwise). */
  certChainPem: string;
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); Envoy/BoringSSL accepts it for EC and RSA. */
  privateKeyPem: string;
  /** Lowercase hex, no colons. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  uriSans: string[];
  dnsNames: string[];
}

export interface WorkloadCertRequest {
  spiffeId: string;
  ttlSeconds: number;
  keyAlgorithm: KeyAlgorithm;
  now?: Date;
}

export interface ServerCertRequest extends WorkloadCertRequest {
  dnsNames: string[];
  ipAddresses: string[];
}

// Istio backdates leaves by 2 minutes (security/pkg/pki/util/generate_cert.go) for clock skew.
const BACKDATE_MS = 2 * 60_000;
const DNS_NAME = /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * A workload certificate: URI SAN = the SPIFFE ID, nothing else. notAfter is now + ttl, capped at
 * the root's notAfter (a leaf outliving its root would be rejected anyway). Throws CA_FAILED.
 */
export async function issueWorkloadCert(authority: Authority, req: WorkloadCertRequest): Promise<IssuedCert> {
  return issueLeaf(authority, { ...req, dnsNames: [], ipAddresses: [] });
}

/** A certificate for a meshplane server (the xDS gRPC port): the SPIFFE ID plus DNS and IP SANs. */
export async function issueServerCert(authority: Authority, req: ServerCertRequest): Promise<IssuedCert> {
  return issueLeaf(authority, req);
}

async function issueLeaf(authority: Authority, req: ServerCertRequest): Promise<IssuedCert> {
  const fail = (why: string, cause?: unknown): MeshplaneError =>
    new MeshplaneError('CA_FAILED', `cannot issue a certificate for ${req.spiffeId}: ${why}`, [], cause === undefined ? undefined : { cause });
  const idProblem = checkSpiffeId(req.spiffeId);
  if (idProblem) throw fail(`invalid SPIFFE ID: ${idProblem}`);
  if (!(req.ttlSeconds > 0) || !Number.isFinite(req.ttlSeconds)) throw fail(`ttlSeconds must be a positive number, got ${req.ttlSeconds}`);
  const badDns = req.dnsNames.find((n) => n.length > 253 || !DNS_NAME.test(n));
  if (badDns !== undefined) throw fail(`"${badDns}" is not a DNS name`);
  const badIp = req.ipAddresses.find((ip) => isIP(ip) === 0);
  if (badIp !== undefined) throw fail(`"${badIp}" is not an IP address`);

  const now = req.now ?? new Date();
  // Whole seconds, as X.509 stores them, so the Dates we return are exactly the certificate's.
  const notBefore = wholeSeconds(now.getTime() - BACKDATE_MS);
  const notAfter = wholeSeconds(Math.min(now.getTime() + req.ttlSeconds * 1000, authority.caCert.notAfter.getTime()));
  if (notAfter.getTime() <= now.getTime()) throw fail(`the root CA expired at ${authority.caCert.notAfter.toISOString()}`);

  try {
    const serialNumber = randomSerialHex();
    const { certPem, privateKeyPem } = await buildLeaf(await leafSigner(authority), {
      keyAlgorithm: req.keyAlgorithm,
      serialNumber,
      notBefore,
      notAfter,
      uris: [req.spiffeId],
      dnsNames: req.dnsNames,
      ipAddresses: req.ipAddresses,
    });
    return {
      certChainPem: certPem + authority.chainPem,
      privateKeyPem,
      serialNumber,
      notBefore,
      notAfter,
      uriSans: [req.spiffeId],
      dnsNames: [...req.dnsNames],
    };
  } catch (err) {
    throw fail(errorText(err), err);
  }
}

const signerCache = new WeakMap<Authority, Promise<LeafSigner>>();

/**
 * What every leaf of `authority` shares, built once: the issuer name, the signing key and the
 * fixed extensions (@peculiar/x509's ASN.1 encoding costs ~0.3 ms per extension). leaf-builder.ts
 * adds the SAN.
 */
function leafSigner(authority: Authority): Promise<LeafSigner> {
  let cached = signerCache.get(authority);
  if (!cached) {
    cached = leafExtensions(authority).then((extensions) => leafSignerOf(authority, extensions));
    signerCache.set(authority, cached);
    cached.catch(() => signerCache.delete(authority)); // retry next time rather than cache a failure
  }
  return cached;
}

/** Istio's workload profile: CA:false, digitalSignature + keyEncipherment, server + client auth, the AKI (the signer's SKI, computed if it has none). */
export async function leafExtensions(authority: Authority): Promise<x509.Extension[]> {
  const ski = authority.caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(authority.caCert.publicKey);
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    aki,
  ];
}

function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
