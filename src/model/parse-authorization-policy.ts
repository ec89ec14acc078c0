/**
 * Istio `AuthorizationPolicy` (security.istio.io/v1, v1beta1) with Istio's validation rules plus
 * ours for what meshplane does not implement (CUSTOM, JWT, URI templates). Empty lists are stored
 * as absent (protobuf semantics). Checks that need workloads live in validate-authorization-policies.
 */
import type { AuthorizationPolicy, AuthzAction, AuthzCondition, AuthzConditionKey, AuthzOperation, AuthzRule, AuthzSource, Metadata, Source } from './types.ts';
import { suggest } from './did-you-mean.ts';
import { fieldPath, type Issues, ObjectFields } from './fields.ts';
import { readWorkloadSelector } from './parse-metadata.ts';
import {
  GO_BOOL_VALUES,
  parseGoBool,
  readCidr,
  readMatch,
  readMethod,
  readPath,
  readPort,
  readPrincipal,
  readText,
  type ValueReader,
} from './authz-values.ts';

export const AUTHZ_ACTIONS: readonly AuthzAction[] = ['ALLOW', 'DENY', 'AUDIT'];
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

const CUSTOM = 'external authorization (CUSTOM) is not supported by meshplane';
const JWT = 'JWT request authentication is not supported by meshplane';
const SELECT = 'meshplane selects workloads with spec.selector.matchLabels only; remove it';
const SPEC_HINTS: Readonly<Record<string, string>> = {
  provider: `${CUSTOM}: remove it and use action ALLOW or DENY`,
  targetRef: SELECT,
  targetRefs: SELECT,
};
const SERVICE_ACCOUNTS = 'write principals: [<trustDomain>/ns/<namespace>/sa/<serviceAccount>] instead';
const SOURCE_HINTS: Readonly<Record<string, string>> = {
  requestPrincipals: `${JWT}: remove it`,
  notRequestPrincipals: `${JWT}: remove it`,
  serviceAccounts: SERVICE_ACCOUNTS,
  notServiceAccounts: SERVICE_ACCOUNTS.replace('principals', 'notPrincipals'),
  trustDomains: 'write principals: [<trustDomain>/*] instead',
  notTrustDomains: 'write notPrincipals: [<trustDomain>/*] instead',
};

type Readers<T> = { readonly [K in keyof T]-?: ValueReader<NonNullable<T[K]> extends readonly (infer E)[] ? E : never> };
const SOURCE_READERS: Readers<AuthzSource> = {
  principals: readPrincipal,
  notPrincipals: readPrincipal,
  namespaces: readMatch,
  notNamespaces: readMatch,
  ipBlocks: readCidr,
  notIpBlocks: readCidr,
  remoteIpBlocks: readCidr,
  notRemoteIpBlocks: readCidr,
};
const OPERATION_READERS: Readers<AuthzOperation> = {
  hosts: readMatch,
  notHosts: readMatch,
  ports: readPort,
  notPorts: readPort,
  methods: readMethod,
  notMethods: readMethod,
  paths: readPath,
  notPaths: readPath,
};

const readPortText: ValueReader<string> = (issues, value, path, field) => {
  const port = readPort(issues, value, path, field);
  return port === undefined ? undefined : String(port);
};
const CONDITION_READERS: Readonly<Record<string, ValueReader<string>>> = {
  'source.ip': readCidr,
  'remote.ip': readCidr,
  'source.namespace': readMatch,
  'source.principal': readPrincipal,
  'destination.port': readPortText,
};
const HEADER_KEY = /^request\.headers\[(.*)\]$/;
export const CONDITION_KEYS = [...Object.keys(CONDITION_READERS), 'request.headers[<name>]'];
const KEY_HINTS: Readonly<Record<string, string>> = {
  'source.serviceAccount': 'write source.principal with <trustDomain>/ns/<namespace>/sa/<serviceAccount> instead',
  'source.trustDomain': 'write source.principal with <trustDomain>/* instead',
};

export function parseAuthorizationPolicy(spec: unknown, base: { source: Source; metadata: Metadata }, issues: Issues): AuthorizationPolicy {
  const policy: AuthorizationPolicy = { kind: 'AuthorizationPolicy', ...base, action: 'ALLOW', dryRun: parseDryRun(base.metadata, issues), rules: [] };
  if (spec === undefined || spec === null) return policy;
  const f = ObjectFields.read(issues, spec, 'spec', ['selector', 'action', 'rules'] as const, { hints: SPEC_HINTS });
  if (!f) return policy;

  const selector = readWorkloadSelector(f, issues);
  if (selector) policy.selector = selector;

  const custom = f.raw('action') === 'CUSTOM';
  if (custom) f.error('action', `${CUSTOM}: use ALLOW or DENY`);
  else policy.action = f.enumValue('action', AUTHZ_ACTIONS) ?? 'ALLOW';

  const rules = f.list('rules');
  policy.rules = (rules ?? []).flatMap(({ value, path }) => parseRule(issues, value, path) ?? []);
  if (policy.action === 'DENY' && !custom && countOf(f.raw('rules')) === 0) {
    f.error('rules', 'a DENY policy needs rules (Istio rejects one without): add rules: [{}] to deny everything, or remove the policy');
  }
  return policy;
}

function parseDryRun(metadata: Metadata, issues: Issues): boolean {
  const value = metadata.annotations[DRY_RUN_ANNOTATION];
  if (value === undefined) return false;
  const parsed = parseGoBool(value);
  if (parsed === undefined) {
    issues.error(
      fieldPath('metadata.annotations', DRY_RUN_ANNOTATION),
      `must be "true" or "false", got ${JSON.stringify(value)} (Istio accepts Go booleans: ${GO_BOOL_VALUES})`,
    );
  }
  return parsed ?? false;
}

/** Istio rejects nil rules, sources and operations: `{}` is how "anything" is written. */
function readEntry<K extends string>(issues: Issues, value: unknown, path: string, keys: readonly K[], what: string): ObjectFields<K> | undefined {
  if (value === null || value === undefined) {
    issues.error(path, `must not be empty (Istio rejects a null ${what}): write {} to match anything, or remove the entry`);
    return undefined;
  }
  return ObjectFields.read(issues, value, path, keys);
}

function parseRule(issues: Issues, value: unknown, path: string): AuthzRule | undefined {
  const f = readEntry(issues, value, path, ['from', 'to', 'when'] as const, 'rule');
  if (!f) return undefined;
  const from = (f.list('from') ?? []).flatMap((item) => {
    const entry = readEntry(issues, item.value, item.path, ['source'] as const, 'from entry');
    if (!entry) return [];
    const source = entry.object('source', Object.keys(SOURCE_READERS), {
      required: true,
      hint: 'write source: {} to match any source, or remove this from entry',
      hints: SOURCE_HINTS,
    });
    return source ? [readValues<AuthzSource>(issues, source, SOURCE_READERS)] : [];
  });
  const to = (f.list('to') ?? []).flatMap((item) => {
    const entry = readEntry(issues, item.value, item.path, ['operation'] as const, 'to entry');
    if (!entry) return [];
    const operation = entry.object('operation', Object.keys(OPERATION_READERS), {
      required: true,
      hint: 'write operation: {} to match any request, or remove this to entry',
    });
    return operation ? [readValues<AuthzOperation>(issues, operation, OPERATION_READERS)] : [];
  });
  const when = (f.list('when') ?? []).flatMap((item) => parseCondition(issues, item.value, item.path) ?? []);
  return { from, to, when };
}

/** Every list field of `readers`, present only when it has values. */
function readValues<T extends object>(issues: Issues, f: ObjectFields<string>, readers: Readers<T>): T {
  const out: Record<string, unknown[]> = {};
  for (const [key, read] of Object.entries(readers) as [string, ValueReader<unknown>][]) {
    const list = readList(issues, f, key, read);
    if (list) out[key] = list;
  }
  return out as T;
}

/** Entries of a list; a value that is not a list counts as one (it is reported as such elsewhere). */
function countOf(value: unknown): number {
  return Array.isArray(value) ? value.length : value === undefined ? 0 : 1;
}

/** Undefined for an absent or empty list (the same thing in protobuf). */
function readList<T>(issues: Issues, f: ObjectFields<string>, key: string, read: ValueReader<T>, field = key): T[] | undefined {
  const items = f.list(key);
  if (!items || items.length === 0) return undefined;
  const values = items.flatMap((item) => {
    const v = read(issues, item.value, item.path, field);
    return v === undefined ? [] : [v];
  });
  return values.length > 0 ? values : undefined;
}

function parseCondition(issues: Issues, value: unknown, path: string): AuthzCondition | undefined {
  const f = readEntry(issues, value, path, ['key', 'values', 'notValues'] as const, 'condition');
  if (!f) return undefined;
  const rawKey = f.raw('key', { required: true, hint: `set one of ${CONDITION_KEYS.join(', ')}` });
  const parsed = rawKey === undefined ? undefined : parseConditionKey(issues, rawKey, f.pathOf('key'));
  // Values are checked even when the key is bad, as plain strings, so every problem shows at once.
  const read = parsed?.read ?? readText;
  const values = readList(issues, f, 'values', read, parsed?.key ?? 'when');
  const notValues = readList(issues, f, 'notValues', read, parsed?.key ?? 'when');
  if (countOf(f.raw('values')) + countOf(f.raw('notValues')) === 0) {
    issues.error(path, 'needs values or notValues (Istio rejects a condition without them): add values: [...] with what the key must match');
    return undefined;
  }
  if (!parsed) return undefined;
  return { key: parsed.key, ...(values && { values }), ...(notValues && { notValues }) };
}

function parseConditionKey(issues: Issues, value: unknown, path: string): { key: AuthzConditionKey; read: ValueReader<string> } | undefined {
  const key = readText(issues, value, path, 'key');
  if (key === undefined) return undefined;
  if (Object.hasOwn(CONDITION_READERS, key)) return { key: key as AuthzConditionKey, read: CONDITION_READERS[key]! };
  const header = HEADER_KEY.exec(key);
  if (header) {
    const name = header[1]!;
    // Control characters: Envoy rejects a header matcher whose name has NUL (the listener is NACKed).
    if (name === '' || /[\s*[\]\u0000-\u001f\u007f]/.test(name)) {
      issues.error(path, `${JSON.stringify(key)} needs a header name without spaces, control characters or wildcards between the brackets, e.g. request.headers[x-user-id]`);
      return undefined;
    }
    return { key: `request.headers[${name.toLowerCase()}]`, read: readMatch };
  }
  const supported = `use one of ${CONDITION_KEYS.join(', ')}`;
  if (key.startsWith('request.auth.')) issues.error(path, `${JSON.stringify(key)}: ${JWT}: remove this condition`);
  else if (key.startsWith('request.header')) issues.error(path, `${JSON.stringify(key)} is not a header key: write request.headers[<name>], e.g. request.headers[x-user-id]`);
  else if (key.includes('*')) issues.error(path, `${JSON.stringify(key)}: when keys allow no wildcards: ${supported}`);
  else if (Object.hasOwn(KEY_HINTS, key)) issues.error(path, `when key ${JSON.stringify(key)} is not supported by meshplane: ${KEY_HINTS[key]!}`);
  else {
    const s = suggest(key, CONDITION_KEYS);
    issues.error(path, `when key ${JSON.stringify(key)} is not supported by meshplane${s ? ` (did you mean ${JSON.stringify(s)}?)` : ''}: ${supported}`);
  }
  return undefined;
}
