import { spiffeId } from '../ca/spiffe.ts';
import { MeshplaneError } from '../errors.ts';
import type { AuthzAction, MeshModel, MtlsMode, Workload } from '../model/types.ts';
import { qualifiedName } from '../model/types.ts';
import { buildProxyPlanFor, hasEnvoy, indexModel, resolveServiceRef, serviceEndpoints, type ModelIndex } from './build-proxy-plans.ts';
import { buildProxylessPlanFor } from './build-proxyless-plans.ts';
import { evaluateAuthz, type AuthzRequest } from './evaluate-authz.ts';
import type { InboundPlan } from './proxy-plan.ts';
import { normalizePath } from './normalize-path.ts';

/** `--from`: a Workload, or a sidecar-less caller known only by its address. */
export type ExplainCaller = { workload: string /* namespace/name */ } | { plaintextIp: string };

export interface ExplainQuery {
  from: ExplainCaller;
  /** `namespace/name` of the destination Workload. */
  to: string;
  /** The destination port: its targetPort (as policies name it) or its Service port name. */
  port: string;
  method?: string;
  path?: string;
  /** Request headers, names lower case. */
  headers?: Readonly<Record<string, string>>;
}

export interface Explanation {
  /** `sidecar`: an Envoy sidecar; `proxyless`: a gRPC app that speaks xDS itself (plaintext, no identity). */
  from: { workload?: string; sidecar: boolean; proxyless?: true; identity?: string; sourceIp: string };
  to: { workload: string; sidecar: boolean; proxyless?: true; service: string; portName: string; protocol: string; targetPort: number; listen: string };
  mtls: { mode: MtlsMode | 'NONE'; scope?: string; policy?: string; callerSpeaksMtls: boolean; why: string };
  request?: { method: string; path: string; headers: Readonly<Record<string, string>> };
  decision: 'ALLOW' | 'DENY';
  /** What decided: the connection's TLS, or an authorization rule (Envoy policy name), or the default. */
  decidedBy: { stage: 'connection' } | { stage: 'authorization'; action: AuthzAction; policy: string; rule: number; envoyPolicy: string } | { stage: 'default' };
  reason: string;
  audited: string[];
  dryRun: { action: AuthzAction; wouldAllow: boolean; envoyPolicy?: string }[];
  policies: readonly string[];
  notes: string[];
}

/**
 * What happens when `from` calls `to` on one port: the mTLS mode the destination's sidecar
 * enforces, whether the caller's sidecar sends mTLS (auto mTLS, as the server decides it), and
 * the authorization decision, computed from the same plans the control plane translates.
 */
export function explain(model: MeshModel, query: ExplainQuery): Explanation {
  const index = indexModel(model);
  const dest = findWorkload(model, query.to, '--to');
  const destId = qualifiedName(dest.metadata);
  const port = findPort(dest, query.port);
  const service = qualifiedName({ name: port.service, namespace: dest.metadata.namespace });
  const protocol = index.services.get(service)!.ports.find((p) => p.name === port.port)!.protocol;
  const notes: string[] = [];

  const caller = describeCaller(model, query.from, service, port.port, notes);
  const endpoint = serviceEndpoints(index, service, port.port).find((e) => e.workload === destId)!;
  const callerSpeaksMtls = caller.sidecar && caller.viaSidecar && endpoint.tls === 'MESH_MTLS';
  const why = caller.proxyless
    ? 'the caller is a proxyless gRPC app: plaintext, no identity'
    : !caller.sidecar
      ? 'the caller has no sidecar: plaintext'
      : !caller.viaSidecar
        ? 'the caller has no outbound for this service port: its app would connect directly, in plaintext'
        : `auto mTLS: ${endpoint.reason}`;

  const http = protocol !== 'TCP';
  const request: AuthzRequest = {
    ...(callerSpeaksMtls && { principal: caller.identity }),
    sourceIp: caller.sourceIp,
    ...(http && { http: httpRequest(query, notes) }),
  };
  if (!http && (query.method || query.path || query.headers)) notes.push(`port ${port.targetPort} is TCP: --method, --path and --header do not apply`);

  const base = {
    from: {
      ...(caller.workload && { workload: caller.workload }),
      sidecar: caller.sidecar,
      ...(caller.proxyless && { proxyless: true as const }),
      ...(caller.identity && { identity: caller.identity }),
      sourceIp: caller.sourceIp,
    },
    to: { workload: query.to, sidecar: hasEnvoy(dest), ...(dest.proxyless && { proxyless: true as const }), service, portName: port.port, protocol, targetPort: port.targetPort, listen: `${dest.address}:${port.listenPort}` },
    ...(request.http && { request: request.http }),
  };

  if (!dest.sidecar) {
    return {
      ...base,
      mtls: { mode: 'NONE', callerSpeaksMtls: false, why: 'the destination has no sidecar: plaintext, no identity' },
      decision: 'ALLOW',
      decidedBy: { stage: 'default' },
      reason: 'the destination has no sidecar, so nothing enforces mTLS or AuthorizationPolicy: allowed',
      audited: [],
      dryRun: [],
      policies: [],
      notes,
    };
  }

  const inbound = destinationInbound(model, index, destId, port.listenPort);
  const mtls = { mode: inbound.mtls.mode, scope: inbound.mtls.scope, ...(inbound.mtls.policy && { policy: inbound.mtls.policy }), callerSpeaksMtls, why };
  const policies = inbound.authz?.policies ?? [];
  if (inbound.mtls.mode === 'STRICT' && !callerSpeaksMtls) {
    return { ...base, mtls, decision: 'DENY', decidedBy: { stage: 'connection' }, reason: `port ${port.targetPort} is STRICT and the caller sends plaintext: the connection is refused before authorization`, audited: [], dryRun: [], policies, notes };
  }
  if (!callerSpeaksMtls && inbound.authz) notes.push('plaintext connection: no peer identity, so principal and namespace conditions never match it');
  notes.push(...(inbound.authz?.notes ?? []));

  const d = evaluateAuthz(inbound.authz, request);
  return {
    ...base,
    mtls,
    decision: d.allowed ? 'ALLOW' : 'DENY',
    decidedBy: d.decidedBy
      ? { stage: 'authorization', action: d.decidedBy.action, policy: d.decidedBy.rule.policy, rule: d.decidedBy.rule.rule, envoyPolicy: d.decidedBy.rule.name }
      : { stage: 'default' },
    reason: d.reason,
    audited: d.audited.map((r) => r.name),
    dryRun: d.dryRun.map((r) => ({ action: r.action, wouldAllow: r.wouldAllow, ...(r.rule && { envoyPolicy: r.rule.name }) })),
    policies,
    notes,
  };
}

function httpRequest(query: ExplainQuery, notes: string[]) {
  const rawPath = query.path ?? '/';
  const path = normalizePath(rawPath);
  if (path !== rawPath) notes.push(`path ${rawPath} is normalised to ${path} by the sidecar before policies see it`);
  return { method: query.method ?? 'GET', path, headers: query.headers ?? {} };
}

interface Caller {
  workload?: string;
  /** An Envoy sidecar, which speaks mesh mTLS. */
  sidecar: boolean;
  proxyless?: boolean;
  /** Whether the call goes through the caller's sidecar (an outbound to this service port). */
  viaSidecar: boolean;
  identity?: string;
  sourceIp: string;
}

function describeCaller(model: MeshModel, from: ExplainCaller, service: string, portName: string, notes: string[]): Caller {
  if ('plaintextIp' in from) return { sidecar: false, viaSidecar: false, sourceIp: from.plaintextIp };
  const w = findWorkload(model, from.workload, '--from');
  const ns = w.metadata.namespace;
  const viaSidecar = w.sidecar && w.outbound.some((o) => resolveServiceRef(o.service, ns) === service && o.port === portName);
  if (w.sidecar && !viaSidecar) notes.push(`${from.workload} has no outbound for ${service}:${portName}; shown as a direct plaintext call from its address`);
  return {
    workload: from.workload,
    sidecar: hasEnvoy(w),
    proxyless: w.proxyless,
    viaSidecar,
    ...(hasEnvoy(w) && { identity: spiffeId(model.mesh.trustDomain, ns, w.serviceAccount) }),
    sourceIp: w.address,
  };
}

/** The destination's mode and authorization on one port, from the plan its sidecar (or proxyless app) is given. */
function destinationInbound(model: MeshModel, index: ModelIndex, nodeId: string, listenPort: number): Pick<InboundPlan, 'mtls' | 'authz'> {
  const plan = buildProxyPlanFor(model, nodeId, index) ?? buildProxylessPlanFor(model, nodeId, index)!;
  return plan.inbound.find((p) => p.listenPort === listenPort)!;
}

function findWorkload(model: MeshModel, ref: string, flag: string): Workload {
  const [namespace, name] = ref.split('/');
  const w = model.workloads.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
  if (w) return w;
  const known = model.workloads.map((x) => `${x.metadata.namespace}/${x.metadata.name}`).join(', ');
  throw new MeshplaneError('USAGE', `${flag} ${ref}: no such Workload (NAMESPACE/NAME); known: ${known || 'none'}`);
}

function findPort(w: Workload, port: string): Workload['inbound'][number] {
  const matches = /^\d+$/.test(port) ? w.inbound.filter((p) => p.targetPort === Number(port)) : w.inbound.filter((p) => p.port === port);
  if (matches.length === 1) return matches[0]!;
  const where = `--to ${w.metadata.namespace}/${w.metadata.name}:${port}`;
  if (matches.length > 1) throw new MeshplaneError('USAGE', `${where}: the port name ${port} is on several services of this workload; name the targetPort instead`);
  const known = w.inbound.map((p) => `${p.targetPort} (${p.port})`).join(', ');
  const listen = w.inbound.find((p) => String(p.listenPort) === port);
  const hint = listen ? `; ${port} is the listenPort of targetPort ${listen.targetPort}: policies and explain name targetPorts` : '';
  throw new MeshplaneError('USAGE', `${where}: no inbound port with that targetPort or name; known: ${known || 'none'}${hint}`);
}
