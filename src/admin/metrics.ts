import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

interface AdsCounters {
  pushes: number;
  nacks: number;
  status(): { nodeId: string }[];
}

export interface Metrics {
  registry: Registry;
  configReloads: Counter<'result'>;
}

/** Prometheus metrics: pushes, NACKs, connected proxies, snapshots, config reloads. */
export function createMetrics(ads: AdsCounters, cache: { nodeIds(): string[] }, lastLoad: () => { ok: boolean }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meshplane_process_' });
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  gauge('meshplane_xds_connected_streams', 'ADS streams currently open', () => ads.status().length);
  gauge('meshplane_xds_pushes', 'DiscoveryResponses sent since start', () => ads.pushes);
  gauge('meshplane_xds_nacks', 'NACKs received since start', () => ads.nacks);
  gauge('meshplane_snapshots', 'proxies with a snapshot (sidecar workloads in the config)', () => cache.nodeIds().length);
  gauge('meshplane_config_last_load_ok', '1 if the last config change was applied, 0 if it was rejected', () => (lastLoad().ok ? 1 : 0));
  const configReloads = new Counter({ name: 'meshplane_config_reloads_total', help: 'config changes seen, by result', labelNames: ['result'], registers: [registry] });
  return { registry, configReloads };
}
