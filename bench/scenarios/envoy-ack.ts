/**
 * Real Envoy: from a config file written to the moment Envoy ACKs the listener update it causes,
 * debounce and the stable-read pause included. Two real Envoys (test/e2e/local-mesh.ts, the same
 * mesh the end-to-end tests run: secure xDS, tokens, SDS), then `rounds` AuthorizationPolicy edits
 * that change server-1's inbound listeners, one at a time. The ACK time is the control plane's own
 * record of it (`ackedAt` of LDS in /debug/proxies), on the same clock as the write.
 *
 *   npm run bench -- envoy-ack [rounds=30] [sotw|delta]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalMesh } from '../../test/e2e/local-mesh.ts';
import type { ProxyStatus } from '../../src/xds/proxy-status.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { distribution } from '../lib/latency.ts';
import { atMost, round, type ScenarioResult } from '../lib/result.ts';

const policy = (round: number) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: server-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: server}}
  rules: [{to: [{operation: {methods: [GET], paths: ["/round-${round}/*"]}}]}]
`;

export async function run(args: string[]): Promise<ScenarioResult> {
  const rounds = Number(args[0] ?? 30);
  const transport = args[1] === 'delta' ? 'delta' : 'sotw';
  const mesh = await startLocalMesh('PERMISSIVE', { delta: transport === 'delta' });
  try {
    const admin = `http://127.0.0.1:${mesh.ports.cpAdmin}/debug/proxies`;
    const lds = async () => {
      const proxies = (await (await fetch(admin)).json()) as ProxyStatus[];
      return proxies.find((p) => p.nodeId === 'server-1.shop')?.types.find((t) => t.typeUrl === TYPE_URL.listener);
    };
    const latencies: number[] = [];
    for (let i = 0; i <= rounds; i++) {
      const before = (await lds())?.versionAcked;
      const writtenAt = Date.now();
      mesh.writeConfig('server-policy.yaml', policy(i));
      let acked: string | undefined;
      for (const deadline = writtenAt + 10_000; Date.now() < deadline; await sleep(5)) {
        const t = await lds();
        if (t?.versionAcked && t.versionAcked !== before && t.state === 'SYNCED') {
          acked = t.ackedAt;
          break;
        }
      }
      if (!acked) throw new Error(`round ${i}: no LDS ACK from server-1 within 10 s`);
      // Round 0 creates the policy file (and warms the paths); it is not counted.
      if (i > 0) latencies.push(Date.parse(acked) - writtenAt);
      await sleep(300); // past the debounce window: each round is its own change
    }
    const d = distribution(latencies);
    return {
      scenario: 'envoy-ack',
      command: `npm run bench -- envoy-ack ${rounds} ${transport}`,
      rows: [
        { figure: `file write -> Envoy LDS ACK, p50 (${transport})`, unit: 'ms', ours: d.p50, ...atMost(d.p50, 250) },
        { figure: `file write -> Envoy LDS ACK, p90 (${transport})`, unit: 'ms', ours: d.p90 },
        { figure: `file write -> Envoy LDS ACK, max (${transport})`, unit: 'ms', ours: d.max },
      ],
      notes: [
        `${rounds} AuthorizationPolicy edits, one at a time, each changing server-1's inbound listeners; 2 real Envoy 1.40 sidecars, secure xDS`,
        'includes the debounce (100 ms quiet) and the stable read (two reads 100 ms apart) before the config is applied',
      ],
      details: { latenciesMs: latencies, meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length) },
    };
  } finally {
    await mesh.close();
  }
}
