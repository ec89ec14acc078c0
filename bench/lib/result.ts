/**
 * What every benchmark scenario returns, prints and records: one row per figure, with the target
 * from BENCHMARKS.md, our figure, and (where measured) the go-control-plane peer's and the ratio.
 * Written to bench/results/<scenario>.json with the machine it ran on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Row {
  /** What is measured, e.g. "streams held (SotW)". */
  figure: string;
  unit: string;
  ours: number;
  /** The go-control-plane peer's figure for the same thing, when measured. */
  peer?: number;
  /** Human-readable target, e.g. "<= 1024" or ">= 1000". */
  target?: string;
  /** Whether `ours` meets the target; undefined when there is none. */
  met?: boolean;
}

export interface ScenarioResult {
  scenario: string;
  /** The command that reproduces it. */
  command: string;
  rows: Row[];
  /** Load generator's share of the machine during the run, when one ran (CPU seconds / wall seconds). */
  loadGenerator?: { cpuSeconds: number; wallSeconds: number; share: number };
  /** Anything a reader needs to interpret the figures (sizes, settings, what was left out). */
  notes: string[];
  /** Raw figures for the record (distributions, per-step timings). */
  details?: Record<string, unknown>;
}

export interface Recorded extends ScenarioResult {
  at: string;
  machine: { cpus: number; model: string; memoryGiB: number; node: string };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** `target` as text and whether `value` meets it. */
export function atMost(value: number, limit: number): Pick<Row, 'target' | 'met'> {
  return { target: `<= ${limit}`, met: value <= limit };
}
export function atLeast(value: number, limit: number): Pick<Row, 'target' | 'met'> {
  return { target: `>= ${limit}`, met: value >= limit };
}

/** The p-th percentile (0..100) of `values` (nearest rank); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function record(result: ScenarioResult): Recorded {
  const recorded: Recorded = {
    ...result,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30), node: process.version },
  };
  const dir = join(import.meta.dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${result.scenario}.json`), `${JSON.stringify(recorded, null, 2)}\n`);
  return recorded;
}

export function printTable(r: Recorded): void {
  const header = ['figure', 'unit', 'meshplane', 'go-control-plane', 'ratio', 'target', 'met'];
  const rows = r.rows.map((x) => [
    x.figure,
    x.unit,
    fmt(x.ours),
    x.peer === undefined ? '-' : fmt(x.peer),
    x.peer === undefined || x.peer === 0 ? '-' : fmt(round(x.ours / x.peer, 2)),
    x.target ?? '-',
    x.met === undefined ? '-' : x.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  console.log(`\n${r.scenario}  (${r.machine.cpus} cores, ${r.machine.model}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node})`);
  for (const row of [header, ...rows]) console.log(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`);
  if (r.loadGenerator) console.log(`  load generator: ${r.loadGenerator.cpuSeconds} CPU s over ${r.loadGenerator.wallSeconds} s (${round(r.loadGenerator.share * 100)}% of one core)`);
  for (const n of r.notes) console.log(`  note: ${n}`);
  console.log(`  command: ${r.command}\n  recorded: bench/results/${r.scenario}.json`);
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : String(round(n, 2)));
