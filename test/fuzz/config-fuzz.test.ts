/**
 * Property-based fuzzing of the configuration pipeline (parse -> validate -> plan -> translate ->
 * encode) with fast-check, on three kinds of input (arbitraries.ts, mutations.ts):
 *
 * - plausible meshes: mostly valid, with adversarial values (unicode, control characters);
 * - the same with structural mutations: dropped, duplicated, retyped, unknown, huge, deep fields;
 * - the same with YAML syntax damage.
 *
 * Properties (pipeline.ts): nothing throws or hangs (a per-case timeout), every rejection is a
 * violation with a file, a message and a field path, and everything accepted plans, translates
 * and encodes. A sample of accepted meshes then goes through real Envoy (`--mode validate`).
 *
 * Reproducible: a fixed seed by default, printed with the run counts. FUZZ_SEED=<n> replays or
 * explores another seed; FUZZ_RUNS=<n> sets the number of cases of each property.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseModelFiles } from '../../src/model/load-model.ts';
import { buildProxyPlans } from '../../src/plan/build-proxy-plans.ts';
import { ResourceEncoder } from '../../src/xds/resource-encoder.ts';
import { envoyValidate, inBatches, staticBootstrap, throwawayCa, type EnvoyVerdict } from './envoy-validate.ts';
import { damagedFilesArb, meshFilesArb, mutatedFilesArb, type ConfigFile } from './mutations.ts';
import { checkLoad, PipelineFailure, runPipeline } from './pipeline.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_129;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined;
/** Cases per property: together about 30 s on 2 cores. */
const DEFAULT_RUNS = { plausible: 700, mutated: 1000, damaged: 700 } as const;
/** Generous: a case takes 5-50 ms; only a hang or a blow-up comes near it. */
const CASE_TIMEOUT_MS = 10_000;
/** Meshes from the plausible generator whose Envoy sidecars real Envoy validates. */
const ENVOY_MESHES = 20;

const encoder = new ResourceEncoder();
const stats: Record<string, { accepted: number; rejected: number; resources: number }> = {};

async function fuzz(name: keyof typeof DEFAULT_RUNS, arb: fc.Arbitrary<ConfigFile[]>): Promise<void> {
  const counts = (stats[name] = { accepted: 0, rejected: 0, resources: 0 });
  const numRuns = RUNS ?? DEFAULT_RUNS[name];
  await fc.assert(
    fc.asyncProperty(arb, async (files) => {
      const { result, resources } = await runPipeline(encoder, files);
      if (result.model) counts.accepted++;
      else counts.rejected++;
      for (const r of resources.values()) counts.resources += r.listeners.length + r.clusters.length;
    }),
    { seed: SEED, numRuns, plugins: [fc.timeout(CASE_TIMEOUT_MS)], endOnFailure: true },
  );
}

beforeAll(() => {
  const runs = RUNS === undefined ? JSON.stringify(DEFAULT_RUNS) : `${RUNS} per property`;
  console.log(`config fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED}), runs ${runs}`);
});
afterAll(() => console.log(`config fuzz results: ${JSON.stringify(stats)}`));

describe('config fuzz: load, plan, translate and encode never crash, hang or fail silently', () => {
  it('plausible meshes: mostly accepted, and what is accepted translates and encodes', { timeout: 180_000 }, async () => {
    await fuzz('plausible', meshFilesArb);
    const { accepted, rejected } = stats.plausible!;
    // Otherwise this would quietly test only the rejection path (about 60% are accepted).
    expect(accepted, `accepted ${accepted}, rejected ${rejected}`).toBeGreaterThan((accepted + rejected) * 0.3);
  });

  it('structurally mutated meshes: rejected with located errors, or translated', { timeout: 180_000 }, async () => {
    await fuzz('mutated', mutatedFilesArb);
    expect(stats.mutated!.rejected).toBeGreaterThan(0);
    expect(stats.mutated!.accepted).toBeGreaterThan(0);
  });

  it('YAML-damaged meshes: rejected with syntax errors (or still valid), never a crash', { timeout: 180_000 }, async () => {
    await fuzz('damaged', damagedFilesArb);
    expect(stats.damaged!.rejected).toBeGreaterThan(0);
  });
});

describe('config fuzz: the checks themselves', () => {
  const file = (text: string): ConfigFile[] => [{ file: 'a.yaml', text }];

  it('an error without a field path (other than whole-document ones) fails the property', () => {
    const files = file('kind: Mesh\n');
    const result = { violations: [{ file: 'a.yaml', path: '', message: 'must be a string', severity: 'error' as const }] };
    expect(() => checkLoad(files, result, '')).toThrow(PipelineFailure);
    expect(() => checkLoad(files, { violations: [{ ...result.violations[0]!, file: '' }] }, '')).toThrow(/without a file/);
    expect(() => checkLoad(files, { violations: [{ ...result.violations[0]!, path: 'spec', message: 'got [object Object]' }] }, '')).toThrow(/garbled/);
    expect(checkLoad(files, parseModelFiles(files), 'kind: Mesh')).toBeUndefined(); // a real rejection passes
  });

  it('a case slower than the time bound fails the property', async () => {
    const slow = fc.asyncProperty(fc.constant(0), async () => {
      const end = Date.now() + 300;
      while (Date.now() < end); // a synchronous stage that takes too long
      await new Promise((resolve) => setImmediate(resolve));
    });
    const r = await fc.check(slow, { numRuns: 1, plugins: [fc.timeout(100)] });
    expect(String(r.errorInstance)).toMatch(/timeout/i);
  });
});

describe('config fuzz: real Envoy accepts what meshplane accepts', () => {
  const work = mkdtempSync(join(tmpdir(), 'meshplane-fuzz-envoy-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(`the Envoy sidecars of ${ENVOY_MESHES} accepted generated meshes pass envoy --mode validate`, { timeout: 180_000 }, async () => {
    const authority = await throwawayCa(work);
    const meshes = fc
      .sample(meshFilesArb, { seed: SEED, numRuns: ENVOY_MESHES * 4 })
      .map((files) => ({ files, model: parseModelFiles(files).model }))
      .filter((m) => m.model && buildProxyPlans(m.model).length > 0)
      .slice(0, ENVOY_MESHES);
    expect(meshes).toHaveLength(ENVOY_MESHES);
    const jobs = meshes.flatMap(({ files, model }, i) =>
      buildProxyPlans(model!).map((plan) => async () => ({ files, verdict: await envoyValidate(work, `mesh${i}-${plan.nodeId}`, await staticBootstrap(plan, authority)) })),
    );
    const results = await inBatches(jobs, 2);
    const rejected = results.filter((r) => r.verdict.code !== 0);
    const report = (r: { files: ConfigFile[]; verdict: EnvoyVerdict }) =>
      `${r.verdict.name} (exit ${r.verdict.code}, signal ${r.verdict.signal}):\n${r.verdict.output.slice(-2000)}\n--- config ---\n${r.files.map((f) => `# ${f.file}\n${f.text}`).join('\n')}`;
    expect(rejected.map(report)).toEqual([]);
    console.log(`config fuzz: envoy --mode validate accepted ${results.length} sidecar configs from ${meshes.length} meshes`);
  });

  it('the Envoy check fails on a config Envoy rejects (a header matcher named with NUL)', async () => {
    const bootstrap = {
      static_resources: {
        clusters: [{ name: 'c', type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: { cluster_name: 'c', endpoints: [] } }],
        listeners: [rbacListener('x-a\u0000b')],
      },
    };
    const verdict = await envoyValidate(work, 'nul-header', bootstrap);
    expect(verdict.code, verdict.output).not.toBe(0);
    expect(verdict.signal).toBeNull();
    expect((await envoyValidate(work, 'good-header', { static_resources: { ...bootstrap.static_resources, listeners: [rbacListener('x-a')] } })).code).toBe(0);
  });
});

/** A listener with one HTTP RBAC filter matching header `name`. */
function rbacListener(name: string): object {
  const rbac = { action: 'DENY', policies: { p: { permissions: [{ header: { name, present_match: true } }], principals: [{ any: true }] } } };
  return {
    name: 'l',
    address: { socket_address: { address: '127.0.0.1', port_value: 10_000 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'l',
              route_config: { name: 'r', virtual_hosts: [{ name: 'r', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] },
              http_filters: [
                { name: 'envoy.filters.http.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: rbac } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          },
        ],
      },
    ],
  };
}
