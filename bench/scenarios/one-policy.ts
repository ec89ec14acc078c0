/**
 * One policy changes at N proxies (default 10,000): AuthorizationPolicy 0 (selecting the workloads
 * of one service) gets new paths (generate-mesh variant 1) in policies.yaml. Only the proxies it
 * selects should receive anything; they should ACK within 200 ms (p99) of the write.
 *
 *   npm run bench -- one-policy [proxies=10000] [--policies=10] [--transport=sotw|delta] [--timeout-ms=120000]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../loadgen/controller.ts';
import { authorizationPolicy, FILES, nodeIdOf, workloadsOfPolicy, type MeshSize } from '../mesh/generate-mesh.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { meshOf, withFleet } from '../lib/fleet-run.ts';
import { distribution } from '../lib/latency.ts';
import { atMost, type ScenarioResult } from '../lib/result.ts';

/** Responses still in flight when the server says it applied the change get this long to arrive. */
const SETTLE_MS = 1000;
const CHANGED_POLICY = 0;

export async function run(args: string[]): Promise<ScenarioResult> {
  const n = sizeArg(args, 0, 10_000);
  const transport = option(args, 'transport', 'sotw') as Transport;
  const timeoutMs = Number(option(args, 'timeout-ms', '120000'));
  const size = meshOf(n, Number(option(args, 'policies', '10')));
  const affected = workloadsOfPolicy(CHANGED_POLICY, size).map((w) => nodeIdOf(w, size));
  const affectedSet = new Set(affected);
  return withFleet({ size, transport }, async (f) => {
    const since = f.mesh.write(FILES.policies, policiesWithChange(size));
    const converged = await f.loadgen.converged({ since, require: ['LDS'], nodeIds: affected, timeoutMs });
    // Pushes to the others, if any, go out by the time the server has applied the change.
    const applied = await f.server.waitForLog('config change applied', since, timeoutMs);
    await sleep(SETTLE_MS);
    const received = await f.loadgen.received(since);
    const pushedTo = Object.keys(received.byNode);
    const unaffectedPushed = pushedTo.filter((id) => !affectedSet.has(id));
    const d = distribution(Object.values(converged.latencyMs));
    return {
      scenario: 'one-policy',
      command: commandLine('one-policy', args),
      rows: [
        { figure: 'proxies that received a push', unit: 'proxies', ours: pushedTo.length, target: `= ${affected.length} (the affected)`, met: pushedTo.length === affected.length && unaffectedPushed.length === 0 },
        { figure: 'affected proxies that ACKed', unit: 'proxies', ours: d.count, target: `= ${affected.length}`, met: d.count === affected.length },
        { figure: 'affected p50 (write -> ACK)', unit: 'ms', ours: d.p50 },
        { figure: 'affected p99 (write -> ACK)', unit: 'ms', ours: d.p99, ...atMost(d.p99, 200) },
        { figure: 'unaffected proxies that got a push', unit: 'proxies', ours: unaffectedPushed.length, ...atMost(unaffectedPushed.length, 0) },
      ],
      loadGenerator: await f.loadgenShare(),
      notes: [
        `mesh: ${size.workloads} workloads, ${size.services} services, ${size.policies} AuthorizationPolicies; ${transport === 'sotw' ? 'SotW' : 'Delta'} streams`,
        `change: AuthorizationPolicy allow-${CHANGED_POLICY} gets new paths (${FILES.policies} rewritten atomically); it selects ${affected.length} workloads (${affected.slice(0, 3).join(', ')}${affected.length > 3 ? ', ...' : ''})`,
        `types pushed: ${JSON.stringify(received.byType)}`,
        `the server logged "config change applied" ${applied.at - since} ms after the write (its debounce, 100 ms quiet, and stable-read check included)`,
        ...(unaffectedPushed.length > 0 ? [`pushed to unaffected proxies, e.g. ${unaffectedPushed.slice(0, 5).join(', ')} (types ${[...new Set(unaffectedPushed.flatMap((id) => received.byNode[id]!))].join(', ')})`] : []),
        ...(converged.missing.length > 0 ? [`${converged.missing.length} affected proxies had no new LDS within ${timeoutMs} ms`] : []),
        'xDS is plaintext (serve --insecure-xds)',
      ],
      details: { distribution: d, appliedMs: applied.at - since, affected, pushedByType: received.byType, unaffectedPushed: unaffectedPushed.slice(0, 100) },
    };
  });
}

/** policies.yaml with policy CHANGED_POLICY in its variant 1 and the others as generated. */
function policiesWithChange(size: MeshSize): string {
  return Array.from({ length: size.policies }, (_, p) => authorizationPolicy(p, size, p === CHANGED_POLICY ? 1 : 0)).join('---\n');
}
