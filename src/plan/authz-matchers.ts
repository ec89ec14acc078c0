import type { Cidr, HeaderMatch, Principal, StringMatch } from './authz-plan.ts';

/**
 * Istio's value syntax -> matchers (pilot/pkg/security/authz/model/{principal,permission}.go):
 * `abc` exact, `abc*` prefix, `*abc` suffix, `*` any non-empty value. Regexes we build escape
 * every character that came from YAML, so a `.` in a trust domain is a dot, not any character.
 */
export function istioStringMatch(value: string, opts: { ignoreCase?: boolean } = {}): StringMatch {
  const ic = opts.ignoreCase ? { ignoreCase: true } : {};
  if (value === '*') return { regex: '.+' };
  if (value.endsWith('*')) return { prefix: value.slice(0, -1), ...ic };
  if (value.startsWith('*')) return { suffix: value.slice(1), ...ic };
  return { exact: value, ...ic };
}

/** A header condition: `*` means "present with any value", as Istio renders it. */
export function istioHeaderMatch(name: string, value: string, opts: { ignoreCase?: boolean } = {}): HeaderMatch {
  return { name, match: value === '*' ? { present: true } : istioStringMatch(value, opts) };
}

/**
 * A principal (`<td>/ns/<ns>/sa/<sa>`, no scheme) against the peer certificate's URI SAN, which
 * carries `spiffe://`. `*abc` needs the scheme and a suffix at once, hence a regex.
 */
export function principalMatch(value: string): Principal {
  if (value === '*') return { authenticated: { regex: '.+' } };
  if (value.endsWith('*')) return { authenticated: { prefix: `spiffe://${value.slice(0, -1)}` } };
  if (value.startsWith('*')) return { authenticated: { regex: `spiffe://.*${escapeRegex(value.slice(1))}` } };
  return { authenticated: { exact: `spiffe://${value}` } };
}

/** A namespace: any identity with a `/ns/<namespace>/` segment, `*` in the value matching anything. */
export function namespaceMatch(value: string): Principal {
  const pattern = value.split('*').map(escapeRegex).join('.*');
  return { authenticated: { regex: `.*/ns/${pattern}/.*` } };
}

/** `10.0.0.0/8` (the model already normalised bare addresses to /32 or /128). */
export function parseCidr(value: string): Cidr {
  const slash = value.lastIndexOf('/');
  if (slash < 0) return { address: value, prefixLen: value.includes(':') ? 128 : 32 };
  return { address: value.slice(0, slash), prefixLen: Number(value.slice(slash + 1)) };
}

export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** OR of alternatives, without a wrapper for one; NOT of an OR for the `not*` fields. */
export function anyOf<T extends object>(items: readonly T[]): T | { or: readonly T[] } {
  return items.length === 1 ? items[0]! : { or: items };
}

export function allOf<T extends object>(items: readonly T[], any: T): T | { and: readonly T[] } {
  return items.length === 0 ? any : items.length === 1 ? items[0]! : { and: items };
}
