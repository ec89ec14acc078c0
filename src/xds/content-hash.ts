/**
 * Content hashes for resources and versions. Hashes are computed over a canonical JSON form (object
 * keys sorted, `undefined` dropped, bytes as base64) so that the same content gives the same hash in
 * any process, whatever the key order the translator happened to build: versions stay stable across
 * control-plane restarts and replicas, and identical content is never re-sent under a new version.
 */
import { createHash } from 'node:crypto';

/** Number of hex digits kept in a version string (64 bits: collisions are irrelevant at this scale). */
const VERSION_HEX_DIGITS = 16;

/** SHA-256 (hex) of `value`'s canonical JSON form, prefixed by `domain` so equal objects of different types differ. */
export function contentHash(domain: string, value: unknown): string {
  // One update with the whole text is faster than many small ones.
  return createHash('sha256').update(`${domain}\n${canonicalJson(value)}`).digest('hex');
}

/**
 * A version over a set of named resources: a hash of the `(name, resourceHash)` pairs sorted by name.
 * The empty set has a fixed version too, so "no resources yet" is a version like any other.
 */
export function versionOf(entries: Iterable<readonly [name: string, hash: string]>): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Names are length-prefixed and hashes are hex, so no name can forge a pair boundary.
  const text = sorted.map(([name, hash]) => `${name.length}:${name}\0${hash}\n`).join('');
  return createHash('sha256').update(text).digest('hex').slice(0, VERSION_HEX_DIGITS);
}

/** The canonical JSON text of `value` (sorted keys); exported for tests and debugging. */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonical(parts, value);
  return parts.join('');
}

function writeCanonical(out: string[], value: unknown): void {
  if (value === null || value === undefined) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      // JSON has no NaN/Infinity; keep them distinct from null rather than colliding.
      out.push(Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value)));
      return;
    case 'bigint':
      out.push(JSON.stringify(value.toString()));
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`cannot hash a value of type ${typeof value}`);
  }
  if (value instanceof Uint8Array) {
    out.push(`{"$bytes":${JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))}}`);
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      writeCanonical(out, item);
    });
    out.push(']');
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  out.push('{');
  keys.forEach((k, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(k));
    out.push(':');
    writeCanonical(out, obj[k]);
  });
  out.push('}');
}
