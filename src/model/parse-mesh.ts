/**
 * `kind: Mesh` spec: trustDomain, rootNamespace, the CA settings (with defaults) and plugins.
 * `ca.intermediate` names an operator-provided intermediate CA; only the paths are read here (the
 * model stays free of I/O), src/ca/provided-ca.ts checks the files.
 */
import type { CaSettings, IntermediateCaFiles, KeyAlgorithm, Mesh, Metadata, Source } from './types.ts';
import { dnsLabelProblem, formatDuration, parseDuration } from './formats.ts';
import { type Issues, ObjectFields } from './fields.ts';
import { parseMeshPlugins } from './parse-mesh-plugins.ts';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_ROOT_NAMESPACE = 'mesh-system';
export const DEFAULT_CA: CaSettings = {
  keyAlgorithm: 'ECDSA_P256',
  workloadCertTtlSeconds: 24 * 3600,
  rotationRatio: 0.5,
  rootCertTtlSeconds: 87600 * 3600,
};

const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ECDSA_P256', 'RSA_2048'];
/** Seconds-long certificates exist to watch rotation happen (tests, demos); a warning says so. */
const MIN_WORKLOAD_TTL = 5;
const SHORT_WORKLOAD_TTL = 10 * 60;
const MAX_WORKLOAD_TTL = 90 * 24 * 3600;
const MIN_ROOT_TTL = 3600;
const MAX_ROOT_TTL = 100 * 365 * 24 * 3600;

/** SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (we also require DNS-like labels). */
const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$/;

export function parseMesh(spec: unknown, base: { source: Source; metadata: Metadata }, issues: Issues): Mesh {
  const mesh: Mesh = {
    kind: 'Mesh',
    ...base,
    trustDomain: DEFAULT_TRUST_DOMAIN,
    rootNamespace: DEFAULT_ROOT_NAMESPACE,
    ca: { ...DEFAULT_CA },
  };
  if (spec === undefined || spec === null) return mesh;
  const f = ObjectFields.read(issues, spec, 'spec', ['trustDomain', 'rootNamespace', 'ca', 'plugins'] as const);
  if (!f) return mesh;

  const trustDomain = f.string('trustDomain');
  if (trustDomain !== undefined) {
    if (trustDomain.length <= 255 && TRUST_DOMAIN.test(trustDomain)) mesh.trustDomain = trustDomain;
    else {
      const lower = trustDomain.toLowerCase();
      const fix = lower !== trustDomain && TRUST_DOMAIN.test(lower) ? `, e.g. ${JSON.stringify(lower)}` : ` such as "${DEFAULT_TRUST_DOMAIN}"`;
      f.error('trustDomain', `${JSON.stringify(trustDomain)} is not a valid SPIFFE trust domain: use lowercase DNS-like labels (letters, digits, '-', '_') separated by dots${fix}`);
    }
  }
  const rootNamespace = f.string('rootNamespace');
  if (rootNamespace !== undefined) {
    const problem = dnsLabelProblem(rootNamespace);
    if (problem) f.error('rootNamespace', problem);
    mesh.rootNamespace = rootNamespace;
  }
  const plugins = parseMeshPlugins(f, issues);
  if (plugins && plugins.length > 0) mesh.plugins = plugins;

  const ca = f.object('ca', ['keyAlgorithm', 'workloadCertTTL', 'rotationRatio', 'rootCertTTL', 'intermediate'] as const);
  if (!ca) return mesh;
  // With an intermediate, keyAlgorithm still chooses the workload keys; the CA signs with its own key's algorithm.
  mesh.ca.keyAlgorithm = ca.enumValue('keyAlgorithm', KEY_ALGORITHMS) ?? DEFAULT_CA.keyAlgorithm;

  const provided = ca.has('intermediate');
  const intermediate = readIntermediate(ca);
  if (intermediate) mesh.ca.intermediate = intermediate;

  const workloadTtl = readDuration(ca, 'workloadCertTTL', MIN_WORKLOAD_TTL, MAX_WORKLOAD_TTL);
  if (workloadTtl !== undefined) mesh.ca.workloadCertTtlSeconds = workloadTtl;
  if (workloadTtl !== undefined && workloadTtl < SHORT_WORKLOAD_TTL) {
    ca.warning(
      'workloadCertTTL',
      `${formatDuration(workloadTtl)} is very short: every proxy gets a new certificate and key every ${formatDuration(Math.max(1, Math.round(workloadTtl / 2)))} or so; fine for trying rotation out, use hours in production (Istio: 24h)`,
    );
  }
  const rootTtl = readDuration(ca, 'rootCertTTL', MIN_ROOT_TTL, MAX_ROOT_TTL);
  if (rootTtl !== undefined) mesh.ca.rootCertTtlSeconds = rootTtl;
  if (provided && rootTtl !== undefined) {
    // Kept (a switch back to the self-made root would use it) but said, so it is not silently ignored.
    ca.warning('rootCertTTL', 'does not apply with "intermediate": the provided CA files set their own lifetimes; remove it, or keep it for a later switch back to the self-made root');
  }
  // The provided root's lifetime is the operator's; leaves are capped at the intermediate's notAfter.
  if (!provided && (workloadTtl !== undefined || rootTtl !== undefined) && mesh.ca.rootCertTtlSeconds <= mesh.ca.workloadCertTtlSeconds) {
    ca.error(
      rootTtl !== undefined ? 'rootCertTTL' : 'workloadCertTTL',
      `rootCertTTL (${formatDuration(mesh.ca.rootCertTtlSeconds)}) must be longer than workloadCertTTL (${formatDuration(mesh.ca.workloadCertTtlSeconds)}): a workload certificate cannot outlive its root`,
    );
  }

  const ratio = ca.number('rotationRatio');
  if (ratio !== undefined) {
    if (ratio > 0 && ratio < 1) mesh.ca.rotationRatio = ratio;
    else ca.error('rotationRatio', `must be greater than 0 and less than 1 (the fraction of a certificate's lifetime after which it is renewed, e.g. 0.5), got ${ratio}`);
  }
  return mesh;
}

const INTERMEDIATE_FIELDS = ['certFile', 'keyFile', 'rootCertFile', 'chainFile'] as const;
const WHERE = 'relative to the config directory, or absolute';

/** `ca.intermediate`: the file paths as written; undefined (with errors) when incomplete. */
function readIntermediate(ca: ObjectFields<'intermediate'>): IntermediateCaFiles | undefined {
  const im = ca.object('intermediate', INTERMEDIATE_FIELDS);
  if (!im) return undefined;
  const certFile = im.string('certFile', { required: true, hint: `the path of the intermediate CA certificate (PEM), ${WHERE}, e.g. "ca/ca-cert.pem"` });
  const keyFile = im.string('keyFile', { required: true, hint: `the path of the intermediate CA's unencrypted private key (PEM, mode 0600), ${WHERE}, e.g. "ca/ca-key.pem"` });
  const rootCertFile = im.string('rootCertFile', { required: true, hint: `the path of the root certificate(s) peers trust (PEM), ${WHERE}, e.g. "ca/root-cert.pem"` });
  const chainFile = im.string('chainFile', { hint: 'set the path of the intermediates between certFile and the root, or remove the field if the root signed certFile' });
  if (certFile === undefined || keyFile === undefined || rootCertFile === undefined) return undefined;
  return chainFile === undefined ? { certFile, keyFile, rootCertFile } : { certFile, keyFile, rootCertFile, chainFile };
}

function readDuration<K extends string>(f: ObjectFields<K>, key: K, min: number, max: number): number | undefined {
  const v = f.raw(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    const fix = typeof v === 'number' ? `: write it with a unit, e.g. "${v}s"` : '';
    f.error(key, `must be a duration string such as "24h", "90m" or "3600s"${fix}`);
    return undefined;
  }
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    f.error(key, `${JSON.stringify(v)} is not a duration: use a number with a unit h, m, s (or ms, us, ns), e.g. "24h", "90m", "1h30m"`);
    return undefined;
  }
  if (!Number.isInteger(seconds)) {
    f.error(key, `${JSON.stringify(v)} is not a whole number of seconds: round it, e.g. "${Math.round(seconds)}s"`);
    return undefined;
  }
  if (seconds < min || seconds > max) {
    f.error(key, `${JSON.stringify(v)} is out of range: use between ${formatDuration(min)} and ${formatDuration(max)}`);
    return undefined;
  }
  return seconds;
}
