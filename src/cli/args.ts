import { MeshplaneError } from '../errors.ts';

export const DEFAULT_XDS_ADDRESS = '127.0.0.1:15012';
export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:15014';
export const DEFAULT_CSDS_ADDRESS = '127.0.0.1:15010';

export type ArgValues = Record<string, string | boolean | undefined>;

/** A required string option, or a usage error naming it. */
export function required(values: ArgValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new MeshplaneError('USAGE', `--${name} is required`);
  return v;
}

export function optional(values: ArgValues, name: string, fallback: string): string {
  const v = values[name];
  return typeof v === 'string' && v !== '' ? v : fallback;
}

/** An optional positive integer option (digits only), or a usage error naming it. */
export function positiveInt(values: ArgValues, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new MeshplaneError('USAGE', `--${name} must be a positive integer, got "${String(v)}"`);
  return n;
}
