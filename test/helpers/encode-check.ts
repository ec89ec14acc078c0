import { expect } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';

/**
 * Encodes a resource object as Envoy would receive it and decodes it back: every field given
 * must come back with its value. Catches misspelt fields (dropped silently by fromObject), an
 * `@type` that is not loaded (protobufjs 7 emits an empty Any), and wrong wrapper or Struct shapes.
 */
export function encodeCheck(typeName: string, resource: object): void {
  const type = protoType(typeName);
  const bytes = type.encode(type.fromObject(resource)).finish();
  const back = type.toObject(type.decode(bytes), { json: true, defaults: true, longs: Number, enums: String });
  const missing = missingPaths(resource, back, '');
  expect(missing, `fields lost in encoding ${typeName} ${(resource as { name?: string }).name ?? ''}`).toEqual([]);
}

/** Paths present in `given` whose value is absent or different in `decoded`. */
function missingPaths(given: unknown, decoded: unknown, path: string): string[] {
  if (Array.isArray(given)) {
    if (!Array.isArray(decoded) || decoded.length !== given.length) return [path];
    return given.flatMap((g, i) => missingPaths(g, decoded[i], `${path}[${i}]`));
  }
  if (given && typeof given === 'object') {
    if (!decoded || typeof decoded !== 'object') return [path];
    return Object.entries(given).flatMap(([k, v]) => missingPaths(v, (decoded as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return given === decoded ? [] : [`${path} (${JSON.stringify(given)} -> ${JSON.stringify(decoded)})`];
}
