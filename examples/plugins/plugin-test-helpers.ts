/**
 * For the example plugins' tests: real translator output for a testdata case, per proxy, and a
 * way to run plugins on it exactly as the control plane does (src/extend/run-plugins.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPlugins } from '../../src/extend/run-plugins.ts';
import type { PluginContext, ProxyResources, TranslatorPlugin } from '../../src/extend/translator-plugin.ts';
import { parseModelFiles } from '../../src/model/load-model.ts';
import { qualifiedName } from '../../src/model/types.ts';
import { buildProxyPlans } from '../../src/plan/build-proxy-plans.ts';
import { buildProxylessPlans } from '../../src/plan/build-proxyless-plans.ts';
import { translateProxyless } from '../../src/translate/grpc-proxyless.ts';
import { translateProxy } from '../../src/translate/translate-proxy.ts';

export interface TranslatedProxy {
  resources: ProxyResources;
  context: PluginContext;
}

/** testdata/in/<name>.yaml translated for every proxy (fixed stand-in certificates), by node id. */
export function translateTestdata(name: string): Map<string, TranslatedProxy> {
  const file = `${name}.yaml`;
  const { model, violations } = parseModelFiles([{ file, text: readFileSync(join(import.meta.dirname, '../../testdata/in', file), 'utf8') }]);
  if (!model) throw new Error(`testdata/in/${file} is invalid: ${JSON.stringify(violations)}`);
  const labels = new Map(model.workloads.map((w) => [qualifiedName(w.metadata), w.metadata.labels]));
  const context = (nodeId: string, workload: { name: string; namespace: string }, proxyless: boolean): PluginContext => ({
    nodeId,
    workload: { name: workload.name, namespace: workload.namespace, labels: { ...labels.get(nodeId) } },
    proxyless,
  });
  const out = new Map<string, TranslatedProxy>();
  for (const plan of buildProxyPlans(model)) {
    const certs = { certChainPem: '<chain>', privateKeyPem: '<key>', trustBundlePem: '<bundle>' };
    out.set(plan.nodeId, { resources: translateProxy(plan, certs), context: context(plan.nodeId, plan.workload, false) });
  }
  for (const plan of buildProxylessPlans(model)) out.set(plan.nodeId, { resources: translateProxyless(plan), context: context(plan.nodeId, plan.workload, true) });
  return out;
}

/** The plugins' output for one proxy; throws the plugin's error if one failed. */
export function applyToProxy(plugins: TranslatorPlugin[], proxy: TranslatedProxy) {
  const run = runPlugins(plugins, proxy.resources, proxy.context);
  if (!run.ok) throw run.error;
  if (run.skipped.length > 0) throw run.skipped[0]!.error;
  return run;
}

/** A filter's typed_config in a listener, by its @type suffix, for every chain. */
export function filtersOf(listener: Record<string, unknown>, typeSuffix: string): Record<string, unknown>[] {
  const chains = (listener.filter_chains ?? []) as { filters?: { typed_config?: Record<string, unknown> }[] }[];
  return chains.flatMap((c) => (c.filters ?? []).map((f) => f.typed_config).filter((t): t is Record<string, unknown> => String(t?.['@type']).endsWith(typeSuffix)));
}
