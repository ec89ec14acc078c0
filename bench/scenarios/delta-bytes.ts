/**
 * Bytes on the wire for a one-resource change, SotW vs Delta, at N proxies (default 1,000): every
 * proxy holds one SotW stream (one load generator) and one Delta stream (a second one) to the same
 * server; then service svc-0 gets one more replica (a new Workload in its own file). That changes
 * exactly one cluster, `outbound:svc-0...`, in the config of every proxy that calls svc-0, and
 * nothing else. Per affected proxy: bytes received for the change over SotW (the whole CDS again)
 * and over Delta (the one cluster). Target: Delta <= 1/10 of SotW.
 *
 * Also shown: the same two figures counting the resources' bytes alone (no envelope). Their ratio
 * is the floor of the ratio on the wire for this change: the changed cluster's share of the CDS.
 *
 *   npm run bench -- delta-bytes [proxies=1000] [--outbounds=8]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoadGenerator, type LoadGenerator, type ReceivedSince } from '../loadgen/controller.ts';
import { namespaceOf, nodeIdOf, serviceName, type MeshSize } from '../mesh/generate-mesh.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { meshOf, withFleet } from '../lib/fleet-run.ts';
import { atMost, round, type Row, type ScenarioResult } from '../lib/result.ts';

const CHANGED_SERVICE = 0;
const EXTRA_FILE = 'extra-replica.yaml';
const SETTLE_MS = 1000;

export async function run(args: string[]): Promise<ScenarioResult> {
  const n = sizeArg(args, 0, 1000);
  const size: MeshSize = { ...meshOf(n), outbounds: Number(option(args, 'outbounds', '8')) };
  const affected = callersOf(CHANGED_SERVICE, size).map((w) => nodeIdOf(w, size));
  const affectedSet = new Set(affected);
  return withFleet({ size, transport: 'sotw' }, async (f) => {
    let delta: LoadGenerator | undefined;
    try {
      delta = await startLoadGenerator();
      const c = await delta.connect({ address: f.server.xdsAddress, nodeIds: f.nodeIds, transport: 'delta' });
      if (c.failed > 0) throw new Error(`${c.failed} Delta streams not held: ${c.errors.join('; ')}`);
      const deltaUsage0 = await delta.usage();

      const since = f.mesh.write(EXTRA_FILE, extraReplica(size));
      const query = { since, require: ['CDS' as const], nodeIds: affected, timeoutMs: 120_000 };
      const [sotwDone, deltaDone] = await Promise.all([f.loadgen.converged(query), delta.converged(query)]);
      await f.server.waitForLog('config change applied', since, 120_000);
      await sleep(SETTLE_MS);
      const sotw = await f.loadgen.received(since);
      const dlt = await delta.received(since);

      const perAffected = (m: Record<string, number>) => mean(affected.map((id) => m[id] ?? 0));
      const sotwBytes = perAffected(sotw.bytesByNode);
      const deltaBytes = perAffected(dlt.bytesByNode);
      const ratio = round(deltaBytes / sotwBytes, 3);
      const sotwPayload = perAffected(sotw.payloadBytesByNode);
      const deltaPayload = perAffected(dlt.payloadBytesByNode);
      const rows: Row[] = [
        { figure: 'affected proxies (call svc-0)', unit: 'proxies', ours: affected.length },
        { figure: 'SotW bytes per affected proxy', unit: 'bytes', ours: round(sotwBytes) },
        { figure: 'Delta bytes per affected proxy', unit: 'bytes', ours: round(deltaBytes) },
        { figure: 'Delta / SotW bytes', unit: 'ratio', ours: ratio, ...atMost(ratio, 0.1) },
        { figure: 'SotW resource bytes only (per proxy)', unit: 'bytes', ours: round(sotwPayload) },
        { figure: 'Delta resource bytes only (per proxy)', unit: 'bytes', ours: round(deltaPayload) },
        { figure: 'Delta / SotW, resource bytes only (floor)', unit: 'ratio', ours: round(deltaPayload / sotwPayload, 3) },
      ];
      const sotwShare = await f.loadgenShare();
      const u = await delta.usage();
      const cpu = sotwShare.cpuSeconds + u.cpuSeconds - deltaUsage0.cpuSeconds;
      return {
        scenario: 'delta-bytes',
        command: commandLine('delta-bytes', args),
        rows,
        loadGenerator: { cpuSeconds: round(cpu, 2), wallSeconds: sotwShare.wallSeconds, share: round(cpu / sotwShare.wallSeconds, 3) },
        notes: [
          `mesh: ${size.workloads} workloads, ${size.services} services, ${size.outbounds} outbounds each; every proxy holds a SotW stream (one load generator) and a Delta stream (another) to one server`,
          `change: a new replica of ${serviceName(CHANGED_SERVICE)} (${EXTRA_FILE}), which changes the one cluster of ${serviceName(CHANGED_SERVICE)} in the config of each of its ${affected.length} callers`,
          'bytes: serialized DiscoveryResponse / DeltaDiscoveryResponse messages (gRPC and HTTP/2 framing excluded) received after the write, summed per proxy; "resource bytes only": the resources\' Any messages in them',
          ...checks(affectedSet, sotw, dlt, sotwDone.missing.length, deltaDone.missing.length),
          'xDS is plaintext (serve --insecure-xds)',
        ],
        details: { sotw: sotw.byType, delta: dlt.byType, affected: affected.length },
      };
    } finally {
      await delta?.stop();
    }
  });
}

/** What makes the comparison valid, checked: who got pushes, of what, with how many resources. */
function checks(affected: Set<string>, sotw: ReceivedSince, delta: ReceivedSince, sotwMissing: number, deltaMissing: number): string[] {
  const out: string[] = [];
  const others = (r: ReceivedSince) => Object.keys(r.byNode).filter((id) => !affected.has(id)).length;
  const types = (r: ReceivedSince) => Object.keys(r.byType).join(', ') || 'none';
  const perProxy = (r: ReceivedSince) => round(mean([...affected].map((id) => r.resourcesByNode[id] ?? 0)), 2);
  out.push(`check: Delta carried ${perProxy(delta)} resource(s) per affected proxy (one is a clean one-resource change), SotW ${perProxy(sotw)}; types pushed: SotW ${types(sotw)}, Delta ${types(delta)}`);
  if (others(sotw) + others(delta) > 0) out.push(`check FAILED: unaffected proxies got pushes (SotW ${others(sotw)}, Delta ${others(delta)})`);
  if (sotwMissing + deltaMissing > 0) out.push(`check FAILED: affected proxies without a new CDS (SotW ${sotwMissing}, Delta ${deltaMissing})`);
  return out;
}

/** Workloads whose service calls service `t` (generate-mesh: service s calls s+1 .. s+outbounds). */
function callersOf(t: number, size: MeshSize): number[] {
  const out: number[] = [];
  for (let w = 0; w < size.workloads; w++) {
    const s = w % size.services;
    for (let j = 0; j < size.outbounds; j++) {
      if ((s + 1 + j) % size.services === t) {
        out.push(w);
        break;
      }
    }
  }
  return out;
}

/** One more Workload of service `CHANGED_SERVICE`, on an address no generated workload uses. */
function extraReplica(size: MeshSize): string {
  const svc = serviceName(CHANGED_SERVICE);
  return `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: extra-replica, namespace: ${namespaceOf(CHANGED_SERVICE, size)}, labels: {app: ${svc}}}
spec:
  serviceAccount: ${svc}
  address: 10.255.255.254
  inbound:
    - {service: ${svc}, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: ${svc}, port: tcp-data, listenPort: 18090, targetPort: 9090}
`;
}

const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
