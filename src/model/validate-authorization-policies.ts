/**
 * Warnings about AuthorizationPolicies that parse but will not do what they say: nothing enforces
 * them, HTTP-only fields that Istio drops (ALLOW) or ignores (DENY/AUDIT) on TCP ports, and ports
 * that are no selected workload's targetPort (a listenPort, usually).
 */
import type { AuthorizationPolicy, AuthzOperation, AuthzRule, InboundPort, Protocol, Service, Workload } from './types.ts';
import { authorizationPolicySelects } from './select-workloads.ts';
import type { Located, LocatedAuthorizationPolicy, LocatedWorkload } from './validate-references.ts';

type Warn = (file: string, path: string, message: string) => void;

const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

/** The HTTP-only fields an operation uses, as `to.operation.<field>`. */
function operationHttpFields(op: AuthzOperation): string[] {
  return HTTP_OPERATION_FIELDS.filter((f) => op[f] !== undefined).map((f) => `to.operation.${f}`);
}

/** The HTTP-only fields a rule uses (`to.operation.methods`, `when request.headers[x-id]`), once each. */
export function httpOnlyFields(rule: AuthzRule): string[] {
  const fields = [
    ...rule.to.flatMap(operationHttpFields),
    ...rule.when.filter((c) => c.key.startsWith('request.headers[')).map((c) => `when ${c.key}`),
  ];
  return [...new Set(fields)];
}

function operationMatchesPort(op: AuthzOperation, port: number): boolean {
  return (!op.ports || op.ports.includes(port)) && (!op.notPorts || !op.notPorts.includes(port));
}

function conditionsMatchPort(rule: AuthzRule, port: number): boolean {
  const p = String(port);
  return rule.when.every(
    (c) => c.key !== 'destination.port' || ((!c.values || c.values.includes(p)) && (!c.notValues || !c.notValues.includes(p))),
  );
}

/** Whether the rule's port conditions (`ports`, `notPorts`, `destination.port`) let it match `targetPort`. */
export function ruleAppliesToPort(rule: AuthzRule, targetPort: number): boolean {
  return conditionsMatchPort(rule, targetPort) && (rule.to.length === 0 || rule.to.some((op) => operationMatchesPort(op, targetPort)));
}

/**
 * Whether Istio's TCP handling changes the rule on `targetPort`: an ALLOW rule with any HTTP-only
 * field is skipped whole; a DENY/AUDIT rule only loses those fields, so it widens where an
 * operation carrying them (or a header condition) still reaches the port.
 */
export function tcpChangesRule(action: AuthorizationPolicy['action'], rule: AuthzRule, targetPort: number): boolean {
  if (!ruleAppliesToPort(rule, targetPort)) return false;
  if (action === 'ALLOW' || rule.when.some((c) => c.key.startsWith('request.headers['))) return true;
  return rule.to.some((op) => operationHttpFields(op).length > 0 && operationMatchesPort(op, targetPort));
}

interface Inbound {
  workload: Workload;
  port: InboundPort;
  protocol: Protocol | undefined; // undefined when the Service reference is broken (reported elsewhere)
}

const nameOf = (w: Workload) => `${w.metadata.namespace}/${w.metadata.name}`;

export function validateAuthorizationPolicies(
  policies: readonly LocatedAuthorizationPolicy[],
  workloads: readonly LocatedWorkload[],
  services: readonly Located<Service>[],
  rootNamespace: string,
  warning: Warn,
): void {
  const scope = policyScope(workloads, services, rootNamespace);
  for (const at of policies) validateAuthorizationPolicy(at, scope, warning);
}

/** What a policy's warnings are worked out against: the workloads and services, indexed once for every policy. */
export interface PolicyScope {
  rootNamespace: string;
  all: readonly Workload[];
  /** Namespace -> its workloads, in model order: outside the root namespace a policy selects only these. */
  inNamespace: ReadonlyMap<string, readonly Workload[]>;
  protocolOf(w: Workload, port: InboundPort): Protocol | undefined;
}

export function policyScope(workloads: readonly LocatedWorkload[], services: readonly Located<Service>[], rootNamespace: string): PolicyScope {
  // Indexed once: thousands of policies times thousands of workloads must not be compared pair by pair.
  const byName = new Map<string, Service>();
  for (const s of services) {
    const key = `${s.value.metadata.namespace}/${s.value.metadata.name}`;
    if (!byName.has(key)) byName.set(key, s.value); // the first of a clash, as a search would find
  }
  const all = workloads.map((w) => w.value);
  const inNamespace = new Map<string, Workload[]>();
  for (const w of all) {
    const list = inNamespace.get(w.metadata.namespace);
    if (list) list.push(w);
    else inNamespace.set(w.metadata.namespace, [w]);
  }
  return {
    rootNamespace,
    all,
    inNamespace,
    protocolOf: (w, port) => byName.get(`${w.metadata.namespace}/${port.service}`)?.ports.find((p) => p.name === port.port)?.protocol,
  };
}

/** One policy's warnings: what it selects, HTTP-only fields on TCP ports, ports no selected workload has. */
export function validateAuthorizationPolicy(at: LocatedAuthorizationPolicy, scope: PolicyScope, warning: Warn): void {
  const p = at.value;
  const { rootNamespace } = scope;
  const candidates = p.metadata.namespace === rootNamespace ? scope.all : (scope.inNamespace.get(p.metadata.namespace) ?? []);
  const inScope = candidates.filter((w) => authorizationPolicySelects(p, w, rootNamespace));
  const enforcing = inScope.filter((w) => w.sidecar);
  if (enforcing.length === 0) {
    warnUnenforced(at, inScope, rootNamespace, warning);
    return;
  }
  if (!at.valid) return; // indices may not match the YAML; the errors come first anyway
  const inbound: Inbound[] = enforcing.flatMap((workload) =>
    workload.inbound.map((port) => ({ workload, port, protocol: scope.protocolOf(workload, port) })),
  );
  p.rules.forEach((rule, i) => {
    warnHttpOnTcp(at, rule, i, inbound, warning);
    warnUnknownPorts(at, rule, i, inbound, warning);
  });
}

function warnUnenforced(at: LocatedAuthorizationPolicy, inScope: readonly Workload[], rootNamespace: string, warning: Warn): void {
  const p = at.value;
  const ns = p.metadata.namespace;
  const scope = ns === rootNamespace ? 'in the mesh' : `in namespace ${JSON.stringify(ns)}`;
  let detail: string;
  if (inScope.length > 0) {
    const names = inScope.map(nameOf).join(', ');
    detail = `it selects only workloads without a sidecar (${names}), which cannot enforce policy: give them a sidecar, or remove the policy`;
  } else if (p.selector) {
    const labels = Object.entries(p.selector).map(([k, v]) => `${k}=${v}`).join(', ');
    detail = `no Workload ${scope} has the labels ${labels}: fix spec.selector.matchLabels, or remove the policy`;
  } else {
    detail = `there is no Workload ${scope}: put the policy in the namespace of the workloads it protects, or remove it`;
  }
  warning(at.file, p.selector ? 'spec.selector' : 'metadata.namespace', `selects no workload with a sidecar: nothing enforces it; ${detail}`);
}

function warnHttpOnTcp(at: LocatedAuthorizationPolicy, rule: AuthzRule, i: number, inbound: readonly Inbound[], warning: Warn): void {
  const fields = httpOnlyFields(rule);
  if (fields.length === 0) return;
  const action = at.value.action;
  const hit = inbound.filter((b) => b.protocol === 'TCP' && tcpChangesRule(action, rule, b.port.targetPort));
  if (hit.length === 0) return;
  const shown = hit.slice(0, 5).map((b) => `${b.port.targetPort} of ${nameOf(b.workload)}`);
  const more = hit.length > shown.length ? ` and ${hit.length - shown.length} more` : '';
  const ports = hit.length === 1 ? `TCP port ${shown[0]!}` : `TCP ports ${shown.join(', ')}${more}`;
  const consequence =
    action === 'ALLOW'
      ? 'on TCP ports this ALLOW rule is skipped: it never allows a connection there (as in Istio)'
      : `on TCP ports those fields are ignored (as in Istio), so this ${action} rule matches every connection its other conditions match there`;
  warning(
    at.file,
    `spec.rules[${i}]`,
    `this rule uses HTTP-only fields (${fields.join(', ')}) and applies to ${ports}: ${consequence}; scope it with to.operation.ports`,
  );
}

function warnUnknownPorts(at: LocatedAuthorizationPolicy, rule: AuthzRule, i: number, inbound: readonly Inbound[], warning: Warn): void {
  const targetPorts = [...new Set(inbound.map((b) => b.port.targetPort))].sort((a, b) => a - b);
  const check = (port: number, path: string) => {
    if (targetPorts.includes(port)) return;
    const listen = inbound.find((b) => b.port.listenPort === port);
    const hint = listen
      ? `; ${port} is the listenPort of ${nameOf(listen.workload)}, which forwards to targetPort ${listen.port.targetPort}: write ${listen.port.targetPort}`
      : '';
    warning(
      at.file,
      path,
      `port ${port} is not a targetPort of any selected workload (policies name targetPorts, not listenPorts): their targetPorts are ${targetPorts.join(', ') || 'none'}${hint}`,
    );
  };
  rule.to.forEach((op, j) => {
    for (const field of ['ports', 'notPorts'] as const) {
      op[field]?.forEach((port, k) => check(port, `spec.rules[${i}].to[${j}].operation.${field}[${k}]`));
    }
  });
  rule.when.forEach((c, k) => {
    if (c.key !== 'destination.port') return;
    for (const field of ['values', 'notValues'] as const) {
      c[field]?.forEach((port, m) => check(Number(port), `spec.rules[${i}].when[${k}].${field}[${m}]`));
    }
  });
}
