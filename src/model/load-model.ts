/**
 * The configuration directory → a validated MeshModel, or every violation found.
 * `parseModelFiles` is pure; `loadModelDir` only adds reading the directory.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Violation } from '../errors.ts';
import type { MeshModel, Metadata } from './types.ts';
import { clipLongValues, Issues } from './fields.ts';
import { type ConfigFile, configFileFromBytes, parseDocuments, type RawDocument } from './parse-documents.ts';
import { type ParsedResource, parseResource } from './parse-resource.ts';
import { CONFIG_FILE, type ResourceSet, validateReferences } from './validate-references.ts';

export interface ModelResult {
  /** Present iff there is no error-severity violation. */
  model?: MeshModel;
  violations: Violation[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };

/** Every file parsed, then checked as a whole. ModelParser (model-parser.ts) gives the same result, reusing what did not change since its last call. */
export function parseModelFiles(files: { file: string; text: string }[]): ModelResult {
  const sorted = sortFiles(files);
  return assembleModel(sorted, sorted.map(parseModelFile));
}

/** One file's resources in document order, and the violations found in it alone (YAML first, then each document's fields). */
export interface ParsedFile {
  resources: ParsedResource[];
  violations: Violation[];
}

/** Files in the order they are parsed and reported: code-unit order of their names. */
export function sortFiles<T extends { file: string }>(files: readonly T[]): T[] {
  return [...files].sort((a, b) => compare(a.file, b.file));
}

/** One file on its own: its YAML documents, each parsed to a resource. */
export function parseModelFile(file: ConfigFile): ParsedFile {
  const { documents, violations } = parseDocuments([file]);
  return parseResources(documents, violations);
}

/** Documents -> resources; each document's violations are appended to `violations`. */
export function parseResources(documents: readonly RawDocument[], violations: Violation[] = []): ParsedFile {
  const resources: ParsedResource[] = [];
  for (const doc of documents) {
    const parsed = parseDocument(doc);
    violations.push(...parsed.violations);
    if (parsed.resource) resources.push(parsed.resource);
  }
  return { resources, violations };
}

/** One document -> its resource (undefined when it cannot become one) and its violations. */
export function parseDocument(doc: RawDocument): { resource: ParsedResource | undefined; violations: Violation[] } {
  const issues = new Issues(doc.file);
  const resource = parseResource(doc, issues);
  return { resource, violations: issues.violations };
}

/** How `assembleModel` sorts one kind's resources by namespace and name; a caller may remember earlier results. */
export type SortByName = <T extends { metadata: Metadata }>(kind: keyof ResourceSet, items: readonly { value: T }[]) => T[];

export interface AssembleOptions {
  /** The cross-document checks; default validateReferences. */
  validate?: (set: ResourceSet) => Violation[];
  sortByName?: SortByName;
}

/**
 * The parsed files (`sorted` by sortFiles, `parsed` in the same order) as one model: the
 * cross-document checks, then every violation in directory order (whole-directory problems first,
 * then by file and line, stable within).
 */
export function assembleModel(sorted: readonly ConfigFile[], parsed: readonly ParsedFile[], options: AssembleOptions = {}): ModelResult {
  const violations: Violation[] = [];
  const set: Mutable<ResourceSet> = { meshes: [], services: [], externalServices: [], workloads: [], peerAuthentications: [], authorizationPolicies: [] };
  for (const file of parsed) {
    violations.push(...file.violations);
    for (const parsed of file.resources) {
      switch (parsed.kind) {
        case 'Mesh':
          set.meshes.push(parsed);
          break;
        case 'Service':
          set.services.push(parsed);
          break;
        case 'ExternalService':
          set.externalServices.push(parsed);
          break;
        case 'Workload':
          set.workloads.push(parsed);
          break;
        case 'PeerAuthentication':
          set.peerAuthentications.push(parsed);
          break;
        case 'AuthorizationPolicy':
          set.authorizationPolicies.push(parsed);
          break;
      }
    }
  }
  violations.push(...(options.validate ?? validateReferences)(set));

  // Group by file in directory order (whole-directory problems first); stable within a file.
  const order = new Map<string, number>([[CONFIG_FILE, -1]]);
  for (const f of sorted) order.set(f.file, order.size);
  const rank = (v: Violation) => {
    const colon = v.file.lastIndexOf(':');
    const base = colon > 0 && !order.has(v.file) ? v.file.slice(0, colon) : v.file;
    return [order.get(base) ?? order.size, colon > 0 ? Number(v.file.slice(colon + 1)) || 0 : 0] as const;
  };
  const ranked = violations.map((v, i) => ({ v, i, r: rank(v) }));
  ranked.sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i);
  const all = ranked.map(({ v }) => ({ ...v, path: clipLongValues(v.path), message: clipLongValues(v.message) }));

  if (all.some((v) => v.severity === 'error') || set.meshes.length !== 1) return { violations: all };
  const byName = options.sortByName ?? sortByName;
  const model: MeshModel = {
    mesh: set.meshes[0]!.value,
    services: byName('services', set.services),
    workloads: byName('workloads', set.workloads),
    externalServices: byName('externalServices', set.externalServices),
    peerAuthentications: byName('peerAuthentications', set.peerAuthentications),
    authorizationPolicies: byName('authorizationPolicies', set.authorizationPolicies),
  };
  return { model, violations: all };
}

/** A kind's resources sorted by namespace, then name. */
export const sortByName: SortByName = (_kind, items) =>
  items.map((i) => i.value).sort((a, b) => compare(a.metadata.namespace, b.metadata.namespace) || compare(a.metadata.name, b.metadata.name));

/** Reads every `*.yaml` / `*.yml` under `dir` (recursively, sorted, dotfiles and dot-dirs skipped). */
export async function loadModelDir(dir: string): Promise<ModelResult & { files: { file: string; text: string }[] }> {
  const read = await readModelDir(dir);
  return read.violations.length > 0 ? read : { ...parseModelFiles(read.files), files: read.files };
}

/**
 * The config files of `dir`, unparsed, or why they cannot be read. Only `*.yaml` / `*.yml` names
 * are looked at: editor artefacts (`.x.yaml.swp`, `x.yaml~`, `#x.yaml#`, vim's `4913` probe) are
 * never even stat'ed, so one that vanishes mid-scan cannot fail a reload. A YAML name that is not
 * a readable regular file (a directory, a dangling link, no permission) is an error: skipping it
 * would serve the config without that file's resources, e.g. without a DENY policy.
 */
export async function readModelDir(dir: string): Promise<{ files: ConfigFile[]; violations: Violation[] }> {
  const files: ConfigFile[] = [];
  const violations: Violation[] = [];
  const problem = (file: string, message: string) => violations.push({ file, path: '', message, severity: 'error' });
  const unreadable = (file: string, err: unknown, what: string) =>
    problem(file, `cannot read ${what}: ${err instanceof Error ? err.message : String(err)}; check the path and its permissions`);

  const visited = new Set<string>();
  const walk = async (abs: string): Promise<void> => {
    let real: string;
    try {
      real = await realpath(abs);
    } catch (err) {
      unreadable(relative(dir, abs) || dir, err, 'directory');
      return;
    }
    if (visited.has(real)) return; // a symlink loop
    visited.add(real);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      unreadable(relative(dir, abs) || dir, err, 'config directory');
      return;
    }
    entries = entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => compare(a.name, b.name));
    for (const entry of entries) {
      const { name } = entry;
      const yaml = YAML_NAME.test(name);
      if (!yaml && !entry.isDirectory() && !entry.isSymbolicLink()) continue;
      const path = join(abs, name);
      const rel = relative(dir, path).split(sep).join('/');
      let info;
      try {
        info = await stat(path); // follows symlinks (ConfigMap mounts are symlinks)
      } catch (err) {
        if (yaml) unreadable(rel, err, 'file'); // a non-YAML name that vanished or dangles is nobody's config
        continue;
      }
      if (yaml && !info.isFile()) problem(rel, `is ${info.isDirectory() ? 'a directory' : 'not a regular file'}; a .yaml/.yml name must be a YAML file: rename or remove it`);
      else if (info.isDirectory()) await walk(path);
      else if (yaml) {
        try {
          files.push(configFileFromBytes(rel, await readFile(path)));
        } catch (err) {
          unreadable(rel, err, 'file');
        }
      }
    }
  };
  await walk(dir);

  if (violations.length > 0) return { violations, files };
  if (files.length === 0) {
    problem(dir, 'no .yaml or .yml files found: put the Mesh, Services and Workloads here, or point --config at the right directory');
    return { violations, files };
  }
  files.sort((a, b) => compare(a.file, b.file));
  return { files, violations };
}

const YAML_NAME = /\.ya?ml$/i;

/** Code-unit order: deterministic across locales. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
