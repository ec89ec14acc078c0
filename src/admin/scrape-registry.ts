import { Counter, Registry } from 'prom-client';

/**
 * A Prometheus registry whose scrape reads each expensive source once, however many series derive
 * from it: `ads.status()` walks every stream (10k proxies = 10k status objects), and four gauges need it.
 */
export class ScrapeRegistry extends Registry {
  readonly #memo = new Map<() => unknown, unknown>();
  #scrapes = 0;

  /** `read`, called at most once per scrape (and afresh outside a scrape). */
  perScrape<T>(read: () => T): () => T {
    return () => {
      if (this.#scrapes === 0) return read();
      if (!this.#memo.has(read)) this.#memo.set(read, read());
      return this.#memo.get(read) as T;
    };
  }

  override async metrics(): Promise<string> {
    this.#scrapes++;
    try {
      return await super.metrics();
    } finally {
      if (--this.#scrapes === 0) this.#memo.clear();
    }
  }
}

/**
 * A counter that follows a running total kept elsewhere (the ADS server, the CA): each scrape adds
 * what happened since the previous one, so Prometheus sees a true counter.
 */
export function followTotals<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames?: readonly L[] },
  totals: () => Iterable<[labels: Partial<Record<L, string>>, total: number]>,
): Counter<L> {
  const seen = new Map<string, number>();
  return new Counter<L>({
    ...config,
    registers: [registry],
    collect() {
      for (const [labels, total] of totals()) {
        const key = JSON.stringify(labels);
        this.inc(labels, Math.max(0, total - (seen.get(key) ?? 0)));
        seen.set(key, total);
      }
    },
  });
}
