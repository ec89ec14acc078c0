/** The xDS series of /metrics: connected proxies, sync state, pushes, NACKs, push latency and convergence. */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ProxyStatus } from '../xds/proxy-status.ts';
import { TYPE_URL, shortTypeName } from '../xds/type-urls.ts';
import type { XdsObserver } from '../xds/xds-observer.ts';
import { REJECT_REASONS } from '../xds/xds-limits.ts';
import { followTotals, type ScrapeRegistry } from './scrape-registry.ts';

/** What /metrics reads from the ADS server. */
export interface AdsMetricsSource {
  unknownTypeRequests: number;
  status(): ProxyStatus[];
  /** Streams refused or closed by reason since start (xds-limits.ts). */
  rejections(): Partial<Record<string, number>>;
  /** Pushes, NACKs and their timings as they happen; returns the unsubscribe function. */
  observe(observer: XdsObserver): () => void;
}

const SYNC_STATES = ['SYNCED', 'STALE', 'NACKED', 'NOT SENT'] as const;
/** The `type` label values: the types meshplane serves, and `other` for any type URL a client asks for. */
const TYPES = ['LDS', 'CDS', 'SDS', 'EDS', 'RDS'] as const;
const SERVED = new Set<string>(Object.values(TYPE_URL));
/**
 * 1 ms to 30 s: a push to a local proxy takes about a millisecond; a config change reaching
 * thousands of proxies, or a proxy that is slow to ACK, takes seconds.
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** LDS/CDS/SDS/EDS/RDS, or `other`: a client-chosen type URL must not mint new series. */
export function typeLabel(typeUrl: string): string {
  return SERVED.has(typeUrl) ? shortTypeName(typeUrl) : 'other';
}

/** Registers the xDS series; returns the function that stops observing the server. */
export function registerXdsMetrics(registry: ScrapeRegistry, ads: AdsMetricsSource): () => void {
  const registers = [registry];
  const status = registry.perScrape(() => ads.status());
  new Gauge({ name: 'meshplane_xds_connected_streams', help: 'ADS streams currently open (authenticated)', registers, collect() { this.set(status().length); } });
  new Gauge({
    name: 'meshplane_xds_connected_proxies',
    help: 'connected ADS streams by transport (sotw, delta)',
    labelNames: ['transport'],
    registers,
    collect() {
      const streams = status();
      for (const transport of ['sotw', 'delta']) this.set({ transport }, streams.filter((s) => s.transport === transport).length);
    },
  });
  new Gauge({
    name: 'meshplane_xds_proxy_sync',
    help: 'connected proxies per resource type and sync state (SYNCED, STALE, NACKED, NOT SENT), as istioctl proxy-status',
    labelNames: ['type', 'state'],
    registers,
    collect() {
      this.reset();
      for (const s of status()) for (const t of s.types) this.inc({ type: typeLabel(t.typeUrl), state: t.state });
      for (const state of SYNC_STATES) for (const type of ['LDS', 'CDS', 'SDS']) this.inc({ type, state }, 0);
    },
  });
  new Gauge({
    name: 'meshplane_xds_proxy_nacked',
    help: '1 for each proxy and resource type whose latest response was rejected (NACKed); it keeps its last good config',
    labelNames: ['node', 'type'],
    registers,
    collect() {
      this.reset();
      for (const s of status()) for (const t of s.types) if (t.state === 'NACKED') this.set({ node: s.nodeId, type: typeLabel(t.typeUrl) }, 1);
    },
  });

  const pushes = new Counter({ name: 'meshplane_xds_pushes_total', help: 'DiscoveryResponses written (SotW and Delta), by type', labelNames: ['type'], registers });
  const nacks = new Counter({ name: 'meshplane_xds_nacks_total', help: 'responses proxies rejected (NACKed), by type', labelNames: ['type'], registers });
  const pushLatency = new Histogram({
    name: 'meshplane_xds_push_latency_seconds',
    help: 'from a snapshot change of a proxy to the write of the response carrying it to the proxy, by type',
    labelNames: ['type'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const convergence = new Histogram({
    name: 'meshplane_xds_proxy_convergence_seconds',
    help: 'from a snapshot change of a proxy to its ACK of the response carrying it, by type (NACKed changes excluded)',
    labelNames: ['type'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  for (const type of TYPES) {
    pushes.inc({ type }, 0);
    nacks.inc({ type }, 0);
    pushLatency.zero({ type });
    convergence.zero({ type });
  }
  const unobserve = ads.observe({
    pushSent: (typeUrl) => pushes.inc({ type: typeLabel(typeUrl) }),
    nackReceived: (typeUrl) => nacks.inc({ type: typeLabel(typeUrl) }),
    pushLatency: (typeUrl, seconds) => pushLatency.observe({ type: typeLabel(typeUrl) }, seconds),
    converged: (typeUrl, seconds) => convergence.observe({ type: typeLabel(typeUrl) }, seconds),
  });

  followTotals(
    registry,
    {
      name: 'meshplane_xds_rejected_total',
      help: 'xDS streams refused or closed for a hostile or broken client, by reason (a limit or rule; see the README, "The xDS channel")',
      labelNames: ['reason'],
    },
    () => {
      const now = ads.rejections();
      return [...new Set([...REJECT_REASONS, ...Object.keys(now)])].map((reason) => [{ reason }, now[reason] ?? 0]);
    },
  );
  followTotals(
    registry,
    { name: 'meshplane_xds_unknown_type_requests_total', help: 'first requests for a type URL meshplane does not serve (answered with no resources)' },
    () => [[{}, ads.unknownTypeRequests]],
  );
  return unobserve;
}
