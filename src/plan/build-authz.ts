import type { AuthorizationPolicy, AuthzAction, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource, Protocol } from '../model/types.ts';
import { httpOnlyFields, tcpChangesRule } from '../model/validate-authorization-policies.ts';
import type { AuthzPlan, Permission, Principal, RbacFilterPlan, RbacRule } from './authz-plan.ts';
import { allOf, anyOf, istioHeaderMatch, istioStringMatch, namespaceMatch, parseCidr, principalMatch } from './authz-matchers.ts';
import { compareStrings } from './resolve-mtls.ts';

/** The inbound port a policy is rendered for. */
export interface AuthzPort {
  targetPort: number;
  protocol: Protocol;
}

const ACTION_ORDER: readonly AuthzAction[] = ['AUDIT', 'DENY', 'ALLOW'];

/** Istio's Envoy policy name, so a denial in Envoy's logs and stats traces back to the YAML. */
export const rbacRuleName = (namespace: string, policy: string, rule: number) => `ns[${namespace}]-policy[${policy}]-rule[${rule}]`;

/**
 * The AuthorizationPolicies that select one workload, rendered for one of its inbound ports as
 * Istio renders them (pilot/pkg/security/authz/builder): one filter per action, AUDIT, DENY,
 * ALLOW; no ALLOW filter when no ALLOW policy applies (allow by default); an ALLOW filter with
 * no matching rule denies everything. Undefined when no policy selects the workload.
 */
export function buildAuthzPlan(policies: readonly AuthorizationPolicy[], port: AuthzPort): AuthzPlan | undefined {
  if (policies.length === 0) return undefined;
  const notes: string[] = [];
  const filters: RbacFilterPlan[] = [];
  for (const action of ACTION_ORDER) {
    const ofAction = policies.filter((p) => p.action === action);
    if (ofAction.length === 0) continue;
    // AUDIT only logs; a dry run of it would be a dry run of nothing, so it is simply audited.
    const enforced = ofAction.filter((p) => !p.dryRun || action === 'AUDIT');
    const dryRun = ofAction.filter((p) => p.dryRun && action !== 'AUDIT');
    const render = (list: readonly AuthorizationPolicy[]) => list.flatMap((p) => renderPolicy(p, port, notes)).sort((a, b) => compareStrings(a.name, b.name));
    const rules = enforced.length > 0 ? render(enforced) : undefined;
    const shadowRules = dryRun.length > 0 ? render(dryRun) : undefined;
    // A DENY or AUDIT filter without rules does nothing; ALLOW without rules denies everything.
    const keepRules = rules !== undefined && (rules.length > 0 || action === 'ALLOW');
    if (!keepRules && !shadowRules?.length) continue;
    filters.push({ action, ...(keepRules && { rules }), ...(shadowRules?.length && { shadowRules }) });
  }
  const names = policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(compareStrings);
  return { policies: names, filters, notes };
}

/** The Envoy policies of one AuthorizationPolicy on one port; rules that cannot match are left out. */
function renderPolicy(policy: AuthorizationPolicy, port: AuthzPort, notes: string[]): RbacRule[] {
  const { namespace, name } = policy.metadata;
  const out: RbacRule[] = [];
  policy.rules.forEach((rule, index) => {
    const forTcp = port.protocol === 'TCP';
    const rendered = renderRule(rule, port, forTcp);
    if (!rendered) return; // scoped to other ports
    const httpFields = forTcp ? httpOnlyFields(rule) : [];
    if (httpFields.length > 0 && tcpChangesRule(policy.action, rule, port.targetPort)) {
      const what = `${namespace}/${name} rule ${index}: ${httpFields.join(', ')} ${httpFields.length === 1 ? 'is' : 'are'} HTTP-only`;
      if (policy.action === 'ALLOW') {
        notes.push(`${what}; on TCP port ${port.targetPort} this ALLOW rule is skipped (as in Istio)`);
        return;
      }
      notes.push(`${what} and ignored on TCP port ${port.targetPort}, so this ${policy.action} rule matches every connection its other conditions match (as in Istio)`);
    }
    out.push({ name: rbacRuleName(namespace, name, index), policy: `${namespace}/${name}`, rule: index, ...rendered });
  });
  return out;
}

/** Undefined when the rule cannot match on this port (its ports name other targetPorts). */
function renderRule(rule: AuthzRule, port: AuthzPort, forTcp: boolean): Pick<RbacRule, 'permissions' | 'principals'> | undefined {
  if (!rule.when.every((c) => destinationPortHolds(c, port.targetPort))) return undefined;
  const permissions = rule.to.length === 0 ? [ANY_PERMISSION] : rule.to.flatMap((op) => renderOperation(op, port.targetPort, forTcp) ?? []);
  if (permissions.length === 0) return undefined;
  const whenPrincipals = rule.when.flatMap((c) => conditionPrincipal(c, forTcp) ?? []);
  const principals =
    rule.from.length === 0
      ? [allOf(whenPrincipals, ANY_PRINCIPAL)]
      : rule.from.map((f) => allOf([...sourcePrincipals(f), ...whenPrincipals], ANY_PRINCIPAL));
  return { permissions, principals };
}

const ANY_PERMISSION: Permission = { any: true };
const ANY_PRINCIPAL: Principal = { any: true };

/** One `to.operation`: its fields ANDed. Ports are decided here, against the targetPort. */
function renderOperation(op: AuthzOperation, targetPort: number, forTcp: boolean): Permission | undefined {
  if (op.ports && !op.ports.includes(targetPort)) return undefined;
  if (op.notPorts?.includes(targetPort)) return undefined;
  const parts: Permission[] = [];
  if (!forTcp) {
    const header = (name: string, values: readonly string[] | undefined, ignoreCase = false) =>
      values && anyOf(values.map((v): Permission => ({ header: istioHeaderMatch(name, v, { ignoreCase }) })));
    const path = (values: readonly string[] | undefined) => values && anyOf(values.map((v): Permission => ({ path: istioStringMatch(v) })));
    // Hosts are case-insensitive (RFC 9110); methods and paths are compared exactly.
    pushPair(parts, header(':authority', op.hosts, true), header(':authority', op.notHosts, true));
    pushPair(parts, header(':method', op.methods), header(':method', op.notMethods));
    pushPair(parts, path(op.paths), path(op.notPaths));
  }
  return allOf(parts, ANY_PERMISSION);
}

/** Adds `match` and `not(notMatch)` when present. */
function pushPair<T extends object>(parts: (T | { not: T })[], match: T | undefined, notMatch: T | undefined): void {
  if (match) parts.push(match);
  if (notMatch) parts.push({ not: notMatch });
}

/** One `from.source`: its fields ANDed, the values of a field ORed. */
function sourcePrincipals(source: AuthzSource): Principal[] {
  const parts: Principal[] = [];
  const field = (values: readonly string[] | undefined, one: (v: string) => Principal) => values && anyOf(values.map(one));
  pushPair(parts, field(source.principals, principalMatch), field(source.notPrincipals, principalMatch));
  pushPair(parts, field(source.namespaces, namespaceMatch), field(source.notNamespaces, namespaceMatch));
  pushPair(parts, field(source.ipBlocks, directIp), field(source.notIpBlocks, directIp));
  pushPair(parts, field(source.remoteIpBlocks, remoteIp), field(source.notRemoteIpBlocks, remoteIp));
  return parts;
}

const directIp = (v: string): Principal => ({ directRemoteIp: parseCidr(v) });
const remoteIp = (v: string): Principal => ({ remoteIp: parseCidr(v) });

/** `destination.port` is decided against the targetPort; every other key is a run-time check. */
function destinationPortHolds(c: AuthzCondition, targetPort: number): boolean {
  if (c.key !== 'destination.port') return true;
  const port = String(targetPort);
  return (!c.values || c.values.includes(port)) && !c.notValues?.includes(port);
}

/** A `when` condition on the caller; undefined for keys decided statically or dropped on TCP. */
function conditionPrincipal(c: AuthzCondition, forTcp: boolean): Principal | undefined {
  let one: ((v: string) => Principal) | undefined;
  if (c.key === 'source.ip') one = directIp;
  else if (c.key === 'remote.ip') one = remoteIp;
  else if (c.key === 'source.namespace') one = namespaceMatch;
  else if (c.key === 'source.principal') one = principalMatch;
  else if (c.key.startsWith('request.headers[') && !forTcp) {
    const name = c.key.slice('request.headers['.length, -1);
    one = (v) => ({ header: istioHeaderMatch(name, v) });
  }
  if (!one) return undefined;
  const parts: Principal[] = [];
  pushPair(parts, c.values && anyOf(c.values.map(one)), c.notValues && anyOf(c.notValues.map(one)));
  return allOf(parts, ANY_PRINCIPAL);
}
