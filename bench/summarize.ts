/**
 * The table of BENCHMARKS.md from bench/results/*.json: every row of every recorded scenario,
 * with the command that produced it. `npx tsx bench/summarize.ts > /tmp/table.md`
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Recorded } from './lib/result.ts';

const ORDER = ['streams', 'mesh-push', 'one-policy', 'translate', 'ca', 'envoy-ack', 'delta-bytes'];
const dir = join(import.meta.dirname, 'results');
const recorded = readdirSync(dir)
  .filter((f) => ORDER.includes(f.replace(/\.json$/, '')))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Recorded)
  .sort((a, b) => ORDER.indexOf(a.scenario) - ORDER.indexOf(b.scenario));

const fmt = (n: number | undefined) => (n === undefined ? '–' : Number.isInteger(n) ? n.toLocaleString('en-US') : (Math.round(n * 100) / 100).toLocaleString('en-US'));
console.log('| scenario | figure | meshplane | go-control-plane | ratio | target | met | command |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of recorded) {
  for (const row of r.rows) {
    const ratio = row.peer ? fmt(Math.round((row.ours / row.peer) * 100) / 100) : '–';
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    console.log(`| ${r.scenario} | ${row.figure} (${row.unit}) | ${fmt(row.ours)} | ${fmt(row.peer)} | ${ratio} | ${row.target ?? ''} | ${met} | \`${r.command}\` |`);
  }
}
for (const r of recorded) {
  if (r.loadGenerator) console.log(`\n${r.scenario}: load generator ${r.loadGenerator.cpuSeconds} CPU s over ${r.loadGenerator.wallSeconds} s (${Math.round(r.loadGenerator.share * 100)}% of one core); recorded ${r.at}`);
}
