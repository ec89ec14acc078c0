/**
 * The plugins a Mesh lists (`spec.plugins`), imported from their files. This is I/O, so it lives
 * here and the model only keeps the entries as written. Problems come back as violations at the
 * entry's field path, so a start fails and a reload is rejected like any invalid config.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MeshplaneError, type Violation } from '../errors.ts';
import type { Mesh } from '../model/types.ts';
import { importPluginModule, pluginsOf, type LoadedPlugin } from './load-plugins.ts';

export type MeshPluginsLoad = { ok: true; plugins: LoadedPlugin[] } | { ok: false; violations: Violation[] };

/** Each load gets new module instances (see importPluginModule). */
let loads = 0;

/**
 * What decides whether the Mesh's plugins must be imported again: each entry as written and its
 * file's mtime. Cheap (one stat per file), so every reload can compare it.
 */
export async function meshPluginSignature(mesh: Mesh, configDir: string): Promise<string> {
  const entries = await Promise.all(
    (mesh.plugins ?? []).map(async (p) => {
      const mtime = await stat(resolve(configDir, p.file)).then((s) => s.mtimeMs, () => 'missing');
      return [p.file, p.onError ?? null, p.options ?? null, mtime];
    }),
  );
  return JSON.stringify(entries);
}

/**
 * The Mesh's plugins in order, then `after` (the `serve --plugin` ones); names must be unique
 * across both. Relative files are resolved against the config directory.
 */
export async function loadMeshPlugins(mesh: Mesh, configDir: string, after: readonly LoadedPlugin[] = []): Promise<MeshPluginsLoad> {
  const fresh = String(++loads);
  const violations: Violation[] = [];
  const violation = (path: string, message: string) => violations.push({ file: mesh.source.file, path, message, severity: 'error' });
  const loaded: LoadedPlugin[] = [];
  for (const entry of mesh.plugins ?? []) {
    const path = resolve(configDir, entry.file);
    const listedIn = `${mesh.source.file}: ${entry.path}`;
    if (await stat(path).then(() => false, () => true)) {
      violation(`${entry.path}.file`, `plugin module ${entry.file} does not exist: the path is relative to the config directory ${configDir} (resolved to ${path}); fix it or remove the entry`);
      continue;
    }
    let exported: unknown;
    try {
      exported = await importPluginModule(path, entry.file, fresh);
    } catch (err) {
      violation(`${entry.path}.file`, `${message(err)}; fix the module or remove the entry`);
      continue;
    }
    try {
      loaded.push(...(await pluginsOf(exported, { shown: entry.file, file: path, listedIn, ...(entry.options && { options: entry.options }), ...(entry.onError && { onError: entry.onError }) })));
    } catch (err) {
      violation(entry.path, message(err));
    }
  }
  const where = new Map<string, string>();
  for (const { plugin, listedIn } of [...loaded, ...after]) {
    const first = where.get(plugin.name);
    if (first === undefined) where.set(plugin.name, listedIn);
    else {
      // Logs, errors and /debug name plugins: two with one name could not be told apart.
      const at = listedIn.startsWith(`${mesh.source.file}: `) ? listedIn.slice(mesh.source.file.length + 2) : 'spec.plugins';
      violation(at, `two plugins are named "${plugin.name}" (${first} and ${listedIn}); plugin names must be unique: rename one, or remove the duplicate entry`);
    }
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, plugins: [...loaded, ...after] };
}

function message(err: unknown): string {
  return err instanceof MeshplaneError || err instanceof Error ? err.message : String(err);
}
