/**
 * The user-facing mesh model, after parsing and validation. No Envoy types here.
 * Every document keeps where it came from so later layers can point back at the file.
 */

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
/** As written in a PeerAuthentication: UNSET inherits from the wider scope. */
export type PeerAuthMode = MtlsMode | 'UNSET';
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'TCP';
export type KeyAlgorithm = 'ECDSA_P256' | 'RSA_2048';

export interface Source {
  file: string;
  /** Index of the document inside a multi-document file, from 0. */
  index: number;
}

export interface Metadata {
  name: string;
  /** Defaults to `default` when omitted (Kubernetes convention). */
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** RFC 3339 creation time if given; policies without one sort after those with one. */
  creationTimestamp?: string;
}

export interface CaSettings {
  /** Of the workload keys; also of the self-made root when it is created (not with `intermediate`). */
  keyAlgorithm: KeyAlgorithm;
  workloadCertTtlSeconds: number;
  rotationRatio: number;
  /** Of the self-made root only; does not apply with `intermediate`. */
  rootCertTtlSeconds: number;
  /**
   * An operator-provided intermediate CA that signs the workload certificates instead of the
   * self-made root (Istio's "plug-in CA"). The paths are as written: relative to the config
   * directory, or absolute; the files are read by src/ca/provided-ca.ts, not by the model.
   */
  intermediate?: IntermediateCaFiles;
}

export interface IntermediateCaFiles {
  /** The intermediate CA certificate (PEM, exactly one). */
  certFile: string;
  /** Its private key (PEM, unencrypted; PKCS#8, SEC1 or PKCS#1), ECDSA P-256 or RSA 2048. */
  keyFile: string;
  /** The root certificate(s) peers trust: the trust bundle, one or more self-signed CAs. */
  rootCertFile: string;
  /** Intermediates between certFile and the root, certFile's issuer first. */
  chainFile?: string;
}

export interface Mesh {
  kind: 'Mesh';
  source: Source;
  metadata: Metadata;
  trustDomain: string;
  rootNamespace: string;
  ca: CaSettings;
  /** Translator plugins to load, in order (`spec.plugins`); absent when none are listed. */
  plugins?: readonly MeshPlugin[];
}

/**
 * One `spec.plugins` entry: a plugin module the control plane imports (src/extend/mesh-plugins.ts;
 * the model only reads what is written).
 */
export interface MeshPlugin {
  /** As written: relative to the config directory, or absolute. */
  file: string;
  /** Overrides the plugin's own error policy. */
  onError?: 'fail-closed' | 'skip-plugin';
  /** Given to the module's factory (`export default (options) => plugin`). */
  options?: Readonly<Record<string, unknown>>;
  /** `spec.plugins[0]`: where errors about this entry point. */
  path: string;
}

export interface ServicePort {
  name: string;
  protocol: Protocol;
}

export interface Service {
  kind: 'Service';
  source: Source;
  metadata: Metadata;
  ports: readonly ServicePort[];
}

export interface InboundPort {
  service: string; // a Service name in the workload's namespace
  port: string; // a port name of that Service
  /** Where peers reach this workload: the sidecar's port (sidecar: true) or the app's own port (no sidecar, proxyless). */
  listenPort: number;
  /** Where the sidecar forwards to; the port that policies name. Equals listenPort without a sidecar and for proxyless workloads. */
  targetPort: number;
  targetAddress: string; // default 127.0.0.1
}

export interface OutboundPort {
  /** `name` (same namespace) or `name.namespace`; resolves to a Service or an ExternalService. */
  service: string;
  /** Service port name; optional for an ExternalService (it has one port). */
  port?: string;
  /** Where the sidecar listens for the app. Absent for proxyless workloads: the app dials `xds:///` itself. */
  listenPort?: number;
  /** Default 127.0.0.1; absent for proxyless workloads. */
  bind?: string;
}

export interface Workload {
  kind: 'Workload';
  source: Source;
  metadata: Metadata;
  serviceAccount: string; // default `default`
  address: string;
  /** Served over xDS by the control plane (an Envoy sidecar, or the app itself when proxyless). Default true. */
  sidecar: boolean;
  /**
   * `spec.proxyless: true`: a gRPC app that speaks xDS itself (grpc-js-xds, grpc-go xds), as in
   * Istio's proxyless gRPC. No Envoy, so no mesh mTLS and no workload certificate: it sends and
   * receives plaintext, and enforces AuthorizationPolicy in its own RBAC filter. Implies sidecar.
   */
  proxyless: boolean;
  inbound: readonly InboundPort[];
  outbound: readonly OutboundPort[];
}

export interface ExternalService {
  kind: 'ExternalService';
  source: Source;
  metadata: Metadata;
  address: string;
  port: number;
  protocol: Protocol;
  tls: 'DISABLE' | 'SIMPLE';
  /** SNI for tls: SIMPLE; defaults to the address. */
  sni?: string;
  /** PEM bundle to verify the server for tls: SIMPLE; defaults to the system trust store. */
  caCertificates?: string;
}

export interface PeerAuthentication {
  kind: 'PeerAuthentication';
  source: Source;
  metadata: Metadata;
  /** Absent or empty: namespace-wide (or mesh-wide in the root namespace). */
  selector?: Readonly<Record<string, string>>;
  mode: PeerAuthMode; // spec.mtls.mode, UNSET when omitted
  /** Keyed by workload targetPort. Only valid with a selector. */
  portLevelMtls: ReadonlyMap<number, PeerAuthMode>;
}

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT';

/**
 * Istio `AuthorizationPolicy` (security.istio.io/v1, v1beta1). Lists are as written; an empty list
 * is the same as an absent field (protobuf semantics), so optional lists are never empty.
 */
export interface AuthorizationPolicy {
  kind: 'AuthorizationPolicy';
  source: Source;
  metadata: Metadata;
  /** Absent or empty: every workload of the namespace (of the mesh, in the root namespace). */
  selector?: Readonly<Record<string, string>>;
  action: AuthzAction; // ALLOW when omitted
  /** The `istio.io/dry-run: "true"` annotation: evaluated and counted, never enforced. */
  dryRun: boolean;
  /** No rules never match: an ALLOW policy without rules allows nothing. */
  rules: readonly AuthzRule[];
}

/** Matches when one `from` AND one `to` AND every `when` match; empty lists match anything. */
export interface AuthzRule {
  from: readonly AuthzSource[];
  to: readonly AuthzOperation[];
  when: readonly AuthzCondition[];
}

/** `from[].source`: fields ANDed, values within a field ORed. Values keep Istio's `*` wildcards. */
export interface AuthzSource {
  principals?: readonly string[]; // `<trustDomain>/ns/<ns>/sa/<sa>`, no `spiffe://`
  notPrincipals?: readonly string[];
  namespaces?: readonly string[];
  notNamespaces?: readonly string[];
  ipBlocks?: readonly string[]; // IP or CIDR, normalised to CIDR (`10.0.0.1/32`)
  notIpBlocks?: readonly string[];
  remoteIpBlocks?: readonly string[];
  notRemoteIpBlocks?: readonly string[];
}

/** `to[].operation`: fields ANDed, values within a field ORed. */
export interface AuthzOperation {
  hosts?: readonly string[];
  notHosts?: readonly string[];
  ports?: readonly number[]; // targetPorts
  notPorts?: readonly number[];
  methods?: readonly string[];
  notMethods?: readonly string[];
  paths?: readonly string[];
  notPaths?: readonly string[];
}

/** Supported `when` keys (anything else is a validation error). */
export type AuthzConditionKey =
  | 'source.ip'
  | 'remote.ip'
  | 'source.namespace'
  | 'source.principal'
  | 'destination.port'
  | `request.headers[${string}]`;

/** `when[]`: the key's value must match one of `values` and none of `notValues`. */
export interface AuthzCondition {
  key: AuthzConditionKey;
  values?: readonly string[];
  notValues?: readonly string[];
}

/** A whole validated configuration directory. Arrays are sorted by namespace, then name. */
export interface MeshModel {
  mesh: Mesh;
  services: readonly Service[];
  workloads: readonly Workload[];
  externalServices: readonly ExternalService[];
  peerAuthentications: readonly PeerAuthentication[];
  authorizationPolicies: readonly AuthorizationPolicy[];
}

export const DEFAULT_NAMESPACE = 'default';

/** `name.namespace`, the key used for node ids and cross-namespace references. */
export function qualifiedName(m: Pick<Metadata, 'name' | 'namespace'>): string {
  return `${m.name}.${m.namespace}`;
}
