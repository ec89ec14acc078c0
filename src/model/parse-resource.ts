/**
 * One raw document → one typed resource: checks apiVersion/kind/metadata and hands the spec to
 * the parser of its kind. Returns undefined when the document cannot become a resource.
 */
import type { AuthorizationPolicy, ExternalService, Mesh, PeerAuthentication, Service } from './types.ts';
import { didYouMean } from './did-you-mean.ts';
import { describeValue, type Issues, ObjectFields } from './fields.ts';
import type { RawDocument } from './parse-documents.ts';
import { parseMetadata } from './parse-metadata.ts';
import { parseMesh } from './parse-mesh.ts';
import { parseService } from './parse-service.ts';
import { type ParsedWorkload, parseWorkload } from './parse-workload.ts';
import { parseExternalService } from './parse-external-service.ts';
import { parsePeerAuthentication } from './parse-peer-authentication.ts';
import { parseAuthorizationPolicy } from './parse-authorization-policy.ts';

export const MESHPLANE_API_VERSION = 'meshplane.dev/v1alpha1';
export const ISTIO_SECURITY_API_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

const API_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  Mesh: [MESHPLANE_API_VERSION],
  Service: [MESHPLANE_API_VERSION],
  Workload: [MESHPLANE_API_VERSION],
  ExternalService: [MESHPLANE_API_VERSION],
  PeerAuthentication: ISTIO_SECURITY_API_VERSIONS,
  AuthorizationPolicy: ISTIO_SECURITY_API_VERSIONS,
};
const SUPPORTED =
  `Mesh, Service, Workload, ExternalService (apiVersion ${MESHPLANE_API_VERSION}) ` +
  `and PeerAuthentication, AuthorizationPolicy (apiVersion ${ISTIO_SECURITY_API_VERSIONS.join(' or ')})`;

const TOP_HINTS: Readonly<Record<string, string>> = {
  status: 'status is written by a controller, not configured: remove it',
};

/** Where a resource came from (`file` as violations name it) with the typed value. */
export type ParsedResource =
  | { kind: 'Mesh'; file: string; value: Mesh }
  | { kind: 'Service'; file: string; value: Service }
  | { kind: 'ExternalService'; file: string; value: ExternalService }
  | { kind: 'PeerAuthentication'; file: string; value: PeerAuthentication }
  /** `valid`: the document had no error, so rule indices and value paths are exact (for warnings). */
  | { kind: 'AuthorizationPolicy'; file: string; value: AuthorizationPolicy; valid: boolean }
  | ({ kind: 'Workload'; file: string; value: ParsedWorkload['workload'] } & Omit<ParsedWorkload, 'workload'>);

export function parseResource(doc: RawDocument, issues: Issues): ParsedResource | undefined {
  if (typeof doc.value !== 'object' || doc.value === null || Array.isArray(doc.value)) {
    issues.error('', `a document must be a mapping with apiVersion, kind, metadata and spec, got ${describeValue(doc.value)}`);
    return undefined;
  }
  const f = ObjectFields.read(issues, doc.value, '', ['apiVersion', 'kind', 'metadata', 'spec'] as const, { hints: TOP_HINTS });
  if (!f) return undefined;

  const kindValue = f.raw('kind', { required: true, hint: `set one of ${SUPPORTED}` });
  if (kindValue === undefined) return undefined;
  if (typeof kindValue !== 'string') {
    f.error('kind', `must be a string, got ${describeValue(kindValue)}: use one of ${SUPPORTED}`);
    return undefined;
  }
  const versions = Object.hasOwn(API_VERSIONS, kindValue) ? API_VERSIONS[kindValue] : undefined;
  if (!versions) {
    f.error('kind', `unknown kind ${JSON.stringify(kindValue)}${didYouMean(kindValue, Object.keys(API_VERSIONS))}: supported kinds are ${SUPPORTED}`);
    return undefined;
  }
  const apiVersion = f.raw('apiVersion', { required: true, hint: `use ${versions.join(' or ')} for kind ${kindValue}` });
  if (apiVersion !== undefined && (typeof apiVersion !== 'string' || !versions.includes(apiVersion))) {
    const shown = typeof apiVersion === 'string' ? JSON.stringify(apiVersion) : describeValue(apiVersion);
    f.error('apiVersion', `apiVersion ${shown} is not supported for kind ${kindValue}: use ${versions.join(' or ')}`);
  }

  const { metadata, ok } = parseMetadata(issues, f.raw('metadata'));
  const base = { source: doc.source, metadata };
  const spec = f.raw('spec');
  const file = doc.file;
  let parsed: ParsedResource;
  switch (kindValue) {
    case 'Mesh':
      parsed = { kind: 'Mesh', file, value: parseMesh(spec, base, issues) };
      break;
    case 'Service':
      parsed = { kind: 'Service', file, value: parseService(spec, base, issues) };
      break;
    case 'ExternalService':
      parsed = { kind: 'ExternalService', file, value: parseExternalService(spec, base, issues) };
      break;
    case 'PeerAuthentication':
      parsed = { kind: 'PeerAuthentication', file, value: parsePeerAuthentication(spec, base, issues) };
      break;
    case 'AuthorizationPolicy': {
      const value = parseAuthorizationPolicy(spec, base, issues);
      parsed = { kind: 'AuthorizationPolicy', file, value, valid: issues.errorCount === 0 };
      break;
    }
    default: {
      const { workload, ...paths } = parseWorkload(spec, base, issues);
      parsed = { kind: 'Workload', file, value: workload, ...paths };
    }
  }
  // A Mesh without a usable name is still the mesh: keep it so that "no Mesh" is not reported too.
  return ok || parsed.kind === 'Mesh' ? parsed : undefined;
}
