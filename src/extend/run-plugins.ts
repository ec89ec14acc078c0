/**
 * Runs the plugins' `onResources` stage for one proxy, in order, applying each plugin's error
 * policy, and records which plugin added or changed which resource (for /debug).
 */
import type { Logger } from 'pino';
import { MeshplaneError } from '../errors.ts';
import type { ProxyResources } from '../translate/translate-proxy.ts';
import type { PluginContext, TranslatorPlugin } from './translator-plugin.ts';

export type ResourceKind = keyof ProxyResources;
/** Each list of ProxyResources, the field that names its items (CLAs have no `name`), and whether it may be absent. */
const KINDS: readonly { kind: ResourceKind; key: 'name' | 'cluster_name'; optional: boolean }[] = [
  { kind: 'listeners', key: 'name', optional: false },
  { kind: 'clusters', key: 'name', optional: false },
  { kind: 'secrets', key: 'name', optional: false },
  { kind: 'routes', key: 'name', optional: true },
  { kind: 'endpoints', key: 'cluster_name', optional: true },
];
type Item = Record<string, unknown>;
const listOf = (r: ProxyResources, kind: ResourceKind) => (r[kind] ?? []) as Item[];

/** One resource a plugin added or changed (compared as JSON with what the plugin was given). */
export interface PluginTouch {
  plugin: string;
  type: ResourceKind;
  name: string;
}

export type PluginRun =
  | {
      ok: true;
      resources: ProxyResources;
      touched: PluginTouch[];
      /** Plugins with `onError: 'skip-plugin'` that failed: their changes are not in `resources`. */
      skipped: { plugin: string; error: MeshplaneError }[];
    }
  /** A `fail-closed` plugin failed: nothing may be pushed to this proxy. */
  | { ok: false; plugin: string; error: MeshplaneError };

export function runPlugins(plugins: readonly TranslatorPlugin[], resources: ProxyResources, context: PluginContext): PluginRun {
  let current = resources;
  const touched: PluginTouch[] = [];
  const skipped: { plugin: string; error: MeshplaneError }[] = [];
  for (const plugin of plugins) {
    if (!plugin.onResources) continue;
    try {
      // A copy: a plugin that mutates its input and then throws cannot leave half a change behind.
      const output: unknown = plugin.onResources(structuredClone(current), context);
      const next = checkOutput(output);
      touched.push(...diff(plugin.name, current, next));
      current = next;
    } catch (err) {
      const error = pluginError(plugin.name, context.nodeId, err);
      if ((plugin.onError ?? 'fail-closed') === 'fail-closed') return { ok: false, plugin: plugin.name, error };
      skipped.push({ plugin: plugin.name, error });
    }
  }
  return { ok: true, resources: current, touched, skipped };
}

/** What a plugin returned must still be a ProxyResources: lists of uniquely named objects. */
function checkOutput(output: unknown): ProxyResources {
  if (output instanceof Promise || (typeof output === 'object' && output !== null && typeof (output as { then?: unknown }).then === 'function')) {
    throw new Error('onResources returned a Promise; it must return the resources synchronously');
  }
  if (typeof output !== 'object' || output === null) throw new Error(`onResources returned ${output === null ? 'null' : typeof output}, not {listeners, clusters, secrets}`);
  const o = output as Record<string, unknown>;
  const result: Record<string, Item[]> = {};
  for (const { kind, key, optional } of KINDS) {
    const list = o[kind];
    if (list === undefined && optional) continue;
    if (!Array.isArray(list)) throw new Error(`onResources returned no ${kind} array`);
    const names = new Set<string>();
    list.forEach((r: unknown, i) => {
      const name = typeof r === 'object' && r !== null ? (r as Item)[key] : undefined;
      if (typeof name !== 'string' || name === '') throw new Error(`${kind}[${i}] has no ${key}`);
      if (names.has(name)) throw new Error(`${kind} has two resources named "${name}"`);
      names.add(name);
    });
    // Sorted by name, as the translator gives them: equal content gives equal versions.
    result[kind] = [...(list as Item[])].sort((a, b) => ((a[key] as string) < (b[key] as string) ? -1 : (a[key] as string) > (b[key] as string) ? 1 : 0));
  }
  return result as unknown as ProxyResources;
}

function diff(plugin: string, before: ProxyResources, after: ProxyResources): PluginTouch[] {
  const out: PluginTouch[] = [];
  for (const { kind: type, key } of KINDS) {
    const old = new Map(listOf(before, type).map((r) => [r[key], JSON.stringify(r)]));
    for (const r of listOf(after, type)) {
      if (old.get(r[key]) !== JSON.stringify(r)) out.push({ plugin, type, name: r[key] as string });
    }
  }
  return out;
}

function pluginError(plugin: string, nodeId: string, err: unknown): MeshplaneError {
  const reason = err instanceof Error ? err.message : String(err);
  return new MeshplaneError('PLUGIN_FAILED', `plugin "${plugin}" failed for ${nodeId}: ${reason}`, [], { cause: err });
}

/**
 * The plugins' version of one proxy's resources, failures and skips logged; undefined when a
 * fail-closed plugin failed (the proxy then keeps its last good config).
 */
export function applyPlugins(plugins: readonly TranslatorPlugin[], resources: ProxyResources, context: PluginContext, logger: Logger): ProxyResources | undefined {
  if (plugins.length === 0) return resources;
  const run = runPlugins(plugins, resources, context);
  const node = context.nodeId;
  if (!run.ok) {
    // The plugin's own error goes in `err` (its stack); pino would repeat its message after ours.
    logger.error({ err: run.error.cause, node, plugin: run.plugin }, `${run.error.message}; this proxy keeps its last good config`);
    return undefined;
  }
  for (const s of run.skipped) logger.warn({ err: s.error.cause, node, plugin: s.plugin }, `${s.error.message}; its changes are skipped (onError: skip-plugin)`);
  if (run.touched.length > 0) logger.debug({ node, touched: run.touched }, 'resources changed by plugins');
  return run.resources;
}
