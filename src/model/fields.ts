/**
 * A small typed reader over untrusted YAML values. Every problem becomes a Violation with the
 * field path (`spec.inbound[0].listenPort`); nothing throws. Unknown keys are rejected, with a
 * "did you mean" suggestion when one is close.
 */
import type { Violation } from '../errors.ts';
import { didYouMean, suggest } from './did-you-mean.ts';

/** Collects the violations of one document (`file` is already `name.yaml` or `name.yaml:12`). */
export class Issues {
  readonly violations: Violation[] = [];
  constructor(readonly file: string) {}

  error(path: string, message: string): void {
    this.violations.push({ file: this.file, path, message, severity: 'error' });
  }

  warning(path: string, message: string): void {
    this.violations.push({ file: this.file, path, message, severity: 'warning' });
  }

  get errorCount(): number {
    return this.violations.filter((v) => v.severity === 'error').length;
  }
}

/** `base.key`, or `base["odd/key"]` when the key is not a plain identifier. */
export function fieldPath(base: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

export function indexPath(base: string, index: number | string): string {
  return `${base}[${index}]`;
}

/** Quoted values in messages longer than this are cut by `clipLongValues`; bare words at 1.5 times it. */
const MAX_QUOTED = 80;

/**
 * `text` with every JSON-quoted value longer than 80 characters, and every word longer than 120,
 * cut to its start: a message must stay readable when the value it names is 100 KB of YAML
 * (`validate` prints one line per violation).
 */
export function clipLongValues(text: string): string {
  // Cut on a whole character: no half surrogate pair, no half escape sequence.
  const head = (s: string) => s.slice(0, MAX_QUOTED - 20).replace(/[\uD800-\uDBFF]$/, '').replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
  return text
    .replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => (quoted.length <= MAX_QUOTED ? quoted : `${head(quoted)}…" (${quoted.length - 2} characters)`))
    .replace(new RegExp(`[^\\s"]{${MAX_QUOTED * 1.5},}`, 'g'), (word) => `${head(word)}… (${word.length} characters)`);
}

/** Human description of a value for "got ..." messages. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return `the boolean ${String(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return `the timestamp ${value.toISOString()}`;
  return 'a mapping';
}

export interface MapEntry {
  key: string;
  /** The key as YAML produced it: `8080` (number) or `"8080"` (string). */
  rawKey: unknown;
  value: unknown;
  path: string;
}

function isMapping(value: unknown): boolean {
  if (value instanceof Map) return true;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The entries of a YAML mapping with keys as strings, or undefined (and an error) when the value
 * is not a mapping. Keys that collide once stringified (`8080` and `"8080"`) are reported.
 * `keyPath` builds each entry's path (default `base.key`).
 */
export function readMap(
  issues: Issues,
  value: unknown,
  path: string,
  expected = 'a mapping',
  keyPath: (key: string) => string = (key) => fieldPath(path, key),
): MapEntry[] | undefined {
  if (!isMapping(value)) {
    issues.error(path, `must be ${expected}, got ${describeValue(value)}`);
    return undefined;
  }
  const raw: [unknown, unknown][] = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  const entries: MapEntry[] = [];
  const seen = new Set<string>();
  for (const [rawKey, v] of raw) {
    const key = typeof rawKey === 'string' ? rawKey : isMapping(rawKey) || Array.isArray(rawKey) ? '[complex key]' : String(rawKey);
    const entryPath = keyPath(key);
    if (seen.has(key)) {
      issues.error(entryPath, `key ${JSON.stringify(key)} appears more than once (for example as a number and as a quoted string): keep one`);
      continue;
    }
    seen.add(key);
    entries.push({ key, rawKey, value: v, path: entryPath });
  }
  return entries;
}

export interface ObjectOptions {
  /** Messages for keys that are not supported but that users are likely to write (why, and what to do). */
  hints?: Readonly<Record<string, string>>;
}

interface Required {
  required?: boolean;
  /** Appended to "is required: ..." — what to set. */
  hint?: string;
}

/** Reads a mapping with a closed set of keys `K`. Absent and `null` values are treated alike. */
export class ObjectFields<K extends string> {
  private constructor(
    private readonly issues: Issues,
    readonly path: string,
    private readonly values: ReadonlyMap<string, unknown>,
  ) {}

  /** Undefined (with an error) when `value` is not a mapping; unknown keys are reported here. */
  static read<K extends string>(
    issues: Issues,
    value: unknown,
    path: string,
    keys: readonly K[],
    options: ObjectOptions = {},
  ): ObjectFields<K> | undefined {
    const entries = readMap(issues, value, path);
    if (!entries) return undefined;
    const known = new Set<string>(keys);
    const values = new Map<string, unknown>();
    for (const entry of entries) {
      if (known.has(entry.key)) {
        values.set(entry.key, entry.value);
        continue;
      }
      const hint = options.hints && Object.hasOwn(options.hints, entry.key) ? options.hints[entry.key] : undefined;
      if (hint !== undefined) {
        issues.error(entry.path, `field ${JSON.stringify(entry.key)} is not supported: ${hint}`);
        continue;
      }
      const s = suggest(entry.key, keys);
      issues.error(
        entry.path,
        s !== undefined
          ? `unknown field ${JSON.stringify(entry.key)}; did you mean ${JSON.stringify(s)}?`
          : `unknown field ${JSON.stringify(entry.key)}: remove it (supported fields here: ${keys.join(', ')})`,
      );
    }
    return new ObjectFields<K>(issues, path, values);
  }

  pathOf(key: K): string {
    return fieldPath(this.path, key);
  }

  has(key: K): boolean {
    const v = this.values.get(key);
    return v !== undefined && v !== null;
  }

  /** The raw value, undefined when absent or null; reports a missing required field. */
  raw(key: K, opts: Required = {}): unknown {
    const v = this.values.get(key);
    if (v === undefined || v === null) {
      if (opts.required) this.missing(key, opts.hint);
      return undefined;
    }
    return v;
  }

  error(key: K, message: string): void {
    this.issues.error(this.pathOf(key), message);
  }

  warning(key: K, message: string): void {
    this.issues.warning(this.pathOf(key), message);
  }

  missing(key: K, hint?: string): void {
    this.issues.error(this.pathOf(key), `${JSON.stringify(key)} is required: ${hint ?? 'add it'}`);
  }

  string(key: K, opts: Required & { nonEmpty?: boolean } = {}): string | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.error(key, `must be a string, got ${describeValue(v)}${typeof v === 'number' || typeof v === 'boolean' ? ': quote it if it is meant as text' : ''}`);
      return undefined;
    }
    if (opts.nonEmpty !== false && v === '') {
      this.error(key, `must not be empty: ${opts.hint ?? 'set a value or remove the field'}`);
      return undefined;
    }
    return v;
  }

  integer(key: K, opts: Required & { min?: number; max?: number } = {}): number | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'number') {
      const fix = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? ': remove the quotes' : '';
      this.error(key, `must be a whole number, got ${describeValue(v)}${fix}`);
      return undefined;
    }
    if (!Number.isInteger(v)) {
      this.error(key, `must be a whole number, got ${v}`);
      return undefined;
    }
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      const range =
        opts.min !== undefined && opts.max !== undefined
          ? `between ${opts.min} and ${opts.max}`
          : opts.min !== undefined
            ? `at least ${opts.min}`
            : `at most ${opts.max}`;
      this.error(key, `must be ${range}, got ${v}`);
      return undefined;
    }
    return v;
  }

  number(key: K, opts: Required = {}): number | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.error(key, `must be a number, got ${describeValue(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(key: K, opts: Required = {}): boolean | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.error(key, `must be true or false (unquoted), got ${describeValue(v)}`);
      return undefined;
    }
    return v;
  }

  /** One of `values`, exactly as written (case-sensitive, as Kubernetes/Istio enums are). */
  enumValue<V extends string>(key: K, values: readonly V[], opts: Required = {}): V | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as V;
    const shown = typeof v === 'string' ? JSON.stringify(v) : describeValue(v);
    this.error(key, `must be one of ${values.join(', ')}, got ${shown}${typeof v === 'string' ? didYouMean(v, values) : ''}`);
    return undefined;
  }

  object<C extends string>(key: K, keys: readonly C[], opts: Required & ObjectOptions = {}): ObjectFields<C> | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    return ObjectFields.read(this.issues, v, this.pathOf(key), keys, opts);
  }

  /** Items of a list with their paths; undefined (with an error if present) when not a list. */
  list(key: K, opts: Required = {}): { value: unknown; path: string; index: number }[] | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.error(key, `must be a list, got ${describeValue(v)}`);
      return undefined;
    }
    return v.map((value: unknown, index) => ({ value, index, path: indexPath(this.pathOf(key), index) }));
  }

  /** A mapping of string to string (labels, annotations, matchLabels); keys sorted. */
  stringMap(key: K, opts: Required = {}): Record<string, string> | undefined {
    const v = this.raw(key, opts);
    if (v === undefined) return undefined;
    const entries = readMap(this.issues, v, this.pathOf(key), 'a mapping of strings to strings');
    if (!entries) return undefined;
    const out: [string, string][] = [];
    for (const e of entries) {
      if (typeof e.value !== 'string') {
        const fix = typeof e.value === 'number' || typeof e.value === 'boolean' ? `: quote it ("${String(e.value)}")` : '';
        this.issues.error(e.path, `must be a string, got ${describeValue(e.value)}${fix}`);
        continue;
      }
      out.push([e.key, e.value]);
    }
    out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(out);
  }
}
