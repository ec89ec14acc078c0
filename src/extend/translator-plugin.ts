/**
 * The extension point for platform teams: a plugin sees each proxy's translated Envoy resources and
 * may add to or change them before they are versioned and pushed.
 *
 * Order, explicit and fixed:
 * 1. Plugins run in the order listed: the Mesh's `spec.plugins` first, then `meshplane serve
 *    --plugin` files; a module that exports several plugins contributes them in its array's order.
 * 2. Within one plugin the stages run `onListener` (each listener, by name), then `onCluster` (each
 *    cluster, by name), then `onResources` (the whole set).
 * 3. Every plugin sees what the plugins before it produced.
 *
 * Each proxy is processed on its own: a plugin failing for one proxy never affects another. Stages
 * are synchronous, get copies (changing them in place is allowed but the return value is what
 * counts) and return the resource, changed or not. Resources are protobufjs `fromObject` inputs:
 * snake_case field names, `'@type'` on every Any.
 *
 * Plugins must be deterministic: a proxy goes through them again only when something it is made
 * from changes (its translation, certificate, trust bundle or labels, or the plugins themselves,
 * reloaded), not on every config change (control-plane.ts translateAll, served-configs.ts isCurrent).
 */
import type { NamedResource, ProxyResources } from '../translate/translate-proxy.ts';

export type { LoadAssignment, NamedResource, ProxyResources } from '../translate/translate-proxy.ts';

/** What a plugin knows about the proxy whose resources it is given. */
export interface PluginContext {
  /** Envoy node.id, `<workload>.<namespace>`. */
  nodeId: string;
  workload: { name: string; namespace: string; labels: Readonly<Record<string, string>> };
  /**
   * A proxyless gRPC app (`spec.proxyless: true`), not an Envoy: it reads a subset of the xDS API
   * (API listeners with RDS, EDS clusters, no TLS) and rejects much of what Envoy accepts, such as
   * HTTP filters it does not know. Most plugins should leave these proxies alone.
   */
  proxyless: boolean;
}

/** Envoy's `traffic_direction`; a proxyless app's client (API) listener counts as OUTBOUND. */
export type TrafficDirection = 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';

export interface ListenerContext extends PluginContext {
  direction: TrafficDirection;
}

/**
 * `fail-closed` (the default): an error keeps the proxy on its last good config (nothing is pushed
 * to it, not even a renewed certificate). `skip-plugin`: the error is logged and the proxy gets the
 * resources without this plugin's changes.
 */
export type PluginErrorPolicy = 'fail-closed' | 'skip-plugin';

export interface TranslatorPlugin {
  /** Unique among the loaded plugins; shown in logs, errors and /debug. */
  readonly name: string;
  /** A Mesh `spec.plugins[].onError` overrides it. */
  readonly onError?: PluginErrorPolicy;
  /** Once per listener; `context.direction` says inbound or outbound. Returns the listener. */
  onListener?(listener: NamedResource, context: ListenerContext): NamedResource;
  /** Once per cluster. Returns the cluster. */
  onCluster?(cluster: NamedResource, context: PluginContext): NamedResource;
  /** The whole set, last: may add, change or remove any resource. Returns the set. */
  onResources?(resources: ProxyResources, context: PluginContext): ProxyResources;
}

/** The `options` mapping of the plugin's Mesh entry (`{}` for `serve --plugin`). */
export type PluginOptions = Readonly<Record<string, unknown>>;

/**
 * A module's default export may be a factory: called once per load with the Mesh entry's options,
 * so one file can be configured per mesh. It may be async (to read a file, say); throwing is a
 * load error that names the Mesh entry.
 */
export type PluginFactory = (options: PluginOptions) => TranslatorPlugin | TranslatorPlugin[] | Promise<TranslatorPlugin | TranslatorPlugin[]>;

/** What a plugin module may `export default`. */
export type PluginModuleExport = TranslatorPlugin | TranslatorPlugin[] | PluginFactory;

export const PLUGIN_STAGES = ['onListener', 'onCluster', 'onResources'] as const;
export type PluginStage = (typeof PLUGIN_STAGES)[number];
