/**
 * Proves the go-control-plane peer serves what meshplane would: exports a generated mesh, starts
 * the peer, and compares the resources received over ADS (SotW on one node, Delta on another) with
 * the exported bytes; then a mesh-wide PeerAuthentication change is re-exported and reloaded, and
 * the SotW stream must receive the new listeners. Finally every node opens a SotW stream (Cluster,
 * Listener, Secret, all ACKed) and the peer's RSS is read idle and with the streams held.
 *
 *   npx tsx bench/peer/check-peer.ts [workloads=50]
 *
 * Exits non-zero on any difference. The peer unmarshals each resource into its Go type and
 * go-control-plane marshals it again (deterministic: fields in number order, zero values of
 * implicit-presence fields dropped — protobufjs writes e.g. `lb_policy: ROUND_ROBIN` and an Any's
 * empty `value`), so a resource is either byte-identical or must decode to the same message with
 * its nested Any values byte-identical; the byte totals of both sides are printed.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protoType } from '../../protos/envoy-protos.ts';
import { adsServiceDefinition } from '../../src/xds/ads-service.ts';
import { messageNameOf, TYPE_URL } from '../../src/xds/type-urls.ts';
import { FILES, generateMesh, nodeIdOf, peerAuthentication, type MeshSize } from '../mesh/generate-mesh.ts';
import { exportedSnapshotOf, SnapshotExporter } from './export-snapshots.ts';
import type { ExportedSnapshot } from './peer-contract.ts';
import { startPeer } from './start-peer.ts';

const workloads = Number(process.argv[2] ?? 50);
const size: MeshSize = { workloads, services: Math.max(2, Math.floor(workloads / 10)), policies: 0, outbounds: 8, namespaces: 10 };
const TYPES = [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.secret] as const;
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const ms = (t0: number) => Math.round(performance.now() - t0);

type Any = { type_url: string; value: Buffer };
type Sotw = { version_info: string; type_url: string; nonce: string; resources: Any[] };
type Delta = { system_version_info: string; type_url: string; nonce: string; resources: { name: string; version: string; resource: Any }[]; removed_resources: string[] };

const AdsClient = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
const failures: string[] = [];
const fail = (what: string) => {
  failures.push(what);
  console.error(`FAIL ${what}`);
};

/** Resources compared so far: byte for byte, equal as messages (proto3 canonical form), and their bytes. */
const tally = { identical: 0, equivalent: 0, exportedBytes: 0, servedBytes: 0 };
const CANONICAL = { defaults: true, bytes: String, longs: String, enums: String } as const;

/**
 * Compares what the peer sent for one node and type with the exported resources. Bytes may differ
 * only as Go's deterministic marshal re-encodes the top-level message (fields in number order,
 * zero values of implicit-presence fields dropped); decoded with defaults they must be equal, and
 * nested Any values (filters, transport sockets) are compared as bytes, so they must be identical.
 */
function compare(what: string, expected: ExportedSnapshot, typeUrl: string, got: Map<string, Buffer>): void {
  const want = new Map(expected.resources.filter((r) => r.typeUrl === typeUrl).map((r) => [r.name, Buffer.from(r.base64, 'base64')]));
  if (want.size === 0) fail(`${what}: nothing exported for ${typeUrl}`);
  const names = (m: Map<string, unknown>) => [...m.keys()].sort().join(',');
  if (names(want) !== names(got)) fail(`${what}: names differ: want [${names(want)}], got [${names(got)}]`);
  const type = protoType(messageNameOf(typeUrl));
  for (const [name, bytes] of want) {
    const received = got.get(name);
    if (!received) continue;
    tally.exportedBytes += bytes.length;
    tally.servedBytes += received.length;
    if (received.equals(bytes)) {
      tally.identical++;
    } else if (JSON.stringify(type.toObject(type.decode(received), CANONICAL)) === JSON.stringify(type.toObject(type.decode(bytes), CANONICAL))) {
      tally.equivalent++;
    } else {
      fail(`${what}: ${name}: ${bytes.length} bytes exported, ${received.length} received, and they decode to different messages`);
    }
  }
}

function report(what: string): void {
  const delta = ((tally.servedBytes - tally.exportedBytes) / tally.exportedBytes) * 100;
  console.log(
    `${what}: ${tally.identical} resources byte-identical, ${tally.equivalent} equal as messages (Go re-marshal); ` +
      `${tally.exportedBytes} bytes exported, ${tally.servedBytes} served (${delta.toFixed(2)}%)`,
  );
  Object.assign(tally, { identical: 0, equivalent: 0, exportedBytes: 0, servedBytes: 0 });
}

const nameOf = (typeUrl: string, any: Any): string => {
  const decoded = protoType(messageNameOf(typeUrl)).decode(any.value) as unknown as { name?: string; cluster_name?: string };
  return decoded.name ?? decoded.cluster_name ?? '';
};

/** A SotW stream that subscribes to Cluster, Listener (wildcard) and the Secrets named, and ACKs everything. */
function sotwStream(client: grpc.Client, nodeId: string, secrets: string[]) {
  const call = (client as any).StreamAggregatedResources() as grpc.ClientDuplexStream<object, Sotw>;
  const latest = new Map<string, Sotw>();
  const responses = new Map<string, number>();
  const waiters: (() => void)[] = [];
  call.on('data', (r: Sotw) => {
    latest.set(r.type_url, r);
    responses.set(r.type_url, (responses.get(r.type_url) ?? 0) + 1);
    call.write({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: r.type_url === TYPE_URL.secret ? secrets : [] });
    for (const w of waiters.splice(0)) w();
  });
  call.on('error', () => undefined);
  const node = { id: nodeId, cluster: 'bench' };
  for (const type_url of TYPES) call.write({ node, type_url, resource_names: type_url === TYPE_URL.secret ? secrets : [] });
  return {
    latest,
    responses,
    until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        const check = () => {
          if (cond()) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    end: () => call.cancel(),
  };
}

const secretNames = (s: ExportedSnapshot) => s.resources.filter((r) => r.typeUrl === TYPE_URL.secret).map((r) => r.name);

const dir = mkdtempSync(join(tmpdir(), 'meshplane-peer-check-'));
const exporter = new SnapshotExporter();
const peerRef: { stop?: () => Promise<void> } = {};
try {
  let t = performance.now();
  const files = generateMesh(size);
  const exported = await exporter.exportFromConfig(files, dir);
  console.log(`exported ${exported.nodes} nodes, ${exported.resources} resources, ${mb(exported.resourceBytes)} MiB of resource bytes in ${ms(t)} ms`);
  const snapshotOf = (nodeId: string) => exportedSnapshotOf(nodeId, exporter.cache.getSnapshot(nodeId)!);

  t = performance.now();
  const peer = await startPeer({ snapshotDir: dir });
  peerRef.stop = () => peer.stop();
  console.log(`peer ${peer.pid} listening on ${peer.address} after ${ms(t)} ms (build included if it ran); RSS ${mb(peer.rssBytes())} MiB`);
  const client = new AdsClient(peer.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });

  // SotW on node 0: every type's resources byte for byte.
  const sotwNode = nodeIdOf(0, size);
  let want = snapshotOf(sotwNode);
  const sotw = sotwStream(client, sotwNode, secretNames(want));
  await sotw.until(() => TYPES.every((t) => sotw.latest.has(t)), 'the first SotW responses');
  for (const typeUrl of TYPES) {
    const got = new Map(sotw.latest.get(typeUrl)!.resources.map((a) => [nameOf(typeUrl, a), a.value]));
    compare(`SotW ${sotwNode}`, want, typeUrl, got);
  }
  report(`SotW ${sotwNode} (${want.resources.length} resources)`);

  // Delta on node 1: the same, plus the peer's per-resource versions.
  const deltaNode = nodeIdOf(1, size);
  const wantDelta = snapshotOf(deltaNode);
  const delta = (client as any).DeltaAggregatedResources() as grpc.ClientDuplexStream<object, Delta>;
  const deltaGot = new Map<string, Map<string, Buffer>>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the Delta responses')), 20_000);
    delta.on('data', (r: Delta) => {
      const byName = deltaGot.get(r.type_url) ?? new Map<string, Buffer>();
      for (const res of r.resources) byName.set(res.name, res.resource.value);
      deltaGot.set(r.type_url, byName);
      delta.write({ type_url: r.type_url, response_nonce: r.nonce });
      if (TYPES.every((t) => deltaGot.has(t))) {
        clearTimeout(timer);
        resolve();
      }
    });
    delta.on('error', () => undefined);
    const node = { id: deltaNode, cluster: 'bench' };
    for (const type_url of TYPES) delta.write({ node, type_url, resource_names_subscribe: type_url === TYPE_URL.secret ? secretNames(wantDelta) : ['*'] });
  });
  for (const typeUrl of TYPES) compare(`Delta ${deltaNode}`, wantDelta, typeUrl, deltaGot.get(typeUrl)!);
  report(`Delta ${deltaNode} (${wantDelta.resources.length} resources)`);
  delta.cancel();

  // A mesh-wide change: STRICT. Re-export (same certificates), reload, and the stream gets the new listeners.
  const before = sotw.latest.get(TYPE_URL.listener)!.version_info;
  const responsesBefore = new Map(sotw.responses);
  t = performance.now();
  const again = await exporter.exportFromConfig({ ...files, [FILES.peerAuthentication]: peerAuthentication('STRICT') }, dir);
  const exportMs = ms(t);
  t = performance.now();
  await peer.reload();
  const reloadMs = ms(t);
  await sotw.until(() => sotw.latest.get(TYPE_URL.listener)!.version_info !== before, 'the listeners after the reload');
  want = snapshotOf(sotwNode);
  const got = new Map(sotw.latest.get(TYPE_URL.listener)!.resources.map((a) => [nameOf(TYPE_URL.listener, a), a.value]));
  compare(`SotW ${sotwNode} after reload`, want, TYPE_URL.listener, got);
  await new Promise((r) => setTimeout(r, 300));
  const pushed = TYPES.filter((t) => sotw.responses.get(t) !== responsesBefore.get(t)).map((t) => t.split('.').at(-1));
  console.log(`STRICT pushed to ${sotwNode}: ${pushed.join(', ')}`);
  for (const t of TYPES) if (sotw.latest.get(t)!.version_info !== want.typeVersions?.[t]) fail(`${sotwNode}: ${t} served under ${sotw.latest.get(t)!.version_info}, meshplane's version is ${want.typeVersions?.[t]}`);
  if (pushed.includes('Secret')) fail(`${sotwNode}: the unchanged secrets were pushed again`);
  console.log(`STRICT: re-exported ${again.written} of ${again.nodes} files in ${exportMs} ms, peer reloaded in ${reloadMs} ms`);
  report(`SotW ${sotwNode} listeners after the push`);
  sotw.end();

  // Every node holds a SotW stream (100 streams per connection); RSS idle vs with streams.
  await new Promise((r) => setTimeout(r, 500));
  const idle = peer.rssBytes();
  const clients: grpc.Client[] = [];
  const streams: ReturnType<typeof sotwStream>[] = [];
  t = performance.now();
  for (let w = 0; w < size.workloads; w++) {
    if (w % 100 === 0) clients.push(new AdsClient(peer.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    const nodeId = nodeIdOf(w, size);
    const s = sotwStream(clients.at(-1)!, nodeId, secretNames(snapshotOf(nodeId)));
    streams.push(s);
  }
  await Promise.all(streams.map((s) => s.until(() => TYPES.every((t) => s.latest.has(t)), 'every stream served', 120_000)));
  const servedMs = ms(t);
  await new Promise((r) => setTimeout(r, 1000));
  const held = peer.rssBytes();
  console.log(
    `peer RSS: ${mb(idle)} MiB idle with ${exported.nodes} snapshots; ${mb(held)} MiB with ${streams.length} SotW streams held ` +
      `(all served in ${servedMs} ms; ${Math.round((held - idle) / streams.length / 1024)} KiB per stream)`,
  );
  for (const s of streams) s.end();
  for (const c of [client, ...clients]) c.close();

  t = performance.now();
  await peer.stop();
  console.log(`peer stopped in ${ms(t)} ms`);
} catch (err) {
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await peerRef.stop?.();
} finally {
  await exporter.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures.length === 0 ? 'check-peer: OK' : `check-peer: ${failures.length} failure(s)`);
process.exit(failures.length === 0 ? 0 : 1);
