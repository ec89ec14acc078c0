/**
 * Plugin modules -> plugins. A module's default export is a TranslatorPlugin, an array of them, or
 * a factory `(options) => plugin | plugin[]` (translator-plugin.ts). `meshplane serve --plugin FILE`
 * uses `loadPlugins`; the Mesh's `spec.plugins` go through mesh-plugins.ts, which uses the parts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MeshplaneError } from '../errors.ts';
import { suggest } from '../model/did-you-mean.ts';
import { PLUGIN_STAGES, type PluginErrorPolicy, type PluginOptions, type PluginStage, type TranslatorPlugin } from './translator-plugin.ts';

const POLICIES: readonly PluginErrorPolicy[] = ['fail-closed', 'skip-plugin'];

/** A plugin with where it came from, for /debug/plugins and error messages. */
export interface LoadedPlugin {
  /** With its effective `onError` (the Mesh entry's, if it set one). */
  plugin: TranslatorPlugin;
  /** The module's absolute path. */
  file: string;
  /** `mesh.yaml: spec.plugins[0]`, or `--plugin` for `meshplane serve --plugin`. */
  listedIn: string;
}

/** `meshplane serve --plugin FILE...`: the plugins in the order of `files`, then of each module's array. */
export async function loadPlugins(files: readonly string[]): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const file of files) {
    const path = resolve(file);
    const exported = await importPluginModule(path, file);
    loaded.push(...(await pluginsOf(exported, { shown: file, file: path, listedIn: '--plugin' })));
  }
  const duplicate = duplicateName(loaded);
  if (duplicate) throw new MeshplaneError('USAGE', `two plugins are named "${duplicate}"; plugin names must be unique`);
  return loaded;
}

/**
 * The module's default export. `fresh` (any string) makes a new module instance even if this path
 * was imported before: ESM caches by URL, so an edited file would otherwise never be read again.
 */
export async function importPluginModule(path: string, shown: string, fresh?: string): Promise<unknown> {
  const url = pathToFileURL(path);
  if (fresh) url.searchParams.set('meshplane-load', fresh);
  let mod: { default?: unknown };
  try {
    mod = (await import(url.href)) as { default?: unknown };
  } catch (err) {
    throw bad(shown, `cannot be loaded: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (mod.default === undefined) throw bad(shown, 'has no default export; export default a TranslatorPlugin, an array of them, or a factory (options) => plugin');
  return mod.default;
}

export interface PluginsOfOptions {
  /** The file as the user wrote it, for messages. */
  shown: string;
  file: string;
  listedIn: string;
  /** Given to a factory; an error if the export is no factory. */
  options?: PluginOptions;
  /** Overrides each plugin's own. */
  onError?: PluginErrorPolicy;
}

/** The plugins a default export stands for, checked; a factory is called with the options. */
export async function pluginsOf(exported: unknown, o: PluginsOfOptions): Promise<LoadedPlugin[]> {
  let value = exported;
  let where = 'default';
  if (typeof exported === 'function') {
    try {
      value = await (exported as (options: PluginOptions) => unknown)(Object.freeze(structuredClone(o.options ?? {})));
    } catch (err) {
      throw bad(o.shown, `factory failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    where = 'default(options)';
    if (typeof value === 'function') throw bad(o.shown, `${where} returned a function; the factory must return a plugin or an array of plugins`);
  } else if (o.options !== undefined) {
    throw bad(o.shown, 'is given options but its default export is not a factory function; remove "options" or export default (options) => plugin');
  }
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw bad(o.shown, `${where} is an empty array of plugins`);
  return list.map((p, i) => {
    const plugin = checkPlugin(o.shown, Array.isArray(value) ? `${where}[${i}]` : where, p);
    return { plugin: o.onError ? withPolicy(plugin, o.onError) : plugin, file: o.file, listedIn: o.listedIn };
  });
}

/** The first name used twice (logs, errors and /debug name plugins: two with one name could not be told apart). */
export function duplicateName(loaded: readonly LoadedPlugin[]): string | undefined {
  const seen = new Set<string>();
  for (const { plugin } of loaded) {
    if (seen.has(plugin.name)) return plugin.name;
    seen.add(plugin.name);
  }
  return undefined;
}

/** The stages a plugin defines, in the order they run. */
export function stagesOf(plugin: TranslatorPlugin): PluginStage[] {
  return PLUGIN_STAGES.filter((s) => typeof plugin[s] === 'function');
}

function checkPlugin(file: string, where: string, p: unknown): TranslatorPlugin {
  if (typeof p !== 'object' || p === null) throw bad(file, `${where} is ${p === null ? 'null' : typeof p}, not a plugin object {name, onListener?, onCluster?, onResources?}`);
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw bad(file, `${where}.name must be a non-empty string`);
  if (o.onError !== undefined && !POLICIES.includes(o.onError as PluginErrorPolicy)) {
    throw bad(file, `${where}.onError must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(o.onError)}`);
  }
  for (const stage of PLUGIN_STAGES) {
    if (o[stage] !== undefined && typeof o[stage] !== 'function') throw bad(file, `${where}.${stage} must be a function, got ${typeof o[stage]}`);
  }
  // Every stage is optional in the contract, but a plugin with none does nothing: most likely a typo.
  if (stagesOf(p as TranslatorPlugin).length === 0) {
    const typo = Object.keys(o).map((k) => [k, suggest(k, PLUGIN_STAGES)] as const).find(([k, s]) => s !== undefined && s !== k);
    const hint = typo ? ` ("${typo[0]}": did you mean "${typo[1]}"?)` : '';
    throw bad(file, `${where} (plugin "${o.name}") has no stage: define onListener, onCluster or onResources${hint}`);
  }
  return p as TranslatorPlugin;
}

/** The plugin with another error policy; its stages still run with the plugin as `this`. */
function withPolicy(plugin: TranslatorPlugin, onError: PluginErrorPolicy): TranslatorPlugin {
  return {
    name: plugin.name,
    onError,
    ...(plugin.onListener && { onListener: plugin.onListener.bind(plugin) }),
    ...(plugin.onCluster && { onCluster: plugin.onCluster.bind(plugin) }),
    ...(plugin.onResources && { onResources: plugin.onResources.bind(plugin) }),
  };
}

function bad(file: string, what: string, cause?: unknown): MeshplaneError {
  return new MeshplaneError('PLUGIN_FAILED', `plugin module ${file} ${what}`, [], { cause });
}
