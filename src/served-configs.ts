/**
 * What each node is served, between translation and the snapshot cache: the plugins' version of
 * the translated resources, with the clusters a change removed kept over once (make before break).
 * The translation before plugins is kept too, so a rotated certificate goes through the same
 * plugins as the config it joins.
 */
import type { Logger } from 'pino';
import type { PluginPipeline } from './extend/plugin-pipeline.ts';
import type { PluginContext } from './extend/translator-plugin.ts';
import { toResourceSet } from './resource-set.ts';
import { keepRemovedClustersOnce } from './translate/make-before-break.ts';
import type { ProxyResources } from './translate/translate-proxy.ts';
import type { SnapshotCache } from './xds/snapshot-cache.ts';

/** How long a cluster removed from a proxy's config is still served: its listeners move off it first. */
const CLUSTER_LINGER_MS = 5000;

export interface ServedConfigsHost {
  cache: SnapshotCache;
  plugins: PluginPipeline;
  logger: Logger;
  /** Told after each snapshot (the certificate lifecycle tracks which certificate each node was sent). */
  sent(nodeId: string): void;
  /** Applies the current config again: lingering clusters, now unused, drop out. */
  reapply(): void;
}

interface Served {
  resources: ProxyResources;
  lingering: Set<string>;
  translated: ProxyResources;
  context: PluginContext;
  /** What `translated` and `resources` were made from (see `isCurrent`); unset after a rotation. */
  inputs?: readonly unknown[];
}

export class ServedConfigs {
  readonly #served = new Map<string, Served>();
  #lingerTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly host: ServedConfigsHost) {}

  /**
   * A node's new translation, through the plugins; false when a fail-closed plugin failed (the
   * node keeps its last good config). Sidecars keep removed clusters over once; proxyless apps
   * ask for exactly the clusters their routes name, so a kept-over cluster would never be requested.
   */
  serve(translated: ProxyResources, context: PluginContext, inputs?: readonly unknown[]): boolean {
    const resources = this.host.plugins.apply(translated, context);
    if (!resources) return false;
    const previous = this.#served.get(context.nodeId);
    const next = context.proxyless ? { resources, lingering: new Set<string>() } : keepRemovedClustersOnce(resources, previous?.resources, previous?.lingering ?? new Set());
    this.#set(context.nodeId, { ...next, translated, context, ...(inputs && { inputs }) });
    return true;
  }

  /**
   * Whether serving the node again from `inputs` would change nothing, so translating it can be
   * skipped: its config was last served from the very same inputs (compared one by one by
   * identity: the plan, the certificate, the trust bundle, the plugins' generation, the labels
   * plugins see...), no certificate rotation replaced its secrets since, and no removed cluster
   * still lingers (the next serve drops it). A serve a plugin refused leaves the last good
   * config and its inputs: the same refused inputs are never taken as current.
   */
  isCurrent(nodeId: string, inputs: readonly unknown[]): boolean {
    const served = this.#served.get(nodeId);
    const known = served?.inputs;
    if (!known || served.lingering.size > 0 || known.length !== inputs.length) return false;
    // A plain loop: this runs for every proxy of every config change.
    for (let i = 0; i < known.length; i++) if (!Object.is(known[i], inputs[i])) return false;
    return true;
  }

  /** Makes every node not current: the next application translates and serves every proxy again. */
  invalidate(): void {
    for (const served of this.#served.values()) delete served.inputs;
  }

  /**
   * A rotated certificate as the node's new secrets, through the plugins again; listeners and
   * clusters are unchanged, so the cache sends nothing else. A fail-closed plugin failure keeps the
   * current certificate, and the node is tried again with the next re-apply.
   */
  rotate(nodeId: string, secrets: ProxyResources['secrets']): void {
    const served = this.#served.get(nodeId);
    if (!served) return;
    const translated = { ...served.translated, secrets };
    const resources = this.host.plugins.apply(translated, served.context);
    if (!resources) {
      this.#scheduleReapply();
      return;
    }
    // Clusters still lingering after the last config change stay until the linger timer drops them.
    this.#set(nodeId, { ...keepRemovedClustersOnce(resources, served.resources, new Set()), translated, context: served.context });
  }

  /** Forgets a node that left the config (its snapshot is the caller's to remove). */
  forget(nodeId: string): void {
    this.#served.delete(nodeId);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#lingerTimer);
  }

  #set(nodeId: string, served: Served): void {
    this.host.cache.setSnapshot(nodeId, toResourceSet(served.resources));
    this.host.sent(nodeId);
    this.#served.set(nodeId, served);
    if (served.lingering.size > 0) this.#scheduleReapply();
  }

  /** Re-apply once the lingering clusters have outlived the listener update, which drops them. */
  #scheduleReapply(): void {
    if (this.#lingerTimer || this.#stopped) return;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.host.reapply();
    }, CLUSTER_LINGER_MS);
    this.#lingerTimer.unref();
  }
}
