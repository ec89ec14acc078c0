/**
 * meshplane's own encoded resources, written for the go-control-plane peer (bench/peer-go): one
 * `<nodeId>.json` per node in the {@link ExportedSnapshot} format, each resource the very bytes
 * meshplane's encoder puts in the Any it serves (base64).
 *
 * - `exportFromCache(cache, dir)`: what a running meshplane serves (`ControlPlane.cache`), as is.
 * - `exportFromConfig(files, dir)`: translates a config in-process the way ControlPlane does
 *   (parse -> plans -> certificates -> translateProxy / translateProxyless -> toResourceSet ->
 *   SnapshotCache), with a throwaway CA of the mesh's key algorithm. Every node gets its own real
 *   workload certificate (issueWorkloadCert, ~0.3 ms each: ~3 s for 10,000), so secrets are as
 *   many, as distinct and as large as meshplane's (the root differs, so the bytes do not; sizes
 *   agree to a few bytes). Certificates are kept by node id across calls on one exporter, so a
 *   re-export after a policy change changes only what the change touches, as in meshplane.
 *   Plugins (Mesh spec.plugins) are not run, and the trust bundle is one self-made root.
 *
 * Files whose node's version is unchanged since this process last wrote them are not rewritten
 * (the peer re-reads only files whose size or mtime changed); files of nodes that are gone are
 * removed. Each type carries the version meshplane serves it under (`typeVersions`), and the node's
 * `version` is a hash of those.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAuthority, type Authority } from '../../src/ca/authority.ts';
import { WorkloadCertificates } from '../../src/ca/workload-certs.ts';
import { parseModelFiles } from '../../src/model/load-model.ts';
import { buildProxyPlans } from '../../src/plan/build-proxy-plans.ts';
import { buildProxylessPlans } from '../../src/plan/build-proxyless-plans.ts';
import { toResourceSet } from '../../src/resource-set.ts';
import { translateProxyless } from '../../src/translate/grpc-proxyless.ts';
import { translateProxy } from '../../src/translate/translate-proxy.ts';
import type { Snapshot } from '../../src/xds/snapshot.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { sortByPushOrder } from '../../src/xds/type-urls.ts';
import type { ExportedSnapshot } from './peer-contract.ts';

export interface ExportSummary {
  /** Nodes in `dir` now. */
  nodes: number;
  /** Files (re)written by this call: nodes that are new or whose version changed. */
  written: number;
  /** Files removed: nodes that are gone. */
  removed: number;
  /** Resources over all nodes, and their serialized bytes (the Any values, before base64). */
  resources: number;
  resourceBytes: number;
}

/** Per directory: node id -> the version last written there by this process. */
const writtenVersions = new Map<string, Map<string, string>>();

export const snapshotFileName = (nodeId: string) => `${encodeURIComponent(nodeId)}.json`;

/** A node's snapshot in the exported form: meshplane's per-type versions, and a node version hashed from them. */
export function exportedSnapshotOf(nodeId: string, snapshot: Snapshot): ExportedSnapshot {
  const types = sortByPushOrder(snapshot.typeUrls());
  const version = createHash('sha256')
    .update(types.map((t) => `${t}=${snapshot.version(t)}`).join('\n'))
    .digest('hex')
    .slice(0, 16);
  const typeVersions: Record<string, string> = {};
  const resources: ExportedSnapshot['resources'] = [];
  for (const typeUrl of types) {
    typeVersions[typeUrl] = snapshot.version(typeUrl);
    for (const [name, r] of snapshot.get(typeUrl).resources) resources.push({ typeUrl, name, base64: r.any.value.toString('base64') });
  }
  return { nodeId, version, typeVersions, resources };
}

/**
 * Writes `snapshots` to `dir` (created if missing), one file per node; a node's file is rewritten
 * only if its version differs from what this process last wrote there, and the *.json files of
 * nodes not in `snapshots` are removed.
 */
export function exportSnapshots(dir: string, snapshots: Iterable<ExportedSnapshot>): ExportSummary {
  mkdirSync(dir, { recursive: true });
  let written = writtenVersions.get(dir);
  if (!written) writtenVersions.set(dir, (written = new Map()));
  const keep = new Set<string>();
  const summary: ExportSummary = { nodes: 0, written: 0, removed: 0, resources: 0, resourceBytes: 0 };
  for (const s of snapshots) {
    const file = snapshotFileName(s.nodeId);
    if (keep.has(file)) throw new Error(`exportSnapshots: node ${s.nodeId} given twice`);
    keep.add(file);
    summary.nodes++;
    summary.resources += s.resources.length;
    for (const r of s.resources) summary.resourceBytes += Buffer.byteLength(r.base64, 'base64');
    if (written.get(s.nodeId) === s.version) continue;
    writeFileSync(join(dir, file), JSON.stringify(s));
    written.set(s.nodeId, s.version);
    summary.written++;
  }
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json') || keep.has(file)) continue;
    rmSync(join(dir, file), { force: true });
    written.delete(decodeURIComponent(file.slice(0, -'.json'.length)));
    summary.removed++;
  }
  return summary;
}

/** Every node of `cache` (a running meshplane's `ControlPlane.cache`, or an exporter's) to `dir`. */
export function exportFromCache(cache: SnapshotCache, dir: string): ExportSummary {
  return exportSnapshots(
    dir,
    (function* () {
      for (const nodeId of cache.nodeIds()) yield exportedSnapshotOf(nodeId, cache.getSnapshot(nodeId)!);
    })(),
  );
}

/**
 * Translates configs in-process as meshplane does, into its own SnapshotCache (so its encoder),
 * keeping a throwaway CA and each node's certificate across calls. `close()` removes the CA's
 * temporary directory.
 */
export class SnapshotExporter {
  /** The snapshots of the last config translated (meshplane's encoded bytes). */
  readonly cache = new SnapshotCache();
  #ca: Promise<{ authority: Authority; stateDir: string }> | undefined;
  #certs: WorkloadCertificates | undefined;

  /** Translates `files` (name -> YAML, e.g. generateMesh's) and writes every node to `dir`. */
  async exportFromConfig(files: Record<string, string>, dir: string): Promise<ExportSummary> {
    await this.translate(files);
    return exportFromCache(this.cache, dir);
  }

  /** Translates `files` into `this.cache` (nodes no longer in the config are removed from it). */
  async translate(files: Record<string, string>): Promise<void> {
    const { model, violations } = parseModelFiles(Object.entries(files).map(([file, text]) => ({ file, text })));
    if (!model) {
      const errors = violations.filter((v) => v.severity === 'error').slice(0, 10);
      throw new Error(`the config is invalid:\n${errors.map((v) => `${v.file} ${v.path}: ${v.message}`).join('\n')}`);
    }
    const { mesh } = model;
    this.#ca ??= (async () => {
      const stateDir = mkdtempSync(join(tmpdir(), 'meshplane-peer-export-'));
      const { authority } = await loadOrCreateAuthority(stateDir, { keyAlgorithm: mesh.ca.keyAlgorithm, rootCertTtlSeconds: mesh.ca.rootCertTtlSeconds, trustDomain: mesh.trustDomain });
      return { authority, stateDir };
    })();
    const { authority } = await this.#ca;
    this.#certs ??= new WorkloadCertificates(mesh.ca, { signer: () => authority });
    const certs = this.#certs;

    const plans = buildProxyPlans(model);
    const issued = await Promise.all(plans.map((p) => certs.ensure(p.nodeId, p.spiffeId)));
    const live = new Set<string>();
    plans.forEach((plan, i) => {
      this.cache.setSnapshot(plan.nodeId, toResourceSet(translateProxy(plan, { ...issued[i]!, trustBundlePem: authority.trustBundlePem })));
      live.add(plan.nodeId);
    });
    for (const plan of buildProxylessPlans(model)) {
      this.cache.setSnapshot(plan.nodeId, toResourceSet(translateProxyless(plan)));
      live.add(plan.nodeId);
    }
    for (const node of this.cache.nodeIds()) if (!live.has(node)) this.cache.removeSnapshot(node);
  }

  async close(): Promise<void> {
    const ca = this.#ca;
    this.#ca = undefined;
    this.#certs = undefined;
    if (ca) rmSync((await ca).stateDir, { recursive: true, force: true });
  }
}

let shared: SnapshotExporter | undefined;

/**
 * `new SnapshotExporter().exportFromConfig(files, dir)` on one exporter shared by the process (so
 * certificates stay the same from one call to the next), unless `exporter` is given.
 */
export function exportFromConfig(files: Record<string, string>, dir: string, exporter?: SnapshotExporter): Promise<ExportSummary> {
  return (exporter ?? (shared ??= new SnapshotExporter())).exportFromConfig(files, dir);
}
