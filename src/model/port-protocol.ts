/**
 * Port protocols: the explicit `protocol` field (case-insensitive) or, as in Istio, the port name
 * prefix (`http`, `http-*`, `http2`, `http2-*`, `grpc`, `grpc-*`, `tcp`, `tcp-*`).
 */
import type { Protocol } from './types.ts';
import { describeValue, type Issues } from './fields.ts';

export const PROTOCOLS: readonly Protocol[] = ['HTTP', 'HTTP2', 'GRPC', 'TCP'];

const PREFIXES: readonly [string, Protocol][] = [
  ['http2', 'HTTP2'],
  ['http', 'HTTP'],
  ['grpc', 'GRPC'],
  ['tcp', 'TCP'],
];

/** The protocol a port name announces (`http-api` → HTTP), if any. */
export function protocolFromPortName(name: string): { prefix: string; protocol: Protocol } | undefined {
  const lower = name.toLowerCase();
  for (const [prefix, protocol] of PREFIXES) {
    if (lower === prefix || lower.startsWith(`${prefix}-`)) return { prefix, protocol };
  }
  return undefined;
}

/** `http` / `Http` / `HTTP` → `HTTP`; reports anything else at `path`. */
export function parseProtocolValue(issues: Issues, value: unknown, path: string): Protocol | undefined {
  if (typeof value === 'string') {
    const upper = value.toUpperCase();
    if ((PROTOCOLS as readonly string[]).includes(upper)) return upper as Protocol;
    issues.error(path, `protocol ${JSON.stringify(value)} is not supported: use one of ${PROTOCOLS.join(', ')}`);
    return undefined;
  }
  issues.error(path, `must be one of ${PROTOCOLS.join(', ')}, got ${describeValue(value)}`);
  return undefined;
}

/**
 * The protocol of a Service port. `rawProtocol` is the `protocol` field (undefined when omitted).
 * A name prefix that contradicts `protocol` is an error; no prefix and no `protocol` is a warning
 * and TCP. Returns undefined only when `protocol` itself is invalid.
 */
export function parsePortProtocol(
  issues: Issues,
  name: string,
  rawProtocol: unknown,
  paths: { name: string; protocol: string },
): Protocol | undefined {
  const fromName = protocolFromPortName(name);
  if (rawProtocol !== undefined && rawProtocol !== null) {
    const explicit = parseProtocolValue(issues, rawProtocol, paths.protocol);
    if (explicit === undefined) return undefined;
    if (fromName && fromName.protocol !== explicit) {
      const rest = name.slice(fromName.prefix.length);
      const renamed = `${explicit.toLowerCase()}${rest || `-${name}`}`;
      issues.error(
        paths.protocol,
        `protocol ${explicit} contradicts the port name ${JSON.stringify(name)}, whose prefix "${fromName.prefix}" means ${fromName.protocol}: rename the port (e.g. ${JSON.stringify(renamed)}) or set protocol: ${fromName.protocol}`,
      );
    }
    return explicit;
  }
  if (fromName) return fromName.protocol;
  issues.warning(
    paths.name,
    `protocol of port ${JSON.stringify(name)} cannot be determined; defaulting to TCP: name it http-${name} / tcp-${name} or set protocol`,
  );
  return 'TCP';
}
