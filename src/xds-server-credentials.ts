/**
 * The xDS port's TLS: a server certificate from the mesh's xDS root (SPIFFE ID of the control plane,
 * plus the names Envoys dial), and client certificates required. Which node a client may be is
 * checked per stream (xds-access.ts), not here.
 */
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Authority } from './ca/authority.ts';
import { issueServerCert } from './ca/issue.ts';
import { controlPlaneSpiffeId } from './ca/spiffe.ts';
import type { KeyAlgorithm } from './model/types.ts';
import { splitHostPort } from './host-port.ts';

const XDS_SERVER_CERT_TTL_SECONDS = 365 * 24 * 3600;

export async function xdsServerCredentials(
  authority: Authority,
  o: { xdsAddress: string; trustDomain: string; keyAlgorithm: KeyAlgorithm },
): Promise<{ credentials: grpc.ServerCredentials; notAfter: Date }> {
  const { host } = splitHostPort(o.xdsAddress);
  const cert = await issueServerCert(authority, {
    spiffeId: controlPlaneSpiffeId(o.trustDomain),
    dnsNames: ['localhost', 'meshplane-xds'],
    ipAddresses: isIP(host) ? [host] : [],
    ttlSeconds: XDS_SERVER_CERT_TTL_SECONDS,
    keyAlgorithm: o.keyAlgorithm,
  });
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(authority.trustBundlePem),
    [{ cert_chain: Buffer.from(cert.certChainPem), private_key: Buffer.from(cert.privateKeyPem) }],
    true,
  );
  return { credentials, notAfter: cert.notAfter };
}
