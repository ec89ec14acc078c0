/**
 * Mesh `spec.plugins`: the translator plugin modules to run, in order. Only what is written is read
 * here (the model does no I/O); the control plane imports the files (src/extend/mesh-plugins.ts).
 *
 *   plugins:
 *     - {file: ../plugins/inbound-access-log.ts}
 *     - {file: ../plugins/outbound-request-header.ts, onError: skip-plugin, options: {header: x-source}}
 */
import type { MeshPlugin } from './types.ts';
import { describeValue, type Issues, ObjectFields, readMap } from './fields.ts';

const FIELDS = ['file', 'onError', 'options'] as const;
const POLICIES = ['fail-closed', 'skip-plugin'] as const;
/** What `import()` runs: TypeScript through tsx, or JavaScript. */
const MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

export function parseMeshPlugins(spec: ObjectFields<'plugins'>, issues: Issues): MeshPlugin[] | undefined {
  const items = spec.list('plugins');
  if (!items) return undefined;
  const plugins: MeshPlugin[] = [];
  for (const item of items) {
    const f = ObjectFields.read(issues, item.value, item.path, FIELDS);
    if (!f) continue;
    const file = f.string('file', {
      required: true,
      hint: 'the path of the plugin module, relative to the config directory or absolute, e.g. "../plugins/inbound-access-log.ts"',
    });
    if (file !== undefined && !MODULE_EXTENSIONS.some((ext) => file.endsWith(ext))) {
      f.error('file', `${JSON.stringify(file)} is not a plugin module: use a ${MODULE_EXTENSIONS.join(', ')} file whose default export is a TranslatorPlugin (see README "Plugins")`);
    }
    const onError = f.enumValue('onError', POLICIES);
    const options = readOptions(f, issues);
    if (file === undefined) continue;
    plugins.push({ file, path: item.path, ...(onError && { onError }), ...(options && { options }) });
  }
  return plugins;
}

/** `options`: any mapping, handed to the module's factory as plain JSON-like values. */
function readOptions(f: ObjectFields<(typeof FIELDS)[number]>, issues: Issues): Record<string, unknown> | undefined {
  const raw = f.raw('options');
  if (raw === undefined) return undefined;
  const entries = readMap(issues, raw, f.pathOf('options'), 'a mapping of option names to values, e.g. {header: x-meshplane-source}');
  if (!entries) return undefined;
  return Object.fromEntries(entries.map((e) => [e.key, plain(e.value, e.path, issues)]));
}

/** YAML mappings come as Maps (see parse-documents.ts); a factory gets plain objects. */
function plain(value: unknown, path: string, issues: Issues): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v, `${path}.${String(k)}`, issues)]));
  if (Array.isArray(value)) return value.map((v, i) => plain(v, `${path}[${i}]`, issues));
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value;
  issues.error(path, `must be a string, number, boolean, list or mapping, got ${describeValue(value)}`);
  return undefined;
}
