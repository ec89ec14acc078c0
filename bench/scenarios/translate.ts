/**
 * Translation, in process: the generated mesh (5,000 workloads, 1,000 services, 500
 * AuthorizationPolicies, 8 outbounds each, 50 namespaces) from YAML to encoded snapshots, cold,
 * then what a config reload costs when one AuthorizationPolicy changes, and when one Workload does.
 *
 * Cold, phase by phase, with the control plane's own objects (a ModelParser, a ProxyPlanner,
 * ServedConfigs over a SnapshotCache): parse + validate, plan, translate every proxy, encode
 * (plugins, make-before-break, toResourceSet, SnapshotCache.setSnapshot). Certificates are issued
 * before the clock starts (one per proxy, through the issuer pool; the `ca` scenario measures
 * issuance), so CA time is not in this row.
 *
 * A change: ControlPlane.reload() and translateAll() step by step, the same functions in the same
 * order, from the moment the debounce fires: the second stable read of the config dir (the first
 * is taken at the file event, inside the debounce window, and is shown apart; the 100 ms debounce
 * and quiet wait are waits, not work), parse, the reload checks, plan, certificates (all cached),
 * translate and serve what changed, the removed-node sweep.
 * Rounds alternate two versions of the policy (generate-mesh authorizationPolicy(p, size, v)).
 *
 *   npm run bench -- translate [workloads=5000] [services=1000] [policies=500] [--rounds=15]
 *   node --import tsx --cpu-prof bench/run.ts translate      # where the time goes (mostly cold)
 *   npm run bench -- translate --profile=rounds.cpuprofile   # the one-policy rounds alone
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadOrCreateAuthority } from '../../src/ca/authority.ts';
import { IssuerPool } from '../../src/ca/issuer-pool.ts';
import { openWorkloadCa } from '../../src/ca/workload-ca.ts';
import { CertificateLifecycle } from '../../src/certificate-lifecycle.ts';
import { systemClock } from '../../src/clock.ts';
import { loadStableConfig } from '../../src/config/load-stable-config.ts';
import { restartRequired, sameCaSettings, sameFiles } from '../../src/config-changes.ts';
import { PluginPipeline } from '../../src/extend/plugin-pipeline.ts';
import { readModelDir } from '../../src/model/load-model.ts';
import { ModelParser } from '../../src/model/model-parser.ts';
import type { ConfigFile } from '../../src/model/parse-documents.ts';
import { DEFAULT_CA } from '../../src/model/parse-mesh.ts';
import type { MeshModel } from '../../src/model/types.ts';
import { buildProxylessPlans } from '../../src/plan/build-proxyless-plans.ts';
import { ProxyPlanner } from '../../src/plan/proxy-planner.ts';
import { ServedConfigs } from '../../src/served-configs.ts';
import { translateProxy, type ProxyResources } from '../../src/translate/translate-proxy.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { commandLine, option, sizeArg } from '../lib/args.ts';
import { createMeshDir } from '../lib/mesh-dir.ts';
import { atMost, percentile, round, type Row, type ScenarioResult } from '../lib/result.ts';
import { authorizationPolicy, FILES, generateMesh, namespaceOf, nodeIdOf, serviceName, workloadName, workloadsOfPolicy, type MeshSize } from '../mesh/generate-mesh.ts';

/** A CPU profile of the one-policy rounds alone (`--profile=<file>.cpuprofile`): `--cpu-prof` would be all cold start. */
async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return session;
}

/** The policy changed in the one-policy rounds. */
const POLICY = 7;

export async function run(args: string[]): Promise<ScenarioResult> {
  const size: MeshSize = { workloads: sizeArg(args, 0, 5000), services: sizeArg(args, 1, 1000), policies: sizeArg(args, 2, 500), outbounds: 8, namespaces: 50 };
  const rounds = Number(option(args, 'rounds', '15'));
  const dir = createMeshDir(size);
  const pool = new IssuerPool();
  let lifecycle: CertificateLifecycle | undefined;
  try {
    // The control plane's objects (control-plane.ts), with no plugins and a silent logger.
    const logger = pino({ level: 'silent' });
    const cache = new SnapshotCache();
    const plugins = new PluginPipeline(logger);
    const { authority } = await loadOrCreateAuthority(dir.stateDir, { keyAlgorithm: DEFAULT_CA.keyAlgorithm, rootCertTtlSeconds: DEFAULT_CA.rootCertTtlSeconds, trustDomain: 'cluster.local' });
    const workloadCa = await openWorkloadCa({ stateDir: dir.stateDir, configDir: dir.configDir, control: authority, ca: DEFAULT_CA });
    lifecycle = new CertificateLifecycle(
      {
        workloadCa,
        xdsRoot: authority,
        cache,
        proxies: () => [],
        clock: systemClock,
        logger,
        issue: (a, req) => pool.issue(a, req),
        enqueue: (work) => work(),
        pushCertificates: () => undefined,
        retranslate: async () => undefined,
      },
      DEFAULT_CA,
    );
    const certs = lifecycle;
    const served = new ServedConfigs({ cache, plugins, logger, sent: (node) => certs.recordSent(node), reapply: () => undefined });
    const parser = new ModelParser();
    const planner = new ProxyPlanner();
    const trustBundlePem = lifecycle.trustBundlePem();
    let changedNodes = new Set<string>();
    cache.onUpdate((node) => changedNodes.add(node));

    // Certificates first, off the clock: one per proxy, as the control plane holds them.
    let t = performance.now();
    const identities = new Map(
      Array.from({ length: size.workloads }, (_, w) => {
        const s = w % size.services;
        return [nodeIdOf(w, size), `spiffe://cluster.local/ns/${namespaceOf(s, size)}/sa/${serviceName(s)}`] as const;
      }),
    );
    const failed = (await lifecycle.ensureAll(identities)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const issueMs = performance.now() - t;

    // Cold.
    const files = Object.entries(generateMesh(size)).map(([file, text]) => ({ file, text }));
    const cold: Record<string, number> = {};
    t = performance.now();
    const parsed = parser.parse(files);
    cold.parse = performance.now() - t;
    if (!parsed.model) throw new Error(`the generated mesh is invalid: ${parsed.violations.slice(0, 3).map((v) => v.message).join('; ')}`);
    const model = parsed.model;
    t = performance.now();
    const { plans, index } = planner.plan(model);
    cold.plan = performance.now() - t;
    const issued = await lifecycle.ensureAll(new Map(plans.map((p) => [p.nodeId, p.spiffeId]))); // cached: not timed
    const certOf = (i: number) => {
      const r = issued[i]!;
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    };
    const labelsOf = (node: string) => index.workloads.get(node)?.metadata.labels;
    t = performance.now();
    const translated: ProxyResources[] = plans.map((p, i) => translateProxy(p, { ...certOf(i), trustBundlePem }));
    cold.translate = performance.now() - t;
    t = performance.now();
    plans.forEach((plan, i) => {
      const workload = { name: plan.workload.name, namespace: plan.workload.namespace, labels: { ...labelsOf(plan.nodeId) } };
      served.serve(translated[i]!, { nodeId: plan.nodeId, workload, proxyless: false }, [plan, certOf(i), trustBundlePem, plugins.generation, labelsOf(plan.nodeId)]);
    });
    cold.encode = performance.now() - t;
    cold.total = cold.parse + cold.plan + cold.translate + cold.encode;
    const resources = translated.reduce((n, r) => n + r.listeners.length + r.clusters.length + r.secrets.length, 0);

    const coldEncodes = cache.encoder.encodes;

    // Garbage collection pauses, which land in whichever step allocates when the heap is full.
    let gcMs = 0;
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gcObserver.observe({ entryTypes: ['gc'] });

    // One reload as control-plane.ts does it, timed step by step.
    let current: MeshModel = model;
    let configFiles: ConfigFile[] = files;
    const reload = async () => {
      const steps: Record<'firstRead' | 'read' | 'parse' | 'checks' | 'plan' | 'certs' | 'translate' | 'serve' | 'sweep' | 'total' | 'gc', number> = { firstRead: 0, read: 0, parse: 0, checks: 0, plan: 0, certs: 0, translate: 0, serve: 0, sweep: 0, total: 0, gc: 0 };
      const gc0 = gcMs;
      // The first of the two stable reads is taken at the file event, during the debounce window;
      // the second when the debounce fires: from there on it is the path of a change.
      const t00 = performance.now();
      const earlier = { read: await readModelDir(dir.configDir), at: Date.now() };
      steps.firstRead = performance.now() - t00;
      const t0 = performance.now();
      let parseMs = 0;
      const loaded = await loadStableConfig(dir.configDir, {
        earlier,
        quietMs: 0, // the 100 ms settle wait is a wait, not work
        parse: (f) => {
          const p0 = performance.now();
          const result = parser.parse(f);
          parseMs = performance.now() - p0;
          return result;
        },
      });
      if (!loaded?.model) throw new Error(`the changed mesh is invalid: ${loaded?.violations.slice(0, 3).map((v) => v.message).join('; ')}`);
      steps.read = performance.now() - t0 - parseMs;
      steps.parse = parseMs;
      t = performance.now();
      const prepared = await plugins.prepare(loaded.model.mesh, dir.configDir);
      if (sameFiles(loaded.files, configFiles)) throw new Error('the config dir read as unchanged');
      if (!prepared.ok || restartRequired(current, loaded.model) || !sameCaSettings(current.mesh.ca, loaded.model.mesh.ca)) {
        throw new Error('the change did not go through as a plain config change');
      }
      configFiles = loaded.files;
      prepared.commit();
      steps.checks = performance.now() - t;

      // translateAll
      t = performance.now();
      const next = loaded.model;
      const planned = planner.plan(next);
      if (next.mesh !== current.mesh) served.invalidate();
      current = next;
      steps.plan = performance.now() - t;
      t = performance.now();
      const ensured = await certs.ensureAll(new Map(planned.plans.map((p) => [p.nodeId, p.spiffeId])));
      steps.certs = performance.now() - t;
      t = performance.now();
      const labelsOfNext = (node: string) => planned.index.workloads.get(node)?.metadata.labels;
      changedNodes = new Set();
      let translatedCount = 0;
      planned.plans.forEach((plan, i) => {
        const cert = ensured[i]!;
        if (cert.status === 'rejected') throw cert.reason;
        const inputs = [plan, cert.value, trustBundlePem, plugins.generation, labelsOfNext(plan.nodeId)];
        if (served.isCurrent(plan.nodeId, inputs)) return;
        translatedCount++;
        const workload = { name: plan.workload.name, namespace: plan.workload.namespace, labels: { ...labelsOfNext(plan.nodeId) } };
        served.serve(translateProxy(plan, { ...cert.value, trustBundlePem }), { nodeId: plan.nodeId, workload, proxyless: false }, inputs);
      });
      steps.serve = performance.now() - t;
      const proxyless = buildProxylessPlans(next, planned.index);
      const live = new Set([...planned.plans, ...proxyless].map((p) => p.nodeId));
      for (const node of cache.nodeIds()) if (!live.has(node)) throw new Error(`node ${node} left the mesh`);
      plugins.retain(live);
      certs.retain(new Set(planned.plans.map((p) => p.nodeId)));
      steps.translate = performance.now() - t;
      steps.sweep = steps.translate - steps.serve;
      steps.total = performance.now() - t0;
      steps.gc = gcMs - gc0;
      return { steps, translated: translatedCount, planned: planner.planned, parsedDocuments: parser.documentsParsed, changedNodes: changedNodes.size };
    };

    // One AuthorizationPolicy changed, `rounds` times (two versions in turn).
    const policyFile = files.find((f) => f.file === FILES.policies)!.text;
    const original = authorizationPolicy(POLICY, size, 0);
    const policyRounds: Awaited<ReturnType<typeof reload>>[] = [];
    const profile = option(args, 'profile', '');
    const session = profile ? await startProfile() : undefined;
    for (let r = 1; r <= rounds; r++) {
      dir.write(FILES.policies, policyFile.replace(original, authorizationPolicy(POLICY, size, r % 2 === 1 ? 1 : 2)));
      policyRounds.push(await reload());
    }
    if (session) writeFileSync(profile, JSON.stringify((await session.post('Profiler.stop')).profile));
    gcObserver.disconnect();
    const expected = workloadsOfPolicy(POLICY, size).length;
    const wrong = policyRounds.find((r) => r.changedNodes !== expected || r.translated !== expected);
    if (wrong) throw new Error(`a one-policy change should reach exactly ${expected} proxies; it translated ${wrong.translated} and changed ${wrong.changedNodes}`);

    // One Workload changed (a label that selects nothing): the topology changed, so everything is planned again.
    const workloadFile = files.find((f) => f.file === FILES.workloads)!.text;
    const w0 = `metadata: {name: ${workloadName(0)}, namespace: ${namespaceOf(0, size)}, labels: {app: ${serviceName(0)}}}`;
    if (!workloadFile.includes(w0)) throw new Error('workload w-0 not found in the generated mesh');
    const workloadRounds: Awaited<ReturnType<typeof reload>>[] = [];
    for (let r = 1; r <= Math.max(3, Math.floor(rounds / 3)); r++) {
      dir.write(FILES.workloads, workloadFile.replace(w0, w0.replace(/\}\}$/, `, edit: r${r}}}`)));
      workloadRounds.push(await reload());
    }

    const total = policyRounds.map((r) => r.steps.total);
    const median = (key: keyof (typeof policyRounds)[number]['steps'], list: typeof policyRounds) => percentile(list.map((r) => r.steps[key]), 50);
    const p50 = percentile(total, 50);
    const ms = (n: number) => round(n, 1);
    const rows: Row[] = [
      { figure: 'cold: parse + validate', unit: 'ms', ours: Math.round(cold.parse) },
      { figure: 'cold: plan', unit: 'ms', ours: Math.round(cold.plan) },
      { figure: 'cold: translate', unit: 'ms', ours: Math.round(cold.translate) },
      { figure: 'cold: encode into snapshots', unit: 'ms', ours: Math.round(cold.encode) },
      { figure: 'cold: full translation, total', unit: 'ms', ours: Math.round(cold.total), ...atMost(Math.round(cold.total), 3000) },
      { figure: 're-plan after one policy change, p50', unit: 'ms', ours: ms(p50), ...atMost(ms(p50), 50) },
      { figure: 're-plan after one policy change, max', unit: 'ms', ours: ms(Math.max(...total)) },
      { figure: '  of which: the second stable read of the config dir', unit: 'ms', ours: ms(median('read', policyRounds)) },
      { figure: '  of which: parse + validate', unit: 'ms', ours: ms(median('parse', policyRounds)) },
      { figure: '  of which: plan', unit: 'ms', ours: ms(median('plan', policyRounds)) },
      { figure: '  of which: certificates (all cached)', unit: 'ms', ours: ms(median('certs', policyRounds)) },
      { figure: '  of which: translate + encode what changed', unit: 'ms', ours: ms(median('serve', policyRounds)) },
      { figure: '  of which: removed-node sweep', unit: 'ms', ours: ms(median('sweep', policyRounds)) },
      { figure: '  garbage collection pauses in it (any step)', unit: 'ms', ours: ms(median('gc', policyRounds)) },
      { figure: 'first stable read, at the file event (in the debounce window)', unit: 'ms', ours: ms(median('firstRead', policyRounds)) },
      { figure: 'proxies translated again per policy change', unit: 'proxies', ours: policyRounds[0]!.translated },
      { figure: 're-plan after one Workload change (full plan), p50', unit: 'ms', ours: ms(percentile(workloadRounds.map((r) => r.steps.total), 50)) },
    ];
    return {
      scenario: 'translate',
      command: commandLine('translate', args),
      rows,
      notes: [
        `${size.workloads} sidecar workloads, ${size.services} services, ${size.policies} AuthorizationPolicies, ${size.outbounds} outbounds each, ${size.namespaces} namespaces: ${resources} resources, ${coldEncodes} distinct encodes`,
        `certificates excluded: one per proxy issued before the clock starts (${Math.round(issueMs)} ms through the issuer pool; see the ca scenario)`,
        'cold = the first run in this process (JIT not warmed); encode includes plugins (none), make-before-break, content hashing and protobuf encoding',
        `a change: the reload path of control-plane.ts step by step, in process, from the debounce firing to the last snapshot set (second stable read included; the first read, the 100 ms debounce and the quiet wait are not); p50/max of ${rounds} rounds`,
        `policy ${POLICY} selects ${expected} workloads: each change parsed ${policyRounds[0]!.parsedDocuments} document(s), planned ${policyRounds[0]!.planned} proxies, translated ${policyRounds[0]!.translated} and changed ${policyRounds[0]!.changedNodes} snapshots`,
        `a Workload change plans all ${workloadRounds[0]!.planned} proxies again and translates ${workloadRounds[0]!.translated} (plans compared with the last ones)`,
      ],
      details: {
        size,
        coldMs: Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, ms(v)])),
        policyRounds: policyRounds.map((r) => ({ ...r, steps: Object.fromEntries(Object.entries(r.steps).map(([k, v]) => [k, ms(v)])) })),
        workloadRounds: workloadRounds.map((r) => ({ ...r, steps: Object.fromEntries(Object.entries(r.steps).map(([k, v]) => [k, ms(v)])) })),
      },
    };
  } finally {
    lifecycle?.stop();
    await pool.close();
    dir.remove();
  }
}
