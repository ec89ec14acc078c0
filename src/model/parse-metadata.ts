/**
 * `metadata`: name (required, RFC 1123 label), namespace (default `default`), labels, annotations,
 * creationTimestamp (RFC 3339). Server-set Kubernetes fields are rejected with a hint.
 */
import { DEFAULT_NAMESPACE, type Metadata } from './types.ts';
import { dnsLabelProblem, isRfc3339, labelKeyProblem, labelValueProblem } from './formats.ts';
import { describeValue, fieldPath, type Issues, ObjectFields } from './fields.ts';

const METADATA_KEYS = ['name', 'namespace', 'labels', 'annotations', 'creationTimestamp'] as const;

const SERVER_SET = 'is set by the Kubernetes API server and has no meaning here: remove it';
const METADATA_HINTS: Readonly<Record<string, string>> = {
  uid: SERVER_SET,
  resourceVersion: SERVER_SET,
  generation: SERVER_SET,
  managedFields: SERVER_SET,
  selfLink: SERVER_SET,
  deletionTimestamp: SERVER_SET,
  deletionGracePeriodSeconds: SERVER_SET,
  ownerReferences: 'meshplane has no owner/garbage-collection model: remove it',
  finalizers: 'meshplane has no finalizers: remove it',
  generateName: 'set an explicit metadata.name instead',
};

export interface ParsedMetadata {
  /** Always present so the spec can still be checked; `ok` is false when the name is unusable. */
  metadata: Metadata;
  ok: boolean;
}

export function parseMetadata(issues: Issues, value: unknown, path = 'metadata'): ParsedMetadata {
  const fallback: Metadata = { name: '', namespace: DEFAULT_NAMESPACE, labels: {}, annotations: {} };
  if (value === undefined || value === null) {
    issues.error(path, '"metadata" is required: add metadata: {name: <name>, namespace: <namespace>}');
    return { metadata: fallback, ok: false };
  }
  const f = ObjectFields.read(issues, value, path, METADATA_KEYS, { hints: METADATA_HINTS });
  if (!f) return { metadata: fallback, ok: false };

  const name = f.string('name', { required: true, hint: 'set metadata.name to a lowercase name such as "backend"' });
  if (name !== undefined) {
    const problem = dnsLabelProblem(name);
    if (problem) f.error('name', problem);
  }
  let namespace = f.string('namespace', { hint: `remove it for the namespace "${DEFAULT_NAMESPACE}"` });
  if (namespace !== undefined) {
    const problem = dnsLabelProblem(namespace);
    if (problem) f.error('namespace', problem);
  }
  namespace ??= DEFAULT_NAMESPACE;

  const labels = f.stringMap('labels') ?? {};
  checkLabels(issues, labels, f.pathOf('labels'));
  const annotations = f.stringMap('annotations') ?? {};

  const metadata: Metadata = { name: name ?? '', namespace, labels, annotations };
  const created = f.raw('creationTimestamp');
  if (created instanceof Date && !Number.isNaN(created.getTime())) {
    metadata.creationTimestamp = created.toISOString();
  } else if (created !== undefined) {
    if (typeof created === 'string' && isRfc3339(created)) {
      metadata.creationTimestamp = created;
    } else {
      f.error('creationTimestamp', `must be an RFC 3339 time with a time zone, such as "2024-05-01T12:00:00Z", got ${describeValue(created)}`);
    }
  }
  return { metadata, ok: name !== undefined };
}

/** Validates `selector.matchLabels`-style maps with the label rules. */
export function checkLabels(issues: Issues, labels: Readonly<Record<string, string>>, path: string): void {
  for (const [key, v] of Object.entries(labels)) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(v);
    if (problem) issues.error(fieldPath(path, key), problem);
  }
}

const SELECTOR_HINTS: Readonly<Record<string, string>> = {
  matchExpressions: 'Istio workload selectors support matchLabels only; express the selection with matchLabels',
};

/** `spec.selector.matchLabels` of an Istio policy; undefined when absent or empty (= no selector). */
export function readWorkloadSelector(f: ObjectFields<'selector'>, issues: Issues): Record<string, string> | undefined {
  const selector = f.object('selector', ['matchLabels'] as const, { hints: SELECTOR_HINTS });
  const matchLabels = selector?.stringMap('matchLabels');
  if (!selector || !matchLabels) return undefined;
  checkLabels(issues, matchLabels, selector.pathOf('matchLabels'));
  return Object.keys(matchLabels).length > 0 ? matchLabels : undefined;
}
