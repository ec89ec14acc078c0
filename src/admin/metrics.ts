/**
 * Prometheus /metrics: the xDS series (xds-metrics.ts), config reloads, and the CA: issuance,
 * rotation phase and every expiry an alert should watch. The README, "Metrics and logs", lists them all.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { ScrapeRegistry, followTotals } from './scrape-registry.ts';
import { registerXdsMetrics, type AdsMetricsSource } from './xds-metrics.ts';

export type { AdsMetricsSource } from './xds-metrics.ts';

/** What the CA reports: counters since start, the rotation phase, and expiries (Unix seconds). */
export interface CaMetricsSource {
  issued: number;
  failed: number;
  phase: string;
  trustedRoots: number;
  certs: { nodeId: string; notAfter: number }[];
  /** The xDS root (`purpose: xds`, pinned by every bootstrap) and the workload roots in the trust bundle. */
  roots: { purpose: 'xds' | 'workload'; fingerprint: string; notAfter: number }[];
  /** The CA signing workload certificates now: a workload root, or the intermediate of Mesh spec.ca.intermediate. */
  signerNotAfter: number;
}

export interface MetricsSources {
  ads: AdsMetricsSource;
  cache: { nodeIds(): string[] };
  /** The last config load: applied (ok) or rejected, and when (ISO time). */
  lastLoad: () => { ok: boolean; at: string };
  ca: () => CaMetricsSource;
  /** notAfter (Unix seconds) of the xDS server certificate; omit it with --insecure-xds (no series then). */
  xdsServerCertExpiry?: () => number;
  /** The sidecars' connection reports (edges/connection-reports.ts). */
  reports?: () => ReportMetricsSource;
}

/** Connection reports: totals since start, open streams, distinct callers seen in the last hour. */
export interface ReportMetricsSource {
  reports: number;
  rejectedStreams: number;
  openStreams: number;
  callersLastHour: { mtls: number; plaintext: number };
}

export type ConfigReloadResult = 'applied' | 'rejected';

export interface Metrics {
  registry: Registry;
  configReloads: Counter<'result'>;
  /** Stops observing the ADS server. */
  close(): void;
}

const PHASES = ['stable', 'trust-both', 'issue-next'] as const;
const RELOAD_RESULTS: readonly ConfigReloadResult[] = ['applied', 'rejected'];

export function createMetrics({ ads, cache, lastLoad, ca: readCa, xdsServerCertExpiry, reports: readReports }: MetricsSources): Metrics {
  const registry = new ScrapeRegistry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'meshplane_process_' });
  const unobserve = registerXdsMetrics(registry, ads);
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({ name, help, registers, collect() { this.set(value()); } });
  gauge('meshplane_snapshots', 'proxies with a snapshot (sidecar and proxyless workloads in the config)', () => cache.nodeIds().length);

  const configReloads = new Counter({ name: 'meshplane_config_reloads_total', help: 'config changes seen, by result: applied, or rejected (the last good config keeps serving)', labelNames: ['result'], registers });
  for (const result of RELOAD_RESULTS) configReloads.inc({ result }, 0);
  gauge('meshplane_config_last_load_ok', '1 if the last config change was applied, 0 if it was rejected', () => (lastLoad().ok ? 1 : 0));
  gauge('meshplane_config_last_reload_timestamp_seconds', 'when the config was last loaded, applied or rejected (Unix time)', () => unixSeconds(lastLoad().at));

  const ca = registry.perScrape(readCa);
  followTotals(registry, { name: 'meshplane_ca_certs_issued_total', help: 'workload certificates issued' }, () => [[{}, ca().issued]]);
  followTotals(registry, { name: 'meshplane_ca_cert_issue_failures_total', help: 'workload certificate issuances that failed' }, () => [[{}, ca().failed]]);
  gauge('meshplane_ca_trusted_roots', 'roots in the workload trust bundle (2 during a root rotation)', () => ca().trustedRoots);
  new Gauge({
    name: 'meshplane_ca_root_rotation_phase',
    help: 'the root rotation phase: 1 for the current one (stable, trust-both, issue-next)',
    labelNames: ['phase'],
    registers,
    collect() {
      const current = ca().phase;
      for (const phase of PHASES) this.set({ phase }, phase === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'meshplane_workload_cert_expiry_timestamp_seconds',
    help: 'notAfter of the current certificate of each workload (node id), as a Unix time',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const c of ca().certs) this.set({ node: c.nodeId }, c.notAfter);
    },
  });
  new Gauge({
    name: 'meshplane_ca_root_expiry_timestamp_seconds',
    help: 'notAfter of each root, as a Unix time: purpose "xds" (the state dir root every bootstrap pins) or "workload" (in the trust bundle)',
    labelNames: ['purpose', 'fingerprint'],
    registers,
    collect() {
      this.reset();
      for (const r of ca().roots ?? []) this.set({ purpose: r.purpose, fingerprint: r.fingerprint }, r.notAfter);
    },
  });
  gauge('meshplane_ca_signer_expiry_timestamp_seconds', 'notAfter of the CA signing workload certificates now (no certificate outlives it), as a Unix time', () => ca().signerNotAfter);
  if (xdsServerCertExpiry) {
    gauge('meshplane_xds_server_cert_expiry_timestamp_seconds', 'notAfter of the xDS server certificate, as a Unix time (issued at each start)', xdsServerCertExpiry);
  }
  if (readReports) registerReportMetrics(registry, readReports);
  return { registry, configReloads, close: unobserve };
}

function registerReportMetrics(registry: ScrapeRegistry, read: () => ReportMetricsSource): void {
  const reports = registry.perScrape(read);
  const registers = [registry];
  followTotals(registry, { name: 'meshplane_connection_reports_total', help: 'inbound requests and connections the sidecars reported (gRPC access log service)' }, () => [[{}, reports().reports]]);
  followTotals(registry, { name: 'meshplane_connection_report_streams_rejected_total', help: 'report streams refused: no node or a foreign log name, a certificate for another node, or too many streams' }, () => [[{}, reports().rejectedStreams]]);
  new Gauge({ name: 'meshplane_connection_report_streams', help: 'report streams open now (about one per sidecar with inbound traffic)', registers, collect() { this.set(reports().openStreams); } });
  new Gauge({
    name: 'meshplane_inbound_callers',
    help: 'distinct callers (per workload and inbound port) seen in the last hour, by transport: plaintext ones would be refused under STRICT',
    labelNames: ['transport'],
    registers,
    collect() {
      const { mtls, plaintext } = reports().callersLastHour;
      this.set({ transport: 'mtls' }, mtls);
      this.set({ transport: 'plaintext' }, plaintext);
    },
  });
}

/** 0 for a time not known. */
function unixSeconds(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : 0;
}
