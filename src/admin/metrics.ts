import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProxyStatus } from '../xds/proxy-status.ts';
import { shortTypeName } from '../xds/type-urls.ts';
import { REJECT_REASONS } from '../xds/xds-limits.ts';

interface AdsCounters {
  pushes: number;
  nacks: number;
  unknownTypeRequests: number;
  status(): ProxyStatus[];
  /** Streams refused or closed by reason since start (xds-limits.ts). */
  rejections(): Partial<Record<string, number>>;
}

const SYNC_STATES = ['SYNCED', 'STALE', 'NACKED', 'NOT SENT'] as const;

/** What the CA reports: counters since start, the rotation phase, each workload's expiry. */
export interface CaMetricsSource {
  issued: number;
  failed: number;
  phase: string;
  trustedRoots: number;
  certs: { nodeId: string; notAfter: number }[];
}

const PHASES = ['stable', 'trust-both', 'issue-next'] as const;

export interface Metrics {
  registry: Registry;
  configReloads: Counter<'result'>;
}

/** Prometheus metrics: pushes, NACKs, connected proxies, snapshots, config reloads, certificates. */
export function createMetrics(ads: AdsCounters, cache: { nodeIds(): string[] }, lastLoad: () => { ok: boolean }, ca: () => CaMetricsSource): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meshplane_process_' });
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  gauge('meshplane_xds_connected_streams', 'ADS streams currently open', () => ads.status().length);
  gauge('meshplane_xds_pushes', 'DiscoveryResponses sent since start', () => ads.pushes);
  gauge('meshplane_xds_nacks', 'NACKs received since start', () => ads.nacks);
  new Gauge({
    name: 'meshplane_xds_connected_proxies',
    help: 'connected ADS streams by transport (sotw, delta)',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const streams = ads.status();
      for (const transport of ['sotw', 'delta']) this.set({ transport }, streams.filter((s) => s.transport === transport).length);
    },
  });
  new Gauge({
    name: 'meshplane_xds_proxy_sync',
    help: 'connected proxies per resource type and sync state (SYNCED, STALE, NACKED, NOT SENT), as istioctl proxy-status',
    labelNames: ['type', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of ads.status()) for (const t of s.types) this.inc({ type: shortTypeName(t.typeUrl), state: t.state });
      for (const state of SYNC_STATES) for (const type of ['LDS', 'CDS', 'SDS']) this.inc({ type, state }, 0);
    },
  });
  new Gauge({
    name: 'meshplane_xds_proxy_nacked',
    help: '1 for each proxy and resource type whose latest response was rejected (NACKed); it keeps its last good config',
    labelNames: ['node', 'type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of ads.status()) for (const t of s.types) if (t.state === 'NACKED') this.set({ node: s.nodeId, type: shortTypeName(t.typeUrl) }, 1);
    },
  });
  gauge('meshplane_snapshots', 'proxies with a snapshot (sidecar workloads in the config)', () => cache.nodeIds().length);
  gauge('meshplane_config_last_load_ok', '1 if the last config change was applied, 0 if it was rejected', () => (lastLoad().ok ? 1 : 0));
  gauge('meshplane_ca_certs_issued_total', 'workload certificates issued since start', () => ca().issued);
  gauge('meshplane_ca_cert_issue_failures_total', 'workload certificate issuances that failed since start', () => ca().failed);
  gauge('meshplane_ca_trusted_roots', 'roots in the workload trust bundle (2 during a root rotation)', () => ca().trustedRoots);
  new Gauge({
    name: 'meshplane_ca_root_rotation_phase',
    help: 'the root rotation phase: 1 for the current one (stable, trust-both, issue-next)',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const current = ca().phase;
      for (const phase of PHASES) this.set({ phase }, phase === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'meshplane_workload_cert_expiry_timestamp_seconds',
    help: 'notAfter of the current certificate of each workload (node id), as a Unix time',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of ca().certs) this.set({ node: c.nodeId }, c.notAfter);
    },
  });
  const configReloads = new Counter({ name: 'meshplane_config_reloads_total', help: 'config changes seen, by result', labelNames: ['result'], registers: [registry] });
  // Counters fed from the server's totals: each scrape adds what happened since the previous one.
  const seen = new Map<string, number>();
  new Counter({
    name: 'meshplane_xds_rejected_total',
    help: 'xDS streams refused or closed for a hostile or broken client, by reason (a limit or rule; see the README, "The xDS channel")',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const now = ads.rejections();
      for (const reason of new Set([...REJECT_REASONS, ...Object.keys(now)])) {
        const total = now[reason] ?? 0;
        this.inc({ reason }, total - (seen.get(reason) ?? 0));
        seen.set(reason, total);
      }
    },
  });
  new Counter({
    name: 'meshplane_xds_unknown_type_requests_total',
    help: 'first requests for a type URL meshplane does not serve (answered with no resources)',
    registers: [registry],
    collect() {
      this.inc(ads.unknownTypeRequests - (seen.get('unknown_types') ?? 0));
      seen.set('unknown_types', ads.unknownTypeRequests);
    },
  });
  return { registry, configReloads };
}
