import type { MeshModel, Workload } from '../model/types.ts';
import { qualifiedName } from '../model/types.ts';
import { authorizationPolicySelects } from '../model/select-workloads.ts';
import type { AuthzPlan, RbacFilterPlan } from './authz-plan.ts';
import { buildAuthzPlan } from './build-authz.ts';
import { indexModel, resolveServiceRef, serviceEndpoints, servicePort, type ModelIndex } from './build-proxy-plans.ts';
import type { ProxylessEndpointPlan, ProxylessInboundPlan, ProxylessOutboundPlan, ProxylessPlan } from './proxy-plan.ts';
import { compareStrings, mtlsForPort } from './resolve-mtls.ts';

/** One plan per proxyless gRPC workload (`spec.proxyless: true`), sorted by node id. */
export function buildProxylessPlans(model: MeshModel, index: ModelIndex = indexModel(model)): ProxylessPlan[] {
  return model.workloads
    .filter((w) => w.proxyless)
    .map((w) => buildProxylessPlan(w, index))
    .sort((a, b) => compareStrings(a.nodeId, b.nodeId));
}

/** The plan of one proxyless workload; `undefined` when the node id is unknown or not proxyless. */
export function buildProxylessPlanFor(model: MeshModel, nodeId: string, index: ModelIndex = indexModel(model)): ProxylessPlan | undefined {
  const workload = model.workloads.find((w) => w.proxyless && qualifiedName(w.metadata) === nodeId);
  return workload && buildProxylessPlan(workload, index);
}

function buildProxylessPlan(workload: Workload, index: ModelIndex): ProxylessPlan {
  const { metadata } = workload;
  const { rootNamespace } = index.model.mesh;
  const mtls = index.mtlsByWorkload.get(qualifiedName(metadata))!;
  const policies = index.model.authorizationPolicies.filter((p) => authorizationPolicySelects(p, workload, rootNamespace));
  const inbound = workload.inbound.map((port): ProxylessInboundPlan => {
    const service = qualifiedName({ name: port.service, namespace: metadata.namespace });
    const { protocol } = servicePort(index, service, port.port);
    const authz = enforceableByGrpc(buildAuthzPlan(policies, { targetPort: port.targetPort, protocol }));
    return {
      service,
      portName: port.port,
      protocol,
      listenAddress: workload.address,
      listenPort: port.listenPort,
      mtls: mtlsForPort(mtls, port.targetPort),
      ...(authz && { authz }),
    };
  });
  const outbound = workload.outbound.map((out): ProxylessOutboundPlan => {
    const service = resolveServiceRef(out.service, metadata.namespace);
    const portName = out.port!; // validated: a Service port (proxyless outbounds cannot name ExternalServices)
    const { protocol } = servicePort(index, service, portName);
    const endpoints: ProxylessEndpointPlan[] = [];
    const excluded: (ProxylessEndpointPlan & { reason: string })[] = [];
    for (const e of serviceEndpoints(index, service, portName)) {
      const endpoint = { workload: e.workload, address: e.address, port: e.port };
      // The app connects in plaintext; a STRICT sidecar would close the connection.
      if (e.peerMode === 'STRICT') excluded.push({ ...endpoint, reason: `${e.reason}: refuses plaintext` });
      else endpoints.push(endpoint);
    }
    return { service, portName, protocol, endpoints, ...(excluded.length > 0 && { excluded }) };
  });
  return {
    nodeId: qualifiedName(metadata),
    workload: { name: metadata.name, namespace: metadata.namespace, serviceAccount: workload.serviceAccount },
    inbound: inbound.sort((a, b) => compareStrings(a.listenAddress, b.listenAddress) || a.listenPort - b.listenPort),
    outbound: outbound.sort((a, b) => compareStrings(a.service, b.service) || compareStrings(a.portName, b.portName)),
  };
}

/**
 * The part of an authz plan grpc-js-xds can enforce. Its RBAC filter rejects the LOG action and
 * reads only `rules` (rbac.ts parseConfig; http-filter/rbac-filter.ts), so AUDIT filters and
 * dry-run rules are left out rather than sent to be NACKed; the notes say what was dropped.
 */
function enforceableByGrpc(authz: AuthzPlan | undefined): AuthzPlan | undefined {
  if (!authz) return undefined;
  const notes = [...authz.notes];
  const filters: RbacFilterPlan[] = [];
  const policiesOf = (rules: RbacFilterPlan['rules']) => [...new Set((rules ?? []).map((r) => r.policy))].join(', ');
  for (const f of authz.filters) {
    if (f.action === 'AUDIT') {
      notes.push(`AUDIT ${policiesOf(f.rules ?? f.shadowRules)}: not evaluated, proxyless gRPC has no RBAC LOG action`);
      continue;
    }
    if (f.shadowRules) notes.push(`dry run ${f.action} ${policiesOf(f.shadowRules)}: not evaluated, proxyless gRPC has no shadow rules`);
    if (f.rules) filters.push({ action: f.action, rules: f.rules });
  }
  return { policies: authz.policies, filters, notes };
}
