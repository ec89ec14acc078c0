/**
 * Value checks for AuthorizationPolicy lists: Istio's wildcard forms, IPs/CIDRs, ports and the
 * dry-run annotation. Each reader reports at the value's own path and returns undefined when the
 * value is unusable, so one bad entry never hides the others.
 */
import { isIP } from 'node:net';
import { describeValue, type Issues } from './fields.ts';

/** Reads one list entry. `field` names the list in messages (`principals`, `source.ip`). */
export type ValueReader<T> = (issues: Issues, value: unknown, path: string, field: string) => T | undefined;

const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** Go's strconv.ParseBool, which Istio uses for the `istio.io/dry-run` annotation. */
export function parseGoBool(value: string): boolean | undefined {
  if (GO_TRUE.includes(value)) return true;
  if (GO_FALSE.includes(value)) return false;
  return undefined;
}
export const GO_BOOL_VALUES = [...GO_TRUE, ...GO_FALSE].join(', ');

/** A non-empty string; numbers and booleans get a "quote it" fix. */
export const readText: ValueReader<string> = (issues, value, path) => {
  if (typeof value !== 'string') {
    const fix = typeof value === 'number' || typeof value === 'boolean' ? `: quote it ("${String(value)}")` : '';
    issues.error(path, `must be a string, got ${describeValue(value)}${fix}`);
    return undefined;
  }
  if (value === '') {
    issues.error(path, 'must not be empty: remove the entry, or write "*" to match any non-empty value');
    return undefined;
  }
  if (LONE_SURROGATE.test(value)) {
    // protobuf strings are UTF-8: Envoy would reject the whole listener carrying this value.
    issues.error(path, `${JSON.stringify(value)} contains an unpaired surrogate (a "\\uD800"-"\\uDFFF" escape on its own), which is not text and cannot be sent to Envoy: remove it or write the whole character`);
    return undefined;
  }
  return value;
};

/** Half of a UTF-16 surrogate pair without its other half (only a YAML `"\uD800"` escape makes one). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Istio matches exactly, by prefix `abc*`, by suffix `*abc`, or any non-empty value `*`. */
export function wildcardProblem(value: string): string | undefined {
  const stars = value.split('*').length - 1;
  if (stars === 0 || value === '*') return undefined;
  if (stars === 1 && (value.startsWith('*') || value.endsWith('*'))) return undefined;
  return `${JSON.stringify(value)} has a "*" in the middle or more than one "*": Istio matches a value exactly, by prefix ("abc*"), by suffix ("*abc") or any value ("*"); split it into values of those forms`;
}

/** A string with Istio's wildcard forms. */
export const readMatch: ValueReader<string> = (issues, value, path) => {
  const text = readText(issues, value, path, '');
  if (text === undefined) return undefined;
  const problem = wildcardProblem(text);
  if (problem) {
    issues.error(path, problem);
    return undefined;
  }
  return text;
};

/** `principals`, `source.principal`: `<trustDomain>/ns/<ns>/sa/<sa>`, Istio adds `spiffe://` itself. */
export const readPrincipal: ValueReader<string> = (issues, value, path, field) => {
  if (typeof value === 'string' && value.startsWith('spiffe://')) {
    issues.error(
      path,
      `${JSON.stringify(value)}: ${field} are written without spiffe:// (Istio adds it): use ${JSON.stringify(value.slice('spiffe://'.length))}, e.g. cluster.local/ns/<namespace>/sa/<serviceAccount>`,
    );
    return undefined;
  }
  return readMatch(issues, value, path, field);
};

/** HTTP methods: case-sensitive, so a lower-case method is almost always a mistake. */
export const readMethod: ValueReader<string> = (issues, value, path, field) => {
  const method = readMatch(issues, value, path, field);
  if (method !== undefined && method !== method.toUpperCase()) {
    issues.warning(
      path,
      `HTTP method ${JSON.stringify(method)} is not upper case: methods are case-sensitive and Envoy compares them exactly, so it only matches requests that send ${JSON.stringify(method)}; write ${JSON.stringify(method.toUpperCase())}`,
    );
  }
  return method;
};

/** URL paths (query excluded): `/...` or a suffix `*...`; Istio's `{*}` templates are not supported. */
export const readPath: ValueReader<string> = (issues, value, path) => {
  const text = readText(issues, value, path, '');
  if (text === undefined) return undefined;
  if (text.includes('{')) {
    issues.error(path, `${JSON.stringify(text)} uses a URI template ({*} or {**}), which meshplane does not support: use a prefix such as "/api/*"`);
    return undefined;
  }
  if (!text.startsWith('/') && !text.startsWith('*')) {
    issues.error(path, `${JSON.stringify(text)} is not a URL path: paths start with "/" (or "*" for a suffix match), e.g. "/api/*"`);
    return undefined;
  }
  const problem = wildcardProblem(text);
  if (problem) {
    issues.error(path, problem);
    return undefined;
  }
  return text;
};

/** An IP address or CIDR, normalised to CIDR (`10.0.0.1` → `10.0.0.1/32`, IPv6 compressed, lower case). */
export const readCidr: ValueReader<string> = (issues, value, path, field) => {
  const text = readText(issues, value, path, field);
  if (text === undefined) return undefined;
  if (text.includes('*')) {
    issues.error(path, `${JSON.stringify(text)}: ${field} allows no wildcards: use a CIDR such as "10.0.0.0/8" (or "0.0.0.0/0" for any IPv4 address)`);
    return undefined;
  }
  const normalised = normaliseCidr(text);
  if (normalised === undefined) {
    issues.error(path, `${JSON.stringify(text)} is not an IP address or CIDR: write an address such as "10.0.0.1" or a range such as "10.0.0.0/16" (IPv6 too)`);
  }
  return normalised;
};

/** Undefined when `text` is not `address` or `address/prefix` with the prefix in range. */
export function normaliseCidr(text: string): string | undefined {
  const slash = text.indexOf('/');
  const address = slash >= 0 ? text.slice(0, slash) : text;
  const prefix = slash >= 0 ? text.slice(slash + 1) : undefined;
  if (address.includes('%')) return undefined; // zone ids never reach Envoy's RBAC
  const version = isIP(address);
  if (version === 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits)) return undefined;
  const canonical = version === 4 ? address : new URL(`http://[${address}]/`).hostname.slice(1, -1);
  return `${canonical}/${prefix === undefined ? bits : Number(prefix)}`;
}

/** A port as Istio writes it (`"8080"`) or as a YAML integer: 1..65535, no wildcards. */
export const readPort: ValueReader<number> = (issues, value, path, field) => {
  const port =
    typeof value === 'number' && Number.isInteger(value) ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
  if (port === undefined) {
    if (typeof value === 'string' && value.includes('*')) {
      issues.error(path, `${JSON.stringify(value)}: ${field} allows no wildcards: list each port, or leave the field out to match every port`);
    } else {
      const shown = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
      issues.error(path, `${shown} is not a port number: write a targetPort from 1 to 65535, such as "8080"`);
    }
    return undefined;
  }
  if (port < 1 || port > 65535) {
    issues.error(path, `port ${String(value)} is out of range: ports are targetPorts from 1 to 65535`);
    return undefined;
  }
  return port;
};
