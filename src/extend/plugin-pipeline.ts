/**
 * The plugins a running control plane applies, and what they did to each proxy: the Mesh's
 * `spec.plugins` (loaded again when that list or a file's mtime changes on a config reload) then
 * the `serve --plugin` ones. Serves /debug/plugins and the `plugins` field of /debug/proxies.
 */
import type { Logger } from 'pino';
import type { Violation } from '../errors.ts';
import type { Mesh } from '../model/types.ts';
import type { ProxyResources } from '../translate/translate-proxy.ts';
import { stagesOf, type LoadedPlugin } from './load-plugins.ts';
import { loadMeshPlugins, meshPluginSignature } from './mesh-plugins.ts';
import { runPlugins, type PluginTouch } from './run-plugins.ts';
import type { PluginContext } from './translator-plugin.ts';

/**
 * Per proxy: `touched` and `skipped` describe the config it is being served; `failed`, a later run
 * a fail-closed plugin refused (the proxy then keeps that last good config).
 */
export interface PluginReport {
  touched: PluginTouch[];
  skipped: { plugin: string; error: string }[];
  failed?: { plugin: string; error: string };
}

/** The Mesh's plugins, ready to take over once the config that lists them is accepted. */
export type PreparedPlugins = { ok: true; changed: boolean; commit(): void } | { ok: false; violations: Violation[] };

export class PluginPipeline {
  private loaded: readonly LoadedPlugin[];
  private signature = '[]';
  /** Counts the plugin sets committed: a proxy translated under another generation must go through the plugins again. */
  generation = 0;
  private readonly reports = new Map<string, PluginReport>();

  constructor(
    private readonly logger: Logger,
    /** `serve --plugin`: loaded once at start, run after the Mesh's. */
    private readonly cliPlugins: readonly LoadedPlugin[] = [],
  ) {
    this.loaded = cliPlugins;
  }

  /**
   * Loads the Mesh's plugins if its list or a listed file changed since the last commit; nothing
   * changes until `commit()`, so a config change rejected for another reason leaves them as they were.
   */
  async prepare(mesh: Mesh, configDir: string): Promise<PreparedPlugins> {
    const signature = await meshPluginSignature(mesh, configDir);
    if (signature === this.signature) return { ok: true, changed: false, commit: () => undefined };
    const load = await loadMeshPlugins(mesh, configDir, this.cliPlugins);
    if (!load.ok) return load;
    return {
      ok: true,
      changed: true,
      commit: () => {
        this.loaded = load.plugins;
        this.signature = signature;
        this.generation++;
        this.logger.info({ plugins: this.describe().map((p) => `${p.name} (${p.listedIn})`) }, 'translator plugins loaded');
      },
    };
  }

  /** The proxy's resources after the plugins; undefined when a fail-closed plugin failed (logged and reported). */
  apply(resources: ProxyResources, context: PluginContext): ProxyResources | undefined {
    const node = context.nodeId;
    if (this.loaded.length === 0) {
      this.reports.delete(node);
      return resources;
    }
    const run = runPlugins(
      this.loaded.map((l) => l.plugin),
      resources,
      context,
    );
    if (!run.ok) {
      // The plugin's own error goes in `err` (its stack); pino would repeat its message after ours.
      this.logger.error({ err: run.error.cause, node, plugin: run.plugin }, `${run.error.message}; this proxy keeps its last good config`);
      const previous = this.reports.get(node) ?? { touched: [], skipped: [] };
      this.reports.set(node, { ...previous, failed: { plugin: run.plugin, error: run.error.message } });
      return undefined;
    }
    for (const s of run.skipped) this.logger.warn({ err: s.error.cause, node, plugin: s.plugin }, `${s.error.message}; its changes are skipped (onError: skip-plugin)`);
    if (run.touched.length > 0) this.logger.debug({ node, touched: run.touched }, 'resources changed by plugins');
    this.reports.set(node, { touched: run.touched, skipped: run.skipped.map((s) => ({ plugin: s.plugin, error: s.error.message })) });
    return run.resources;
  }

  /** For /debug/proxies; undefined when no plugin ran for this proxy. */
  report(nodeId: string): PluginReport | undefined {
    return this.reports.get(nodeId);
  }

  /** Forgets the proxies that are gone. */
  retain(live: ReadonlySet<string>): void {
    for (const node of this.reports.keys()) if (!live.has(node)) this.reports.delete(node);
  }

  /** /debug/plugins: in the order they run. */
  describe() {
    return this.loaded.map(({ plugin, file, listedIn }) => ({ name: plugin.name, file, listedIn, onError: plugin.onError ?? 'fail-closed', stages: stagesOf(plugin) }));
  }
}
