import type { AuthzAction } from '../model/types.ts';
import type { AuthzPlan, Cidr, HeaderMatch, Permission, Principal, RbacFilterPlan, RbacRule, StringMatch } from '../plan/authz-plan.ts';
import { FILTER, TYPE, networkRbacStatPrefix, rbacRulesStatPrefix, rbacShadowStatPrefix } from './names.ts';

/**
 * AuthorizationPolicy -> Envoy RBAC, one filter per action in the plan's order (AUDIT, DENY,
 * ALLOW), as Istio does: a request passes only if every filter lets it through, so DENY is
 * evaluated before ALLOW, and "no ALLOW policy = allow all" is simply no ALLOW filter.
 *
 * No authz plan = no filter at all. The same filters go on every chain of a port (mTLS and
 * plaintext): `authenticated` principals never match a plaintext peer, which is what makes
 * "only frontend may call" also mean "no plaintext caller may".
 */

type Json = Record<string, unknown>;

/** Envoy's RBAC action enum: Istio's AUDIT is Envoy's LOG (never denies, sets access_log_hint). */
const ENVOY_ACTION: Record<AuthzAction, 'ALLOW' | 'DENY' | 'LOG'> = { ALLOW: 'ALLOW', DENY: 'DENY', AUDIT: 'LOG' };

/** `envoy.filters.http.rbac` filters for an HCM, to go before the router. */
export function buildHttpRbacFilters(authz: AuthzPlan | undefined): object[] {
  return (authz?.filters ?? []).map((f) => ({
    name: FILTER.httpRbac,
    typed_config: {
      '@type': TYPE.httpRbac,
      ...rbacConfig(f),
      // Three filters in one HCM would otherwise count into the same `rbac.allowed`/`denied` and
      // overwrite each other's `enforced_effective_policy_id` metadata (names.ts lists the stats).
      ...(f.rules && { rules_stat_prefix: rbacRulesStatPrefix(f.action) }),
    },
  }));
}

/**
 * `envoy.filters.network.rbac` filters for a TCP chain, to go before tcp_proxy. The network filter
 * has no `rules_stat_prefix`, so each action gets its own (required) `stat_prefix` instead.
 *
 * The plan drops HTTP-only fields on TCP ports. Should one slip through, fail here, naming it:
 * Envoy 1.40 rejects a `header` anywhere in a network RBAC (the whole listener would be NACKed),
 * and accepts a `url_path` that then never matches (a DENY on a path would deny nothing).
 */
export function buildNetworkRbacFilters(authz: AuthzPlan | undefined, statPrefix: string): object[] {
  for (const f of authz?.filters ?? []) {
    for (const r of [...(f.rules ?? []), ...(f.shadowRules ?? [])]) {
      if (r.permissions.some(httpOnly) || r.principals.some(httpOnly)) {
        throw new Error(`invariant: ${f.action} rule ${r.name} (${r.policy}) has an HTTP-only matcher on TCP port ${statPrefix}`);
      }
    }
  }
  return (authz?.filters ?? []).map((f) => ({
    name: FILTER.networkRbac,
    typed_config: { '@type': TYPE.networkRbac, stat_prefix: networkRbacStatPrefix(statPrefix, f.action), ...rbacConfig(f) },
  }));
}

/** A header or path matcher anywhere inside. */
function httpOnly(p: Permission | Principal): boolean {
  if ('header' in p || 'path' in p) return true;
  if ('and' in p) return (p.and as readonly (Permission | Principal)[]).some(httpOnly);
  if ('or' in p) return (p.or as readonly (Permission | Principal)[]).some(httpOnly);
  if ('not' in p) return httpOnly(p.not);
  return false;
}

/** `rules` (absent = nothing enforced) and `shadow_rules` (dry run: counted, never enforced). */
function rbacConfig(f: RbacFilterPlan): Json {
  return {
    ...(f.rules && { rules: rbac(f.action, f.rules) }),
    ...(f.shadowRules && {
      shadow_rules: rbac(f.action, f.shadowRules),
      shadow_rules_stat_prefix: rbacShadowStatPrefix(f.action),
    }),
  };
}

/**
 * config.rbac.v3.RBAC. An empty ALLOW keeps `rules` with no policies: Envoy then denies
 * everything (the map vanishes on the wire, but `rules` itself is still sent).
 */
function rbac(action: AuthzAction, rules: readonly RbacRule[]): Json {
  const policies: Record<string, Json> = {};
  for (const r of rules) {
    policies[r.name] = { permissions: r.permissions.map(permission), principals: r.principals.map(principal) };
  }
  return { action: ENVOY_ACTION[action], policies };
}

function permission(p: Permission): Json {
  if ('any' in p) return { any: true };
  if ('and' in p) return { and_rules: { rules: p.and.map(permission) } };
  if ('or' in p) return { or_rules: { rules: p.or.map(permission) } };
  if ('not' in p) return { not_rule: permission(p.not) };
  if ('header' in p) return { header: headerMatcher(p.header) };
  return { url_path: { path: stringMatcher(p.path) } };
}

function principal(p: Principal): Json {
  if ('any' in p) return { any: true };
  if ('and' in p) return { and_ids: { ids: p.and.map(principal) } };
  if ('or' in p) return { or_ids: { ids: p.or.map(principal) } };
  if ('not' in p) return { not_id: principal(p.not) };
  if ('authenticated' in p) return { authenticated: { principal_name: stringMatcher(p.authenticated) } };
  if ('directRemoteIp' in p) return { direct_remote_ip: cidrRange(p.directRemoteIp) };
  if ('remoteIp' in p) return { remote_ip: cidrRange(p.remoteIp) };
  return { header: headerMatcher(p.header) };
}

/** type.matcher.v3.StringMatcher; `regex` is RE2 against the whole value. */
function stringMatcher(m: StringMatch): Json {
  if ('regex' in m) return { safe_regex: { regex: m.regex } };
  const ignoreCase = m.ignoreCase ? { ignore_case: true } : {};
  if ('exact' in m) return { exact: m.exact, ...ignoreCase };
  if ('prefix' in m) return { prefix: m.prefix, ...ignoreCase };
  return { suffix: m.suffix, ...ignoreCase };
}

/** route.v3.HeaderMatcher. */
function headerMatcher(h: HeaderMatch): Json {
  return 'present' in h.match ? { name: h.name, present_match: true } : { name: h.name, string_match: stringMatcher(h.match) };
}

/** core.v3.CidrRange: prefix_len is a UInt32Value wrapper, so protobufjs wants `{value}`. */
function cidrRange(c: Cidr): Json {
  return { address_prefix: c.address, prefix_len: { value: c.prefixLen } };
}
