/**
 * Who may open an xDS stream as a node: the one holding both halves of its bootstrap credential,
 * the node's token (gRPC metadata) and the node's xDS client certificate (TLS). Envoy's admin
 * /config_dump shows the token but redacts the certificate's private key, so a process that can
 * read the admin page still cannot pose as the node and fetch its workload key.
 */
import type { PeerCertificate } from 'node:tls';
import { xdsClientSpiffeId } from './spiffe.ts';
import { checkWorkloadToken } from './tokens.ts';

export interface XdsClientCredentials {
  nodeId: string;
  token: string | undefined;
  /** The TLS client certificate, already verified against the mesh root by the TLS layer. */
  peerCertificate: PeerCertificate | undefined;
}

/**
 * Undefined when the stream may serve `nodeId` at `at.now`; otherwise why not (for the log, never
 * the token). `at.revokedAt`: when the node's tokens were last revoked (token-revocations.ts).
 */
export function xdsClientRejection(tokenKey: Buffer, trustDomain: string, c: XdsClientCredentials, at: { now: number; revokedAt?: number }): string | undefined {
  const token = checkWorkloadToken(tokenKey, c.nodeId, c.token, at);
  if (!token.ok) return token.reason;
  return xdsClientCertificateRejection(trustDomain, c.nodeId, c.peerCertificate);
}

/**
 * The certificate half alone: enough for the connection reports a sidecar sends on its xDS
 * cluster (gRPC access logs carry no token), since the certificate's key never leaves the node.
 */
export function xdsClientCertificateRejection(trustDomain: string, nodeId: string, peerCertificate: PeerCertificate | undefined): string | undefined {
  const dot = nodeId.indexOf('.');
  if (dot <= 0) return 'node.id is not <workload>.<namespace>';
  const expected = xdsClientSpiffeId(trustDomain, nodeId.slice(dot + 1), nodeId.slice(0, dot));
  const uris = uriSans(peerCertificate);
  if (uris.length === 0) return 'no xDS client certificate was presented (use a bootstrap from `meshplane bootstrap`)';
  if (!uris.includes(expected)) return `the xDS client certificate is for ${uris.join(', ')}, not ${expected}`;
  return undefined;
}

/** URI SANs of a Node TLS peer certificate (`subjectaltname: "URI:spiffe://..., DNS:..."`). */
function uriSans(cert: PeerCertificate | undefined): string[] {
  return (cert?.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice('URI:'.length));
}
