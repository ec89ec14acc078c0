/**
 * One command per scenario: `npm run bench -- <scenario> [args]`. Prints a table and writes
 * bench/results/<scenario>.json. `npm run bench -- list` names them.
 */
import { printTable, record, type ScenarioResult } from './lib/result.ts';

/** Scenario name -> module under bench/scenarios/ exporting `run(args): Promise<ScenarioResult>`. */
const SCENARIOS: Record<string, string> = {
  streams: './scenarios/streams.ts',
  'mesh-push': './scenarios/mesh-push.ts',
  'one-policy': './scenarios/one-policy.ts',
  translate: './scenarios/translate.ts',
  ca: './scenarios/ca.ts',
  'envoy-ack': './scenarios/envoy-ack.ts',
  'delta-bytes': './scenarios/delta-bytes.ts',
};

const [name, ...args] = process.argv.slice(2);
if (!name || name === 'list' || !SCENARIOS[name]) {
  console.log(`usage: npm run bench -- <scenario> [args]\nscenarios: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(name && name !== 'list' ? 2 : 0);
}
const mod = (await import(SCENARIOS[name]!)) as { run(args: string[]): Promise<ScenarioResult> };
const result = await mod.run(args);
printTable(record(result));
process.exit(0);
