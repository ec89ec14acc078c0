/**
 * Loads translator plugins from ES modules (`meshplane serve --plugin FILE`): the default export is
 * one TranslatorPlugin or an array of them. Anything else is a startup error naming the file.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MeshplaneError } from '../errors.ts';
import type { PluginErrorPolicy, TranslatorPlugin } from './translator-plugin.ts';

const POLICIES: readonly PluginErrorPolicy[] = ['fail-closed', 'skip-plugin'];

/** Plugins in the order of `files`, then of each module's array. */
export async function loadPlugins(files: readonly string[]): Promise<TranslatorPlugin[]> {
  const plugins: TranslatorPlugin[] = [];
  for (const file of files) {
    const path = resolve(file);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      throw bad(file, `cannot be loaded: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (mod.default === undefined) throw bad(file, 'has no default export; export default a TranslatorPlugin or an array of them');
    const list = Array.isArray(mod.default) ? mod.default : [mod.default];
    if (list.length === 0) throw bad(file, 'exports an empty array of plugins');
    list.forEach((p, i) => plugins.push(checkPlugin(file, Array.isArray(mod.default) ? `default[${i}]` : 'default', p)));
  }
  const seen = new Set<string>();
  for (const p of plugins) {
    // Logs, errors and /debug name plugins: two with one name could not be told apart.
    if (seen.has(p.name)) throw new MeshplaneError('USAGE', `two plugins are named "${p.name}"; plugin names must be unique`);
    seen.add(p.name);
  }
  return plugins;
}

function checkPlugin(file: string, where: string, p: unknown): TranslatorPlugin {
  if (typeof p !== 'object' || p === null) throw bad(file, `${where} is ${p === null ? 'null' : typeof p}, not a plugin object {name, onResources}`);
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw bad(file, `${where}.name must be a non-empty string`);
  if (o.onError !== undefined && !POLICIES.includes(o.onError as PluginErrorPolicy)) {
    throw bad(file, `${where}.onError must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(o.onError)}`);
  }
  // Every stage is optional in the contract, but a plugin with none does nothing: most likely a typo.
  if (typeof o.onResources !== 'function') throw bad(file, `${where} (plugin "${o.name}") has no onResources function`);
  return p as TranslatorPlugin;
}

function bad(file: string, what: string, cause?: unknown): MeshplaneError {
  return new MeshplaneError('PLUGIN_FAILED', `plugin module ${file} ${what}`, [], { cause });
}
