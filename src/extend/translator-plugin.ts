/**
 * The extension point for platform teams: a plugin sees each proxy's translated Envoy resources and
 * may add to or change them before they are versioned and pushed. Plugins run in the order given;
 * each proxy is processed independently, so a plugin failing for one proxy never affects another.
 */
import type { ProxyResources } from '../translate/translate-proxy.ts';

/** What a plugin knows about the proxy whose resources it is given. */
export interface PluginContext {
  /** Envoy node.id, `<workload>.<namespace>`. */
  nodeId: string;
  workload: { name: string; namespace: string; labels: Readonly<Record<string, string>> };
}

/**
 * `fail-closed`: an error keeps the proxy on its last good config (nothing is pushed to it).
 * `skip-plugin`: an error is logged and the proxy gets the resources without this plugin's changes.
 */
export type PluginErrorPolicy = 'fail-closed' | 'skip-plugin';

export interface TranslatorPlugin {
  /** Shown in logs and errors. */
  readonly name: string;
  readonly onError?: PluginErrorPolicy;
  /** Returns the proxy's resources, changed or not. Must not mutate its input. */
  onResources?(resources: ProxyResources, context: PluginContext): ProxyResources;
}
