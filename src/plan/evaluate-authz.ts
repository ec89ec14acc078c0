import { BlockList, isIP } from 'node:net';
import type { AuthzAction } from '../model/types.ts';
import type { AuthzPlan, Cidr, HeaderMatch, Permission, Principal, RbacRule, StringMatch } from './authz-plan.ts';

/** One connection (TCP) or request (HTTP) as the destination's sidecar sees it. */
export interface AuthzRequest {
  /** The peer certificate's URI SAN on an mTLS connection; absent for plaintext. */
  principal?: string;
  /** The TCP peer's address. */
  sourceIp: string;
  /** Absent on TCP ports. Header names lower case; `path` already normalised, query included or not. */
  http?: { method: string; path: string; headers: Readonly<Record<string, string>> };
}

export interface RuleRef {
  action: AuthzAction;
  rule: RbacRule;
}

export interface AuthzDecision {
  allowed: boolean;
  /** The enforced rule that decided; absent when no rule decided (default allow, or no ALLOW rule matched). */
  decidedBy?: RuleRef;
  /** One line for humans: why. */
  reason: string;
  /** AUDIT rules that matched (they never change the decision). */
  audited: RbacRule[];
  /** Dry-run results: what each dry-run action would have done. */
  dryRun: { action: AuthzAction; wouldAllow: boolean; rule?: RbacRule }[];
}

/**
 * Evaluates an AuthzPlan the way Envoy's RBAC filters do, in chain order: AUDIT (LOG), DENY,
 * ALLOW; the first filter that denies stops the request. This runs the same plan the translator
 * turns into Envoy config, so `explain` and Envoy cannot disagree about which rules exist.
 */
export function evaluateAuthz(authz: AuthzPlan | undefined, request: AuthzRequest): AuthzDecision {
  const decision: AuthzDecision = { allowed: true, reason: 'no AuthorizationPolicy selects this workload: allowed', audited: [], dryRun: [] };
  if (!authz) return decision;
  let sawAllow = false;
  for (const filter of authz.filters) {
    if (filter.shadowRules) {
      const rule = firstMatch(filter.shadowRules, request);
      decision.dryRun.push({ action: filter.action, wouldAllow: filter.action === 'ALLOW' ? !!rule : !rule, ...(rule && { rule }) });
    }
    if (!filter.rules) continue;
    const rule = firstMatch(filter.rules, request);
    if (filter.action === 'AUDIT') {
      decision.audited.push(...filter.rules.filter((r) => ruleMatches(r, request)));
    } else if (filter.action === 'DENY' && rule) {
      return { ...decision, allowed: false, decidedBy: { action: 'DENY', rule }, reason: `denied by ${rule.policy} rule ${rule.rule} (DENY)` };
    } else if (filter.action === 'ALLOW') {
      sawAllow = true;
      if (rule) return { ...decision, allowed: true, decidedBy: { action: 'ALLOW', rule }, reason: `allowed by ${rule.policy} rule ${rule.rule} (ALLOW)` };
    }
  }
  if (sawAllow) return { ...decision, allowed: false, reason: 'ALLOW policies apply and none of their rules matched: denied' };
  return { ...decision, reason: 'no DENY rule matched and no ALLOW policy applies: allowed by default' };
}

/** The first matching rule in name order: the one Envoy reports as the effective policy. */
function firstMatch(rules: readonly RbacRule[], request: AuthzRequest): RbacRule | undefined {
  return rules.find((r) => ruleMatches(r, request));
}

export function ruleMatches(rule: RbacRule, request: AuthzRequest): boolean {
  return rule.permissions.some((p) => permissionMatches(p, request)) && rule.principals.some((p) => principalMatches(p, request));
}

function permissionMatches(p: Permission, request: AuthzRequest): boolean {
  if ('any' in p) return true;
  if ('and' in p) return p.and.every((x) => permissionMatches(x, request));
  if ('or' in p) return p.or.some((x) => permissionMatches(x, request));
  if ('not' in p) return !permissionMatches(p.not, request);
  if ('header' in p) return headerMatches(p.header, request);
  // url_path: the path without query and fragment; a TCP connection has no path.
  return request.http !== undefined && stringMatches(p.path, request.http.path.replace(/[?#].*$/s, ''));
}

function principalMatches(p: Principal, request: AuthzRequest): boolean {
  if ('any' in p) return true;
  if ('and' in p) return p.and.every((x) => principalMatches(x, request));
  if ('or' in p) return p.or.some((x) => principalMatches(x, request));
  if ('not' in p) return !principalMatches(p.not, request);
  if ('authenticated' in p) return request.principal !== undefined && stringMatches(p.authenticated, request.principal);
  if ('directRemoteIp' in p) return cidrContains(p.directRemoteIp, request.sourceIp);
  if ('remoteIp' in p) return cidrContains(p.remoteIp, remoteAddress(request));
  return headerMatches(p.header, request);
}

/**
 * Envoy's original client address with use_remote_address false (the inbound default): the
 * last x-forwarded-for entry when the header is there, else the TCP peer. A plaintext caller
 * can set it, as in Istio; remoteIpBlocks are for requests that came through a trusted proxy.
 */
function remoteAddress(request: AuthzRequest): string {
  const xff = request.http?.headers['x-forwarded-for'];
  const last = xff?.split(',').pop()?.trim();
  return last && isIP(last) ? last : request.sourceIp;
}

/** Pseudo-headers come from the request line; a header given twice is seen comma-joined. */
function headerMatches(h: HeaderMatch, request: AuthzRequest): boolean {
  const http = request.http;
  if (!http) return false;
  const value = h.name === ':method' ? http.method : h.name === ':path' ? http.path : h.name === ':authority' ? (http.headers[':authority'] ?? http.headers.host) : http.headers[h.name];
  if (value === undefined) return false;
  return 'present' in h.match ? true : stringMatches(h.match, value);
}

export function stringMatches(m: StringMatch, value: string): boolean {
  if ('regex' in m) return new RegExp(`^(?:${m.regex})$`, 's').test(value);
  const fold = (s: string) => (m.ignoreCase ? s.toLowerCase() : s);
  if ('exact' in m) return fold(value) === fold(m.exact);
  if ('prefix' in m) return fold(value).startsWith(fold(m.prefix));
  return fold(value).endsWith(fold(m.suffix));
}

function cidrContains(cidr: Cidr, address: string): boolean {
  const family = isIP(address);
  if (family === 0 || family !== isIP(cidr.address)) return false;
  const list = new BlockList();
  list.addSubnet(cidr.address, cidr.prefixLen, family === 6 ? 'ipv6' : 'ipv4');
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
