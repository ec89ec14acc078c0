/** Latency distributions as the scenarios report them. */
import { percentile, round } from './result.ts';

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: values.length === 0 ? Number.NaN : round(Math.max(...values)),
  };
}
