/**
 * Runs the plugins' stages for one proxy in the documented order (translator-plugin.ts), applies
 * each plugin's error policy, and records which plugin added or changed which resource (/debug).
 */
import { MeshplaneError } from '../errors.ts';
import type { NamedResource, ProxyResources } from '../translate/translate-proxy.ts';
import type { ListenerContext, PluginContext, TrafficDirection, TranslatorPlugin } from './translator-plugin.ts';

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

/** A plugin's failure and the stage (and resource) it happened in. */
class StageError extends Error {
  constructor(
    readonly where: string,
    readonly reason: unknown,
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

export function runPlugins(plugins: readonly TranslatorPlugin[], resources: ProxyResources, context: PluginContext): PluginRun {
  let current = resources;
  const touched: PluginTouch[] = [];
  const skipped: { plugin: string; error: MeshplaneError }[] = [];
  for (const plugin of plugins) {
    if (!plugin.onListener && !plugin.onCluster && !plugin.onResources) continue;
    try {
      const next = runPlugin(plugin, current, context);
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

/** One plugin's stages: listeners, then clusters, then the whole set. */
function runPlugin(plugin: TranslatorPlugin, input: ProxyResources, context: PluginContext): ProxyResources {
  // Copies: a plugin that mutates its input and then throws cannot leave half a change behind,
  // and one that writes to its context cannot change what the next plugin is told.
  let r = structuredClone(input);
  const ctx = () => structuredClone(context);
  if (plugin.onListener) {
    const listeners = r.listeners.map((l) =>
      stage(`onListener (listener "${l.name}")`, () => checkResource('onListener', 'listener', plugin.onListener!(l, { ...ctx(), direction: directionOf(l) } satisfies ListenerContext))),
    );
    r = { ...r, listeners };
  }
  if (plugin.onCluster) {
    const clusters = r.clusters.map((c) => stage(`onCluster (cluster "${c.name}")`, () => checkResource('onCluster', 'cluster', plugin.onCluster!(c, ctx()))));
    r = { ...r, clusters };
  }
  if (plugin.onResources) {
    const set = r;
    return stage('onResources', () => checkOutput(plugin.onResources!(set, ctx())));
  }
  return stage(plugin.onCluster ? 'onCluster' : 'onListener', () => checkOutput(r));
}

function stage<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new StageError(where, err);
  }
}

/** INBOUND/OUTBOUND as the translator set it; a proxyless client's API listener is outbound. */
function directionOf(listener: NamedResource): TrafficDirection {
  const d = listener.traffic_direction;
  if (d === 'INBOUND' || d === 'OUTBOUND') return d;
  return listener.api_listener !== undefined ? 'OUTBOUND' : 'UNSPECIFIED';
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** What onListener / onCluster returned must be one named resource object. */
function checkResource(stageName: string, kind: string, output: unknown): NamedResource {
  if (isThenable(output)) throw new Error(`${stageName} returned a Promise; it must return the ${kind} synchronously`);
  if (typeof output !== 'object' || output === null || Array.isArray(output)) throw new Error(`${stageName} returned ${describe(output)}, not a ${kind} object`);
  const name = (output as Item).name;
  if (typeof name !== 'string' || name === '') throw new Error(`${stageName} returned a ${kind} without a name`);
  return output as NamedResource;
}

/** What a plugin returned must still be a ProxyResources: lists of uniquely named objects. */
function checkOutput(output: unknown): ProxyResources {
  if (isThenable(output)) throw new Error('onResources returned a Promise; it must return the resources synchronously');
  if (typeof output !== 'object' || output === null || Array.isArray(output)) throw new Error(`onResources returned ${describe(output)}, not {listeners, clusters, secrets}`);
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

/** `plugin "p" failed for node: reason (in onListener (listener "x"))`. */
function pluginError(plugin: string, nodeId: string, err: unknown): MeshplaneError {
  const where = err instanceof StageError ? ` (in ${err.where})` : '';
  const cause = err instanceof StageError ? err.reason : err;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new MeshplaneError('PLUGIN_FAILED', `plugin "${plugin}" failed for ${nodeId}: ${reason}${where}`, [], { cause });
}
