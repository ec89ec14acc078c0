/**
 * The properties every configuration must satisfy, checked stage by stage:
 *
 * 1. load (`parseModelFiles`, what `meshplane validate` and `serve` run) never throws; every
 *    violation names a given file, has a readable message (not garbled, not kilobytes of echoed
 *    value), and an error without a field path is one of the few whole-document problems (YAML
 *    syntax, not a mapping, no/two Meshes); a model comes back iff there is no error;
 * 2. an accepted model plans (`buildProxyPlans`, `buildProxylessPlans`) and translates
 *    (`translateProxy`, `translateProxyless`) without throwing, with unique resource names and
 *    unique listener addresses per proxy (Envoy rejects duplicates);
 * 3. every resource encodes with the ResourceEncoder the ADS server uses.
 *
 * Stages are separated by an event-loop turn, so fast-check's per-case timeout can fire after a
 * stage that took too long (nothing in-process can interrupt a synchronous stage itself).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { CONFIG_FILE } from '../../src/model/validate-references.ts';
import { parseModelFiles, type ModelResult } from '../../src/model/load-model.ts';
import type { MeshModel } from '../../src/model/types.ts';
import { buildProxyPlans } from '../../src/plan/build-proxy-plans.ts';
import { buildProxylessPlans } from '../../src/plan/build-proxyless-plans.ts';
import type { ProxyPlan } from '../../src/plan/proxy-plan.ts';
import { buildLocalCluster, buildUpstreamCluster } from '../../src/translate/clusters.ts';
import { translateProxyless } from '../../src/translate/grpc-proxyless.ts';
import type { ProxyCertificates } from '../../src/translate/secrets.ts';
import { translateProxy, type ProxyResources } from '../../src/translate/translate-proxy.ts';
import { ResourceEncoder } from '../../src/xds/resource-encoder.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import type { ConfigFile } from './mutations.ts';

/** Errors that concern a whole file or document, so they have no field path. */
const WHOLE_DOCUMENT = /^(YAML syntax error|cannot read YAML document|a document must be a mapping|no Mesh found|only one Mesh is allowed)/;
/** Longer is unreadable on one `validate` line: a message must not echo a huge value whole. */
const MAX_MESSAGE = 1500;
const MAX_PATH = 400;
/** Signs of a message built from a value it did not expect. */
const GARBLED = /\[object Object\]|\bundefined\b|\bNaN\b/;

export const fakeCertificates = (plan: ProxyPlan): ProxyCertificates => ({
  certChainPem: `<certificate chain for ${plan.spiffeId}>`,
  privateKeyPem: `<private key of ${plan.nodeId}>`,
  trustBundlePem: '<mesh trust bundle>',
});

export interface PipelineResult {
  result: ModelResult;
  /** Per node id, what it would be sent (Envoy sidecars and proxyless apps). */
  resources: Map<string, ProxyResources>;
  envoyPlans: ProxyPlan[];
}

export class PipelineFailure extends Error {}

const fail = (stage: string, detail: string): never => {
  throw new PipelineFailure(`${stage}: ${detail}`);
};

/** Stage 1: the load result must be well-formed. Returns the model when accepted. */
export function checkLoad(files: readonly ConfigFile[], result: ModelResult, userValues: string): MeshModel | undefined {
  const names = new Set(files.map((f) => f.file));
  const errors = result.violations.filter((v) => v.severity === 'error');
  for (const v of result.violations) {
    const shown = JSON.stringify(v).slice(0, 400);
    if (v.severity !== 'error' && v.severity !== 'warning') fail('load', `bad severity in ${shown}`);
    if (typeof v.file !== 'string' || v.file === '') fail('load', `violation without a file: ${shown}`);
    const base = v.file.replace(/:\d+$/, '');
    if (!names.has(base) && v.file !== CONFIG_FILE) fail('load', `violation names a file that was not given: ${shown}`);
    if (typeof v.message !== 'string' || v.message.trim() === '') fail('load', `violation without a message: ${shown}`);
    if (typeof v.path !== 'string') fail('load', `violation path is not a string: ${shown}`);
    if (v.message.length > MAX_MESSAGE || v.path.length > MAX_PATH) fail('load', `unreadable: a ${v.path.length}-character path, a ${v.message.length}-character message: ${shown}`);
    if (v.severity === 'error' && v.path === '' && !WHOLE_DOCUMENT.test(v.message)) fail('load', `error without a field path: ${shown}`);
    // `undefined`/`NaN` in a message is fine when the user wrote it; otherwise it is a formatting bug.
    const garbled = GARBLED.exec(v.message);
    if (garbled && !userValues.includes(garbled[0])) fail('load', `garbled message (${garbled[0]}): ${shown}`);
  }
  if ((errors.length === 0) !== (result.model !== undefined)) {
    fail('load', `model ${result.model ? 'returned despite' : 'missing without'} errors: ${JSON.stringify(errors).slice(0, 400)}`);
  }
  return result.model;
}

/** Stage 2: plans and translation of an accepted model. */
export function translateAll(model: MeshModel): { resources: Map<string, ProxyResources>; envoyPlans: ProxyPlan[] } {
  const resources = new Map<string, ProxyResources>();
  const envoyPlans = buildProxyPlans(model);
  for (const plan of envoyPlans) {
    resources.set(plan.nodeId, translateProxy(plan, fakeCertificates(plan)));
    // translateProxy keeps one cluster per name: ports sharing a name must want the same cluster.
    const byName = new Map<string, string>();
    for (const c of [...plan.inbound.map(buildLocalCluster), ...plan.outbound.map((o) => buildUpstreamCluster(o.upstream))]) {
      const json = JSON.stringify(c);
      if ((byName.get(c.name) ?? json) !== json) fail('translate', `${plan.nodeId}: two different clusters named ${c.name}: ${byName.get(c.name)} and ${json}`);
      byName.set(c.name, json);
    }
  }
  for (const plan of buildProxylessPlans(model)) {
    if (resources.has(plan.nodeId)) fail('plan', `node id ${plan.nodeId} is both an Envoy and a proxyless app`);
    resources.set(plan.nodeId, translateProxyless(plan));
  }
  for (const [node, r] of resources) {
    for (const [kind, list] of Object.entries(r) as [string, { name?: string; cluster_name?: string }[] | undefined][]) {
      const names = (list ?? []).map((x) => x.name ?? x.cluster_name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) fail('translate', `${node}: two ${kind} named ${dup}`);
    }
    const addresses = r.listeners.flatMap((l) => {
      const a = (l as { address?: { socket_address: { address: string; port_value: number } } }).address?.socket_address;
      return a ? [`${a.address}:${a.port_value}`] : [];
    });
    const clash = addresses.find((a, i) => addresses.indexOf(a) !== i);
    if (clash !== undefined) fail('translate', `${node}: two listeners on ${clash}`);
  }
  return { resources, envoyPlans };
}

const TYPE_OF: Readonly<Record<string, string>> = {
  listeners: TYPE_URL.listener,
  clusters: TYPE_URL.cluster,
  secrets: TYPE_URL.secret,
  routes: TYPE_URL.route,
  endpoints: TYPE_URL.endpoint,
};

/** Stage 3: every resource encodes, as the ADS server would encode it. */
export function encodeAll(encoder: ResourceEncoder, resources: Map<string, ProxyResources>): number {
  let n = 0;
  for (const [node, r] of resources) {
    for (const [kind, list] of Object.entries(r) as [string, object[] | undefined][]) {
      for (const resource of list ?? []) {
        const name = (resource as { name?: string; cluster_name?: string }).name ?? (resource as { cluster_name: string }).cluster_name;
        try {
          encoder.release(encoder.acquire(TYPE_OF[kind]!, name, resource).hash);
        } catch (err) {
          fail('encode', `${node} ${kind} ${name}: ${err instanceof Error ? err.message : String(err)}`);
        }
        n++;
      }
    }
  }
  return n;
}

/** All three stages; throws PipelineFailure (or whatever the code under test threw). */
export async function runPipeline(encoder: ResourceEncoder, files: readonly ConfigFile[]): Promise<PipelineResult> {
  const result = parseModelFiles(files.map((f) => ({ ...f })));
  await tick();
  const model = checkLoad(files, result, files.map((f) => f.text).join('\n'));
  if (!model) return { result, resources: new Map(), envoyPlans: [] };
  await tick();
  const { resources, envoyPlans } = translateAll(model);
  await tick();
  encodeAll(encoder, resources);
  await tick();
  return { result, resources, envoyPlans };
}
