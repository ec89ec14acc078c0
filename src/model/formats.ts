/**
 * Format checks for names, addresses, labels, timestamps and durations. Each `*Problem` function
 * returns undefined when the value is fine, else the reason and fix (to follow "must be ...: ").
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label as Kubernetes uses it for names: lowercase alphanumerics and '-', at most 63. */
export function dnsLabelProblem(value: string): string | undefined {
  if (value.length <= 63 && DNS_LABEL.test(value)) return undefined;
  const lower = value.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  const example = lower && lower !== value && DNS_LABEL.test(lower) ? `, e.g. ${JSON.stringify(lower)}` : '';
  return `${JSON.stringify(value)} is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label)${example}`;
}

/** RFC 1123 subdomain: dot-separated labels, at most 253 characters. */
export function isDnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every((l) => l.length <= 63 && DNS_LABEL.test(l));
}

/** A dotted-quad IPv4 literal without leading zeros. */
export function isIPv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** A hostname (RFC 1123 subdomain, case-insensitive, not all-numeric). */
export function isHostname(value: string): boolean {
  return isDnsSubdomain(value.toLowerCase()) && !/^[0-9.]+$/.test(value);
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;

/** Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) {
    return `label key ${JSON.stringify(key)} has an invalid prefix: the part before '/' must be a lowercase DNS subdomain such as example.com`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key ${JSON.stringify(key)} is not valid: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, optionally after a prefix like example.com/`;
  }
  return undefined;
}

/** Kubernetes label value: empty, or at most 63 characters like a label name. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && LABEL_NAME.test(value))) return undefined;
  return `label value ${JSON.stringify(value)} is not valid: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 date-time with a time zone, e.g. `2024-05-01T12:00:00Z`. */
export function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return !Number.isNaN(Date.parse(value.replace(' ', 'T')));
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/**
 * A Go `time.ParseDuration` string (`24h`, `90m`, `1h30m`, `3600s`, `1.5h`) in seconds, or
 * undefined when it is not one. Negative durations parse (callers reject them by range).
 */
export function parseDuration(value: string): number | undefined {
  let rest = value;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  // Round away floating-point noise below a nanosecond.
  return sign * Math.round(total * 1e9) / 1e9;
}

/** `86400` → `24h`, `5400` → `1h30m`: for messages. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}
