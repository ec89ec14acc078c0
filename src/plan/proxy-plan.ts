import type { MtlsMode, Protocol } from '../model/types.ts';
import type { AuthzPlan } from './authz-plan.ts';
import type { EffectiveMtls } from './resolve-mtls.ts';

/**
 * What one sidecar needs, decided from the model and free of Envoy types: the translator turns
 * it into listeners, clusters and secrets. Everything is sorted, so equal models give equal plans.
 */
export interface ProxyPlan {
  /** Envoy's node.id: `<workload>.<namespace>`. */
  nodeId: string;
  workload: { name: string; namespace: string; serviceAccount: string };
  spiffeId: string;
  trustDomain: string;
  inbound: readonly InboundPlan[];
  outbound: readonly OutboundPlan[];
}

/** One inbound port: the sidecar listens on address:listenPort and forwards to targetAddress:targetPort. */
export interface InboundPlan {
  service: string; // `name.namespace`
  portName: string;
  protocol: Protocol;
  listenAddress: string;
  listenPort: number;
  targetAddress: string;
  targetPort: number;
  mtls: EffectiveMtls;
  /** Absent when no AuthorizationPolicy selects the workload: everything is allowed. */
  authz?: AuthzPlan;
}

/** One outbound: the sidecar listens on bind:listenPort for the local app. */
export interface OutboundPlan {
  bindAddress: string;
  listenPort: number;
  protocol: Protocol;
  upstream: UpstreamPlan;
}

export type UpstreamPlan = ServiceUpstreamPlan | ExternalUpstreamPlan;

/** A mesh Service port: its endpoints are the workloads that serve it. */
export interface ServiceUpstreamPlan {
  kind: 'service';
  service: string; // `name.namespace`
  portName: string;
  protocol: Protocol;
  endpoints: readonly EndpointPlan[];
  /** SPIFFE IDs of the service accounts behind the mTLS endpoints ("secure naming"); sorted, unique. */
  peerIdentities: readonly string[];
  /**
   * The caller's address to connect from, so the destination sees it as source.ip (a pod IP in
   * Istio). Only on one host: set when the caller and every endpoint are loopback addresses.
   */
  sourceAddress?: string;
}

/** Auto mTLS, decided per endpoint: mesh mTLS only where a sidecar is there to terminate it. */
export interface EndpointPlan {
  workload: string; // `name.namespace`
  address: string;
  port: number;
  tls: 'MESH_MTLS' | 'PLAINTEXT';
  /** Why: 'sidecar, STRICT' / 'no sidecar' / 'sidecar, DISABLE on port 8080'. */
  reason: string;
  /** The destination's effective mode on that port, when it has a sidecar. */
  peerMode?: MtlsMode;
}

/** An ExternalService: plaintext or plain TLS, never mesh mTLS. */
export interface ExternalUpstreamPlan {
  kind: 'external';
  service: string; // `name.namespace`
  protocol: Protocol;
  address: string;
  port: number;
  tls: { mode: 'DISABLE' } | { mode: 'SIMPLE'; sni?: string; caCertificates?: string };
}

/**
 * What one proxyless gRPC workload needs (`spec.proxyless: true`, as Istio's proxyless gRPC):
 * the app is its own xDS client, so nothing listens on its behalf and it gets no certificate;
 * it sends and receives plaintext. The translator turns this into gRPC's xDS resources.
 */
export interface ProxylessPlan {
  /** The app's xDS node.id: `<workload>.<namespace>`, as for a sidecar. */
  nodeId: string;
  workload: { name: string; namespace: string; serviceAccount: string };
  inbound: readonly ProxylessInboundPlan[];
  outbound: readonly ProxylessOutboundPlan[];
}

/** A port the app serves itself, with an xDS-enabled server bound to listenAddress:listenPort. */
export interface ProxylessInboundPlan {
  service: string; // `name.namespace`
  portName: string;
  protocol: Protocol;
  listenAddress: string;
  listenPort: number;
  /** As PeerAuthentication resolves it; never STRICT (a validation error): the app serves plaintext. */
  mtls: EffectiveMtls;
  /**
   * What the app's RBAC filter enforces: AUDIT filters and dry-run rules are left out (grpc-js-xds
   * has no LOG action and no shadow rules), said in `notes`. Absent when no policy selects it.
   */
  authz?: AuthzPlan;
}

/** A Service port the app dials as `xds:///<portName>.<service>` (names.ts grpcTarget). */
export interface ProxylessOutboundPlan {
  service: string; // `name.namespace`
  portName: string;
  protocol: Protocol;
  /** Where the app connects, in plaintext: a proxyless server's own port, or a sidecar's listenPort. */
  endpoints: readonly ProxylessEndpointPlan[];
  /** Endpoints left out because they refuse plaintext (STRICT sidecars); absent when none. */
  excluded?: readonly (ProxylessEndpointPlan & { reason: string })[];
}

export interface ProxylessEndpointPlan {
  workload: string; // `name.namespace`
  address: string;
  port: number;
}
