/**
 * "Who would break if this went STRICT?" For every inbound port of the workloads in scope: the
 * mode now, the mode after the change (simulate-strict.ts), and the callers the sidecar reported
 * in the window, split into mTLS callers (unaffected) and plaintext callers (refused once STRICT).
 * A port is safe to enforce only when no plaintext caller was seen on it; a sidecar that was not
 * reporting gives no evidence either way, so its verdict is UNKNOWN, never SAFE.
 */
import type { MtlsMode, MeshModel, Workload } from '../model/types.ts';
import { qualifiedName } from '../model/types.ts';
import { mtlsForPort, resolveMtls } from '../plan/resolve-mtls.ts';
import type { Edge } from './edge-store.ts';
import { simulateStrict, type StrictScope } from './simulate-strict.ts';

export type Verdict = 'SAFE' | 'UNSAFE' | 'UNKNOWN';

export interface PlaintextCaller {
  address: string;
  /** `namespace/name` of the workloads at that address, if any. */
  workloads: string[];
  count: number;
  /** Of `count`, connections already refused (the port is STRICT now). */
  refused: number;
  firstSeen: string;
  lastSeen: string;
}

export interface MtlsCaller {
  identity: string;
  count: number;
  lastSeen: string;
}

export interface PortAdvice {
  targetPort: number;
  listenPort: number;
  service: string;
  modeNow: MtlsMode;
  modeAfter: MtlsMode;
  /** The policy that decides the mode after the change, when one does. */
  decidedBy?: string;
  plaintextCallers: PlaintextCaller[];
  mtlsCallers: MtlsCaller[];
  verdict: Verdict;
  reason: string;
}

export interface WorkloadAdvice {
  workload: string;
  /** When the sidecar's current xDS stream connected; absent when it is not connected. */
  connectedSince?: string;
  verdict: Verdict;
  reason: string;
  ports: PortAdvice[];
}

export interface StrictAdvice {
  scope: string;
  change: string;
  since: string;
  verdict: Verdict;
  summary: string;
  workloads: WorkloadAdvice[];
}

export interface AdviseInput {
  model: MeshModel;
  scope: StrictScope;
  /** Edges seen since `since` (ms). */
  edges: readonly Edge[];
  since: number;
  /** Node id -> when its xDS stream connected (ms), for connected sidecars. */
  connectedSince: ReadonlyMap<string, number>;
}

export function adviseStrict(input: AdviseInput): StrictAdvice {
  const { model, scope } = input;
  const inScope = model.workloads.filter((w) =>
    scope.kind === 'mesh' ? true : scope.kind === 'namespace' ? w.metadata.namespace === scope.namespace : w.metadata.namespace === scope.namespace && w.metadata.name === scope.name,
  );
  const target = scope.kind === 'workload' ? inScope[0] : undefined;
  const change = simulateStrict(model.peerAuthentications, model.mesh.rootNamespace, scope, target);
  const byAddress = workloadsByAddress(model.workloads);
  const workloads = inScope.map((w) => adviseWorkload(w, input, change.policies, byAddress));
  const unsafe = workloads.flatMap((w) => w.ports.filter((p) => p.verdict === 'UNSAFE').map((p) => ({ w, p })));
  const unknown = workloads.filter((w) => w.verdict === 'UNKNOWN');
  const verdict: Verdict = unsafe.length > 0 ? 'UNSAFE' : unknown.length > 0 ? 'UNKNOWN' : 'SAFE';
  const summary =
    verdict === 'UNSAFE'
      ? `NOT safe to enforce: ${unsafe.map(({ w, p }) => `${p.plaintextCallers.map(callerName).join(', ')} -> ${w.workload}:${p.targetPort}`).join('; ')} would be refused`
      : verdict === 'UNKNOWN'
        ? `cannot tell: no reports from ${unknown.map((w) => w.workload).join(', ')} (not connected); no plaintext callers seen elsewhere`
        : 'safe to enforce: no plaintext callers seen on any port that would become STRICT';
  return { scope: scopeName(scope), change: change.description, since: new Date(input.since).toISOString(), verdict, summary, workloads };
}

function adviseWorkload(w: Workload, input: AdviseInput, policiesAfter: MeshModel['peerAuthentications'], byAddress: ReadonlyMap<string, string[]>): WorkloadAdvice {
  const workload = `${w.metadata.namespace}/${w.metadata.name}`;
  if (!w.sidecar) return { workload, verdict: 'SAFE', reason: 'no sidecar: PeerAuthentication does not apply to it (its own calls are listed where it is a caller)', ports: [] };
  const subject = { namespace: w.metadata.namespace, labels: w.metadata.labels };
  const now = resolveMtls(input.model.peerAuthentications, input.model.mesh.rootNamespace, subject);
  const after = resolveMtls(policiesAfter, input.model.mesh.rootNamespace, subject);
  const node = qualifiedName(w.metadata);
  const edges = input.edges.filter((e) => e.node === node);
  const connected = input.connectedSince.get(node);
  const ports = w.inbound.map((port): PortAdvice => {
    const modeNow = mtlsForPort(now, port.targetPort).mode;
    const decided = mtlsForPort(after, port.targetPort);
    const seen = edges.filter((e) => e.listenPort === port.listenPort);
    const plaintextCallers = seen.filter((e) => !e.mtls).map((e) => plaintextCaller(e, byAddress));
    const mtlsCallers = seen.filter((e) => e.mtls).map((e) => ({ identity: e.peer, count: e.count, lastSeen: iso(e.lastSeen) }));
    const base = { targetPort: port.targetPort, listenPort: port.listenPort, service: `${port.service}:${port.port}`, modeNow, modeAfter: decided.mode, ...(decided.policy && { decidedBy: decided.policy }), plaintextCallers, mtlsCallers };
    if (w.proxyless && decided.mode === 'STRICT') return { ...base, verdict: 'UNSAFE', reason: 'a proxyless gRPC workload cannot terminate mTLS: the config would be rejected' };
    if (decided.mode !== 'STRICT') return { ...base, verdict: 'SAFE', reason: `unchanged: stays ${decided.mode}${decided.policy ? ` (decided by ${decided.policy}, ${decided.scope} scope)` : ''}` };
    if (modeNow === 'STRICT') return { ...base, verdict: 'SAFE', reason: 'already STRICT' };
    const callers = plaintextCallers.filter((c) => c.count > c.refused);
    if (callers.length > 0) return { ...base, verdict: 'UNSAFE', reason: `${callers.length} plaintext caller(s) seen: they would be refused` };
    return { ...base, verdict: 'SAFE', reason: `no plaintext callers seen${mtlsCallers.length > 0 ? `; ${mtlsCallers.length} mTLS caller(s) unaffected` : ''}` };
  });
  const coverage = connected === undefined ? undefined : iso(connected);
  if (ports.some((p) => p.verdict === 'UNSAFE')) return { workload, ...(coverage && { connectedSince: coverage }), verdict: 'UNSAFE', reason: 'plaintext callers would be refused', ports };
  const affected = ports.some((p) => p.modeNow !== 'STRICT' && p.modeAfter === 'STRICT');
  if (affected && connected === undefined && edges.length === 0) {
    return { workload, verdict: 'UNKNOWN', reason: 'its sidecar is not connected and reported nothing in the window: no evidence either way', ports };
  }
  const partial = connected !== undefined && connected > input.since ? ` (reporting only since ${iso(connected)}, after the window began)` : '';
  return { workload, ...(coverage && { connectedSince: coverage }), verdict: 'SAFE', reason: affected ? `no plaintext callers seen${partial}` : 'no port changes mode', ports };
}

function plaintextCaller(e: Edge, byAddress: ReadonlyMap<string, string[]>): PlaintextCaller {
  return { address: e.peer, workloads: byAddress.get(e.peer) ?? [], count: e.count, refused: e.refused, firstSeen: iso(e.firstSeen), lastSeen: iso(e.lastSeen) };
}

function workloadsByAddress(workloads: readonly Workload[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const w of workloads) map.set(w.address, [...(map.get(w.address) ?? []), `${w.metadata.namespace}/${w.metadata.name}`]);
  return map;
}

export const callerName = (c: PlaintextCaller) => (c.workloads.length > 0 ? `${c.workloads.join('|')} (${c.address})` : c.address);
const iso = (ms: number) => new Date(ms).toISOString();

export function scopeName(scope: StrictScope): string {
  return scope.kind === 'mesh' ? 'the whole mesh' : scope.kind === 'namespace' ? `namespace ${scope.namespace}` : `workload ${scope.namespace}/${scope.name}`;
}
