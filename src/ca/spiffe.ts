/**
 * SPIFFE identities of mesh workloads: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`,
 * the form Istio uses, so AuthorizationPolicy principals (`<td>/ns/<ns>/sa/<sa>`) carry over.
 */
import { MeshplaneError } from '../errors.ts';

// SPIFFE ID spec, section 2: trust domain [a-z0-9._-], path segments [A-Za-z0-9._-], at most 2048 bytes.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_LENGTH = 2048;

/** The SPIFFE ID of a workload's service account. Throws CA_FAILED if a part is not SPIFFE-safe. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const id = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  // Checked part by part too: a "/" inside a name would still make a syntactically valid ID.
  const badPart = [namespace, serviceAccount].find((p) => !SEGMENT.test(p) || p === '.' || p === '..');
  const problem = badPart !== undefined ? `path segment "${badPart}" must be non-empty, not . or .., and use only A-Z a-z 0-9 . - _` : checkSpiffeId(id);
  if (problem) throw new MeshplaneError('CA_FAILED', `cannot build a SPIFFE ID from trust domain "${trustDomain}", namespace "${namespace}", service account "${serviceAccount}": ${problem}`);
  return id;
}

/**
 * Why `id` is not a valid SPIFFE ID, or undefined when it is. Used before signing so a bad URI SAN
 * never reaches a certificate (Envoy would reject the peer, far from the cause).
 */
export function checkSpiffeId(id: string): string | undefined {
  if (Buffer.byteLength(id) > MAX_LENGTH) return `longer than ${MAX_LENGTH} bytes`;
  const m = /^spiffe:\/\/([^/]*)(\/.*)?$/.exec(id);
  if (!m) return `"${id}" does not start with spiffe://`;
  const [, domain = '', path = ''] = m;
  if (!TRUST_DOMAIN.test(domain)) return `trust domain "${domain}" must be non-empty and use only a-z 0-9 . - _`;
  if (path === '') return undefined;
  for (const segment of path.slice(1).split('/')) {
    if (segment === '.' || segment === '..' || !SEGMENT.test(segment)) {
      return `path segment "${segment}" must be non-empty, not . or .., and use only A-Z a-z 0-9 . - _`;
    }
  }
  return undefined;
}

/**
 * The control plane's own identity, which every bootstrap pins for the xDS channel. Its path is
 * outside the `/ns/<ns>/sa/<sa>` space, so no workload certificate can ever carry it.
 */
export function controlPlaneSpiffeId(trustDomain: string): string {
  const id = `spiffe://${trustDomain}/meshplane/control-plane`;
  const problem = checkSpiffeId(id);
  if (problem) throw new MeshplaneError('CA_FAILED', `cannot build the control plane SPIFFE ID: ${problem}`);
  return id;
}

/**
 * The identity in a proxy's xDS client certificate (`meshplane bootstrap`): bound to one node id,
 * outside the `/ns/<ns>/sa/<sa>` space so it is never taken for a workload.
 */
export function xdsClientSpiffeId(trustDomain: string, namespace: string, workload: string): string {
  const id = `spiffe://${trustDomain}/meshplane/xds-client/${namespace}/${workload}`;
  const problem = checkSpiffeId(id);
  if (problem) throw new MeshplaneError('CA_FAILED', `cannot build the xDS client SPIFFE ID of ${namespace}/${workload}: ${problem}`);
  return id;
}
