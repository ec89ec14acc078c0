import { isIPv4 } from 'node:net';
import { spiffeId } from '../ca/spiffe.ts';
import type { AuthorizationPolicy, ExternalService, MeshModel, OutboundPort, Service, Workload } from '../model/types.ts';
import { qualifiedName } from '../model/types.ts';
import type { EndpointPlan, ExternalUpstreamPlan, InboundPlan, OutboundPlan, ProxyPlan, ServiceUpstreamPlan } from './proxy-plan.ts';
import { authorizationPolicySelects } from '../model/select-workloads.ts';
import { buildAuthzPlan } from './build-authz.ts';
import { compareStrings, mtlsForPort, resolveMtls, type ResolvedMtls } from './resolve-mtls.ts';

/**
 * One plan per workload with an Envoy sidecar (`sidecar: true`, not proxyless), sorted by node id.
 * The model is already validated, so a dangling reference here is a bug and throws.
 */
export function buildProxyPlans(model: MeshModel, index: ModelIndex = indexModel(model)): ProxyPlan[] {
  return model.workloads
    .filter(hasEnvoy)
    .map((w) => buildProxyPlan(w, index))
    .sort((a, b) => compareStrings(a.nodeId, b.nodeId));
}

/** The plan of one sidecar workload; `undefined` when the node id is unknown or has no Envoy sidecar. */
export function buildProxyPlanFor(model: MeshModel, nodeId: string, index: ModelIndex = indexModel(model)): ProxyPlan | undefined {
  const workload = model.workloads.find((w) => hasEnvoy(w) && qualifiedName(w.metadata) === nodeId);
  return workload && buildProxyPlan(workload, index);
}

export interface ModelIndex {
  model: MeshModel;
  services: Map<string, Service>;
  externals: Map<string, ExternalService>;
  workloads: Map<string, Workload>;
  mtlsByWorkload: Map<string, ResolvedMtls>;
  /** `service|portName` -> the workloads serving it and their inbound port. */
  servers: Map<string, { workload: Workload; port: Workload['inbound'][number] }[]>;
  /**
   * Filled as plans are built, so each is worked out once rather than once per proxy:
   * namespace -> the AuthorizationPolicies that may select its workloads (its own and the root
   * namespace's, in model order); `service|portName` -> a Service upstream without `sourceAddress`.
   */
  memo: { policiesIn: Map<string, readonly AuthorizationPolicy[]>; upstreams: Map<string, ServiceUpstreamPlan> };
}

/** An Envoy sidecar: served over xDS, and not by the app itself. */
export const hasEnvoy = (w: Workload) => w.sidecar && !w.proxyless;

const serverKey = (service: string, portName: string) => `${service}|${portName}`;

export function indexModel(model: MeshModel): ModelIndex {
  const mtlsByWorkload = new Map<string, ResolvedMtls>();
  for (const w of model.workloads) {
    mtlsByWorkload.set(
      qualifiedName(w.metadata),
      resolveMtls(model.peerAuthentications, model.mesh.rootNamespace, { namespace: w.metadata.namespace, labels: w.metadata.labels }),
    );
  }
  const servers: ModelIndex['servers'] = new Map();
  for (const workload of model.workloads) {
    for (const port of workload.inbound) {
      const key = serverKey(qualifiedName({ name: port.service, namespace: workload.metadata.namespace }), port.port);
      servers.set(key, [...(servers.get(key) ?? []), { workload, port }]);
    }
  }
  return {
    model,
    services: new Map(model.services.map((s) => [qualifiedName(s.metadata), s])),
    externals: new Map(model.externalServices.map((s) => [qualifiedName(s.metadata), s])),
    workloads: new Map(model.workloads.map((w) => [qualifiedName(w.metadata), w])),
    mtlsByWorkload,
    servers,
    memo: { policiesIn: new Map(), upstreams: new Map() },
  };
}

/** The AuthorizationPolicies that can select a workload of `namespace` (selectors not yet applied), in model order. */
function policiesIn(index: ModelIndex, namespace: string): readonly AuthorizationPolicy[] {
  let list = index.memo.policiesIn.get(namespace);
  if (!list) {
    const root = index.model.mesh.rootNamespace;
    list = index.model.authorizationPolicies.filter((p) => p.metadata.namespace === namespace || p.metadata.namespace === root);
    index.memo.policiesIn.set(namespace, list);
  }
  return list;
}

/** The plan of one sidecar workload of `index.model` (proxy-planner.ts re-plans a few this way). */
export function buildProxyPlan(workload: Workload, index: ModelIndex): ProxyPlan {
  const { metadata } = workload;
  const { trustDomain } = index.model.mesh;
  const mtls = index.mtlsByWorkload.get(qualifiedName(metadata))!;
  const policies = policiesIn(index, metadata.namespace).filter((p) => authorizationPolicySelects(p, workload, index.model.mesh.rootNamespace));
  const inbound: InboundPlan[] = workload.inbound.map((port) => {
    const service = qualifiedName({ name: port.service, namespace: metadata.namespace });
    const { protocol } = servicePort(index, service, port.port);
    const authz = buildAuthzPlan(policies, { targetPort: port.targetPort, protocol });
    return {
      service,
      portName: port.port,
      protocol,
      listenAddress: workload.address,
      listenPort: port.listenPort,
      targetAddress: port.targetAddress,
      targetPort: port.targetPort,
      mtls: mtlsForPort(mtls, port.targetPort),
      ...(authz && { authz }),
    };
  });
  const outbound: OutboundPlan[] = workload.outbound.map((out) => {
    const upstream = buildUpstream(out, workload, index);
    // An Envoy workload's outbound always has both (parseWorkload defaults bind).
    return { bindAddress: out.bind!, listenPort: out.listenPort!, protocol: upstream.protocol, upstream };
  });
  return {
    nodeId: qualifiedName(metadata),
    workload: { name: metadata.name, namespace: metadata.namespace, serviceAccount: workload.serviceAccount },
    spiffeId: spiffeId(trustDomain, metadata.namespace, workload.serviceAccount),
    trustDomain,
    inbound: inbound.sort((a, b) => compareStrings(a.listenAddress, b.listenAddress) || a.listenPort - b.listenPort),
    outbound: outbound.sort((a, b) => compareStrings(a.bindAddress, b.bindAddress) || a.listenPort - b.listenPort),
  };
}

/** `name` or `name.namespace` as written in an outbound, qualified with the caller's namespace. */
export function resolveServiceRef(ref: string, callerNamespace: string): string {
  return ref.includes('.') ? ref : `${ref}.${callerNamespace}`;
}

function buildUpstream(out: OutboundPort, caller: Workload, index: ModelIndex): ServiceUpstreamPlan | ExternalUpstreamPlan {
  const name = resolveServiceRef(out.service, caller.metadata.namespace);
  const external = index.externals.get(name);
  if (external) return buildExternalUpstream(name, external);
  const upstream = serviceUpstream(index, name, out.port!);
  const local = isLoopback(caller.address) && upstream.endpoints.every((e) => isLoopback(e.address));
  return local ? { ...upstream, sourceAddress: caller.address } : upstream;
}

/** A Service port as every caller sees it (the caller-specific `sourceAddress` aside); shared by the plans of one build. */
function serviceUpstream(index: ModelIndex, service: string, portName: string): ServiceUpstreamPlan {
  const key = serverKey(service, portName);
  const known = index.memo.upstreams.get(key);
  if (known) return known;
  const { protocol } = servicePort(index, service, portName);
  const endpoints = serviceEndpoints(index, service, portName);
  const peerIdentities = [
    ...new Set(
      endpoints
        .filter((e) => e.tls === 'MESH_MTLS')
        .map((e) => workloadIdentity(index, e.workload)),
    ),
  ].sort(compareStrings);
  const upstream: ServiceUpstreamPlan = { kind: 'service', service, portName, protocol, endpoints, peerIdentities };
  index.memo.upstreams.set(key, upstream);
  return upstream;
}

/** 127.0.0.0/8 or ::1: addresses every process on the host can bind. */
function isLoopback(address: string): boolean {
  return (isIPv4(address) && address.startsWith('127.')) || address === '::1';
}

function buildExternalUpstream(name: string, s: ExternalService): ExternalUpstreamPlan {
  const tls: ExternalUpstreamPlan['tls'] =
    s.tls === 'SIMPLE'
      ? { mode: 'SIMPLE', ...(s.sni !== undefined && { sni: s.sni }), ...(s.caCertificates !== undefined && { caCertificates: s.caCertificates }) }
      : { mode: 'DISABLE' };
  return { kind: 'external', service: name, protocol: s.protocol, address: s.address, port: s.port, tls };
}

/**
 * Every workload serving `service`/`portName`, reached on its listenPort. The upstream TLS is
 * decided per endpoint, like Istio's auto mTLS: mesh mTLS when the endpoint has an Envoy sidecar
 * and its effective mode on that targetPort is not DISABLE; plaintext otherwise (no sidecar, or
 * a proxyless gRPC app, which has no certificate).
 */
export function serviceEndpoints(index: ModelIndex, service: string, portName: string): EndpointPlan[] {
  const endpoints = (index.servers.get(serverKey(service, portName)) ?? []).map(({ workload: w, port }): EndpointPlan => {
    const base = { workload: qualifiedName(w.metadata), address: w.address, port: port.listenPort };
    if (!w.sidecar) return { ...base, tls: 'PLAINTEXT', reason: 'no sidecar' };
    if (w.proxyless) return { ...base, tls: 'PLAINTEXT', reason: 'proxyless gRPC, plaintext' };
    const { mode } = mtlsForPort(index.mtlsByWorkload.get(base.workload)!, port.targetPort);
    return mode === 'DISABLE'
      ? { ...base, tls: 'PLAINTEXT', reason: `sidecar, DISABLE on port ${port.targetPort}`, peerMode: mode }
      : { ...base, tls: 'MESH_MTLS', reason: `sidecar, ${mode} on port ${port.targetPort}`, peerMode: mode };
  });
  return endpoints.sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
}

export function servicePort(index: ModelIndex, service: string, portName: string) {
  const port = index.services.get(service)?.ports.find((p) => p.name === portName);
  if (!port) throw new Error(`invariant: validated model has no port ${portName} on service ${service}`);
  return port;
}

function workloadIdentity(index: ModelIndex, workload: string): string {
  const w = index.workloads.get(workload)!;
  return spiffeId(index.model.mesh.trustDomain, w.metadata.namespace, w.serviceAccount);
}
