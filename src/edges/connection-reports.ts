/**
 * The STRICT-readiness feature as the control plane wires it: the edge store, the access log
 * service the sidecars report to, and the two views of it, `/debug/edges` and `/debug/advise-strict`
 * (what `meshplane advise strict` prints). Queries name a scope and a window: `?namespace=shop`,
 * `?workload=shop/backend-1`, `?since=1h` (default 1h).
 */
import type * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { MeshplaneError } from '../errors.ts';
import { formatDuration, parseDuration } from '../model/formats.ts';
import type { MeshModel } from '../model/types.ts';
import { qualifiedName } from '../model/types.ts';
import type { ProxyStatus } from '../xds/proxy-status.ts';
import { accessLogHandlers, accessLogServiceDefinition, type ReportStats } from './access-log-service.ts';
import { adviseStrict, type StrictAdvice } from './advise-strict.ts';
import { EDGE_RETENTION_MS, EdgeStore } from './edge-store.ts';
import type { StrictScope } from './simulate-strict.ts';

export const DEFAULT_WINDOW = '1h';
const HOUR_MS = 3600_000;

export interface ConnectionReportsOptions {
  stateDir: string;
  clock: Clock;
  logger: Logger;
  /** Undefined with --insecure-xds: reports are then taken from anyone, like xDS itself. */
  authenticate?: (nodeId: string, peerCertificate: PeerCertificate | undefined) => boolean;
}

/** What the views read from the running control plane. */
export interface ServingState {
  model: MeshModel;
  proxies: readonly ProxyStatus[];
}

/** What /metrics shows of the reports. */
export interface ReportMetrics extends ReportStats {
  /** Distinct callers (per workload and port) seen in the last hour, by transport. */
  callersLastHour: { mtls: number; plaintext: number };
}

export class ConnectionReports {
  readonly #stats: ReportStats = { reports: 0, rejectedStreams: 0, openStreams: 0 };

  private constructor(
    readonly store: EdgeStore,
    private readonly o: ConnectionReportsOptions,
  ) {}

  static async open(o: ConnectionReportsOptions): Promise<ConnectionReports> {
    return new ConnectionReports(await EdgeStore.open(o), o);
  }

  /** To add to the xDS gRPC server before it listens. */
  service(): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
    const authenticate = this.o.authenticate ?? (() => true);
    return { definition: accessLogServiceDefinition(), handlers: accessLogHandlers({ store: this.store, stats: this.#stats, authenticate, logger: this.o.logger }) };
  }

  metrics(): ReportMetrics {
    const recent = this.store.edges({ since: this.o.clock.now() - HOUR_MS });
    const mtls = recent.filter((e) => e.mtls).length;
    return { ...this.#stats, callersLastHour: { mtls, plaintext: recent.length - mtls } };
  }

  /** `/debug/edges`: every caller seen in the window, per called workload and port. */
  edges(query: URLSearchParams, model: MeshModel) {
    const { since, nodes } = this.#query(query, model);
    const byNode = new Map(model.workloads.map((w) => [qualifiedName(w.metadata), w]));
    return {
      since: new Date(since).toISOString(),
      edges: this.store.edges({ since, ...(nodes && { nodes }) }).map((e) => {
        const w = byNode.get(e.node);
        const port = w?.inbound.find((p) => p.listenPort === e.listenPort);
        return {
          to: w ? `${w.metadata.namespace}/${w.metadata.name}` : e.node,
          port: port ? { targetPort: port.targetPort, listenPort: port.listenPort, service: `${port.service}:${port.port}` } : { listenPort: e.listenPort },
          from: e.mtls ? { mtls: true, identity: e.peer, address: e.peerAddress } : { mtls: false, address: e.peer },
          count: e.count,
          refused: e.refused,
          firstSeen: new Date(e.firstSeen).toISOString(),
          lastSeen: new Date(e.lastSeen).toISOString(),
        };
      }),
    };
  }

  /** `/debug/advise-strict`: the report behind `meshplane advise strict`. */
  advise(query: URLSearchParams, state: ServingState): StrictAdvice {
    const { since, scope } = this.#query(query, state.model);
    const connectedSince = new Map<string, number>();
    for (const p of state.proxies) {
      const at = Date.parse(p.connectedAt);
      connectedSince.set(p.nodeId, Math.min(at, connectedSince.get(p.nodeId) ?? at));
    }
    return adviseStrict({ model: state.model, scope, since, edges: this.store.edges({ since }), connectedSince });
  }

  close(): Promise<void> {
    return this.store.close();
  }

  #query(query: URLSearchParams, model: MeshModel): { since: number; scope: StrictScope; nodes?: Set<string> } {
    const text = query.get('since') ?? DEFAULT_WINDOW;
    const seconds = parseDuration(text);
    if (seconds === undefined || seconds <= 0) throw usage(`since=${text} is not a positive duration: use e.g. 30m, 1h or 24h`);
    if (seconds * 1000 > EDGE_RETENTION_MS) throw usage(`since=${text} is longer than the ${formatDuration(EDGE_RETENTION_MS / 1000)} reports are kept`);
    const since = this.o.clock.now() - seconds * 1000;
    const namespace = query.get('namespace');
    const workload = query.get('workload');
    if (namespace !== null && workload !== null) throw usage('give namespace or workload, not both');
    if (workload !== null) {
      const [ns, name] = workload.split('/');
      const w = model.workloads.find((x) => x.metadata.namespace === ns && x.metadata.name === name);
      if (!ns || !name || !w) throw usage(`no workload ${workload} in the config; use NAMESPACE/NAME, one of: ${model.workloads.map((x) => `${x.metadata.namespace}/${x.metadata.name}`).join(', ')}`);
      return { since, scope: { kind: 'workload', namespace: ns, name }, nodes: new Set([qualifiedName(w.metadata)]) };
    }
    if (namespace !== null) {
      const inNamespace = model.workloads.filter((x) => x.metadata.namespace === namespace);
      if (inNamespace.length === 0) throw usage(`no workloads in namespace ${namespace}; namespaces with workloads: ${[...new Set(model.workloads.map((x) => x.metadata.namespace))].sort().join(', ')}`);
      return { since, scope: { kind: 'namespace', namespace }, nodes: new Set(inNamespace.map((x) => qualifiedName(x.metadata))) };
    }
    return { since, scope: { kind: 'mesh' } };
  }
}

const usage = (message: string) => new MeshplaneError('USAGE', message);
