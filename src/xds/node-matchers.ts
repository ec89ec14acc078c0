/**
 * `envoy.type.matcher.v3.NodeMatcher` for CSDS: which connected proxies a ClientStatusRequest asks about.
 *
 * Semantics from the protos: the request's `node_matchers` are ORed ("The match follows OR
 * semantics", csds.proto), and inside one NodeMatcher `node_id` and every `node_metadatas` entry are
 * ANDed ("The match follows AND semantics", node.proto). No matchers = every proxy; a NodeMatcher
 * with no criteria matches every proxy too (an empty AND).
 */
import { MeshplaneError } from '../errors.ts';
import type { NodeMessage } from './ads-service.ts';

/** `envoy.type.matcher.v3.StringMatcher`, decoded with keepCase (exactly one pattern set). */
export interface StringMatcherMessage {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex?: string };
  custom?: unknown;
  ignore_case?: boolean;
}

/** `envoy.type.matcher.v3.ValueMatcher` (one pattern set). */
export interface ValueMatcherMessage {
  null_match?: object;
  double_match?: { exact?: number; range?: { start?: number; end?: number } };
  string_match?: StringMatcherMessage;
  bool_match?: boolean;
  present_match?: boolean;
  list_match?: { one_of?: ValueMatcherMessage };
  or_match?: { value_matchers?: ValueMatcherMessage[] };
}

export interface NodeMatcherMessage {
  node_id?: StringMatcherMessage;
  node_metadatas?: { path?: { key?: string }[]; value?: ValueMatcherMessage }[];
}

type Test<T> = (value: T) => boolean;

/** Compiles the request's matchers once; throws MeshplaneError USAGE naming the bad field. */
export function compileNodeMatchers(matchers: readonly NodeMatcherMessage[] = []): Test<NodeMessage> {
  if (matchers.length === 0) return () => true;
  const compiled = matchers.map((m, i) => compileNodeMatcher(m, `node_matchers[${i}]`));
  return (node) => compiled.some((test) => test(node));
}

function compileNodeMatcher(m: NodeMatcherMessage, where: string): Test<NodeMessage> {
  const tests: Test<NodeMessage>[] = [];
  if (m.node_id) {
    const id = compileString(m.node_id, `${where}.node_id`);
    tests.push((node) => id(node.id ?? ''));
  }
  (m.node_metadatas ?? []).forEach((sm, i) => {
    const at = `${where}.node_metadatas[${i}]`;
    const path = (sm.path ?? []).map((p, j) => {
      if (!p.key) throw usage(`${at}.path[${j}]`, 'needs a non-empty key');
      return p.key;
    });
    if (path.length === 0) throw usage(`${at}.path`, 'needs at least one segment');
    if (!sm.value) throw usage(`${at}.value`, 'is required');
    const value = compileValue(sm.value, `${at}.value`);
    tests.push((node) => value(lookup(node.metadata, path)));
  });
  return (node) => tests.every((test) => test(node));
}

export function compileString(m: StringMatcherMessage, where: string): Test<string> {
  const fold = m.ignore_case ? (s: string) => s.toLowerCase() : (s: string) => s;
  if (m.exact !== undefined) return (s) => fold(s) === fold(m.exact!);
  if (m.prefix) return (s) => fold(s).startsWith(fold(m.prefix!));
  if (m.suffix) return (s) => fold(s).endsWith(fold(m.suffix!));
  if (m.contains) return (s) => fold(s).includes(fold(m.contains!));
  if (m.safe_regex) {
    // RE2 matches the full string; ignore_case does not apply to regexes (string.proto).
    // JS RegExp is not linear-time like RE2: acceptable on a loopback-only debug API.
    let re: RegExp;
    try {
      if (!m.safe_regex.regex) throw new Error('empty regex');
      re = new RegExp(`^(?:${m.safe_regex.regex})$`);
    } catch (err) {
      throw usage(`${where}.safe_regex.regex`, `is not a valid regular expression (${(err as Error).message})`);
    }
    return (s) => re.test(s);
  }
  if (m.custom) throw usage(`${where}.custom`, 'custom string matchers are not supported; use exact, prefix, suffix, contains or safe_regex');
  throw usage(where, 'needs one of exact, prefix, suffix, contains or safe_regex (non-empty)');
}

/** A `google.protobuf.Value` as protobufjs decodes it (its built-in Struct types use camelCase). */
type StructValue = Record<string, unknown> | undefined;

function compileValue(m: ValueMatcherMessage, where: string): Test<StructValue> {
  if (m.null_match) return (v) => kind(v) === 'null';
  if (m.double_match) {
    const { exact, range } = m.double_match;
    const num = (v: StructValue) => (kind(v) === 'number' ? Number(field(v, 'numberValue')) : undefined);
    if (range) return (v) => { const n = num(v); return n !== undefined && n >= (range.start ?? 0) && n < (range.end ?? 0); };
    return (v) => num(v) === (exact ?? 0);
  }
  if (m.string_match) {
    const str = compileString(m.string_match, `${where}.string_match`);
    return (v) => kind(v) === 'string' && str(String(field(v, 'stringValue')));
  }
  if (m.bool_match !== undefined) return (v) => kind(v) === 'bool' && field(v, 'boolValue') === m.bool_match;
  if (m.present_match !== undefined) {
    // "a valid primitive value"; a struct or list never matches.
    return (v) => { const k = kind(v); return k !== 'struct' && k !== 'list' && (k !== undefined) === m.present_match; };
  }
  if (m.list_match?.one_of) {
    const item = compileValue(m.list_match.one_of, `${where}.list_match.one_of`);
    return (v) => kind(v) === 'list' && listValues(v).some(item);
  }
  if (m.or_match?.value_matchers?.length) {
    const alternatives = m.or_match.value_matchers.map((vm, i) => compileValue(vm, `${where}.or_match.value_matchers[${i}]`));
    return (v) => alternatives.some((test) => test(v));
  }
  throw usage(where, 'needs one of null_match, double_match, string_match, bool_match, present_match, list_match or or_match');
}

/** protobufjs's built-in google.protobuf.Struct uses camelCase even in a keepCase root; accept both. */
function field(v: StructValue, camel: string): unknown {
  if (!v) return undefined;
  return v[camel] ?? v[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

function kind(v: StructValue): 'null' | 'number' | 'string' | 'bool' | 'struct' | 'list' | undefined {
  for (const k of ['null', 'number', 'string', 'bool', 'struct', 'list'] as const) {
    if (field(v, `${k}Value`) !== undefined) return k;
  }
  return undefined;
}

function listValues(v: StructValue): StructValue[] {
  const list = field(v, 'listValue') as { values?: StructValue[] } | undefined;
  return list?.values ?? [];
}

/** The Value at `path` in a Struct (`{fields: {...}}`), or undefined when a segment is missing. */
function lookup(struct: unknown, path: readonly string[]): StructValue {
  let fields = (struct as { fields?: Record<string, StructValue> } | undefined)?.fields;
  let value: StructValue;
  for (const [i, key] of path.entries()) {
    value = fields?.[key];
    if (value === undefined) return undefined;
    if (i < path.length - 1) fields = (field(value, 'structValue') as { fields?: Record<string, StructValue> } | undefined)?.fields;
  }
  return value;
}

function usage(where: string, what: string): MeshplaneError {
  return new MeshplaneError('USAGE', `ClientStatusRequest ${where} ${what}`);
}
