import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { startAdminServer } from './admin/admin-server.ts';
import { createMetrics, type Metrics } from './admin/metrics.ts';
import { CA_DIR, type Authority } from './ca/authority.ts';
import type { IssuedCert } from './ca/issue.ts';
import { createIssuerPool } from './ca/issuer-pool.ts';
import { openWorkloadCa } from './ca/workload-ca.ts';
import { openStateDir } from './ca/state-dir.ts';
import type { IssueFn } from './ca/workload-certs.ts';
import { CertificateLifecycle } from './certificate-lifecycle.ts';
import { systemClock, type Clock } from './clock.ts';
import { loadStableConfig, type EarlierRead } from './config/load-stable-config.ts';
import { readModelDir } from './model/load-model.ts';
import { watchConfigDir } from './config/watch-config-dir.ts';
import { formatViolation, MeshplaneError, type Violation } from './errors.ts';
import { restartRequired, sameCaSettings, sameFiles } from './config-changes.ts';
import type { LoadedPlugin } from './extend/load-plugins.ts';
import { PluginPipeline } from './extend/plugin-pipeline.ts';
import { splitHostPort } from './host-port.ts';
import type { CaSettings, MeshModel } from './model/types.ts';
import { ModelParser } from './model/model-parser.ts';
import type { ConfigFile } from './model/parse-documents.ts';
import { ProxyPlanner } from './plan/proxy-planner.ts';
import { buildProxylessPlans } from './plan/build-proxyless-plans.ts';
import { translateProxyless } from './translate/grpc-proxyless.ts';
import { translateProxy, translateSecrets } from './translate/translate-proxy.ts';
import { AdsServer } from './xds/ads-server.ts';
import { CsdsServer } from './xds/csds-server.ts';
import { ConnectionReports } from './edges/connection-reports.ts';
import { ServedConfigs } from './served-configs.ts';
import { xdsServerCredentials } from './xds-server-credentials.ts';
import { createDebouncer } from './xds/debounce.ts';
import { SnapshotCache } from './xds/snapshot-cache.ts';
import { TYPE_URL } from './xds/type-urls.ts';
import type { XdsLimits } from './xds/xds-limits.ts';
import { XdsAccess } from './xds-access.ts';

export interface ControlPlaneOptions {
  configDir: string;
  stateDir: string;
  xdsAddress: string;
  adminAddress: string;
  /** CSDS (ClientStatusDiscoveryService) gRPC listen address; plaintext, keep it on loopback. Default 127.0.0.1:15010; port 0 picks one. */
  csdsAddress?: string;
  /** Plaintext xDS without tokens or client certificates. Debugging only: private keys then cross the wire in clear. */
  insecureXds: boolean;
  logger: Logger;
  /** Drives certificate rotation and root-rotation checks; tests pass a fake one. */
  clock?: Clock;
  /** Issues workload certificates; default: a worker-thread pool, so the event loop never stalls. */
  issue?: IssueFn;
  /** `serve --plugin`: run after the Mesh's `spec.plugins`, on each proxy's translated resources, before they are versioned and pushed. */
  plugins?: readonly LoadedPlugin[];
  /** Limits on xDS clients (message size, streams, request rate, ...); unset ones take DEFAULT_XDS_LIMITS. */
  xdsLimits?: Partial<XdsLimits>;
}

/** The config dir must read the same twice this far apart before it is applied: no half-written file is served. */
const CONFIG_QUIET_MS = 100;

/**
 * Wiring: config dir -> model -> plans -> resources (+ workload certificates) -> snapshot cache
 * -> ADS. A config change is debounced, validated, and applied only when valid; otherwise the
 * last good config keeps serving and the errors are logged and shown on /debug/config.
 */
export class ControlPlane {
  private model!: MeshModel;
  /** Parses the config dir again reusing unchanged files and documents; plans again only what a change reaches. */
  private readonly parser = new ModelParser();
  private readonly planner = new ProxyPlanner();
  /** The Mesh of the last translation: a changed Mesh translates every proxy again. */
  private translatedMesh: MeshModel['mesh'] | undefined;
  /** The files of the config being served. */
  private configFiles: ConfigFile[] = [];
  private lastLoad: { at: string; ok: boolean; violations: string[] } = { at: new Date().toISOString(), ok: true, violations: [] };
  private applying: Promise<void> = Promise.resolve();
  private plugins!: PluginPipeline;
  /** What each node is served (plugins applied, removed clusters kept over once). */
  private served!: ServedConfigs;
  private lifecycle!: CertificateLifecycle;
  private readonly clock: Clock;
  private stopped = false;
  /** A read of the config dir taken at the first file event of the change being debounced. */
  private firstSight: Promise<EarlierRead | undefined> | undefined;
  private closers: (() => unknown)[] = [];
  readonly cache = new SnapshotCache();
  private ads!: AdsServer;
  private authority!: Authority;
  private metrics!: Metrics;
  /** notAfter of the xDS server certificate (Unix seconds), for /metrics. */
  private xdsCertNotAfter = 0;
  private reports!: ConnectionReports;
  xdsPort = 0;
  adminPort = 0;
  csdsPort = 0;

  private constructor(private readonly opts: ControlPlaneOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const cp = new ControlPlane(opts);
    try {
      await cp.init();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  private async init(): Promise<void> {
    const { opts } = this;
    const loaded = (await this.loadConfig())!;
    this.logViolations(loaded.violations);
    if (!loaded.model) {
      throw new MeshplaneError('CONFIG_INVALID', `${opts.configDir}: the configuration is invalid; fix the errors above`, loaded.violations);
    }
    this.model = loaded.model;
    this.configFiles = loaded.files;
    // Before anything listens: a plugin listed in the Mesh that cannot be loaded stops the start.
    this.plugins = new PluginPipeline(opts.logger, opts.plugins ?? []);
    const plugins = await this.plugins.prepare(this.model.mesh, opts.configDir);
    if (!plugins.ok) {
      this.logViolations(plugins.violations);
      throw new MeshplaneError('CONFIG_INVALID', `${join(opts.configDir, this.model.mesh.source.file)}: a plugin in spec.plugins cannot be loaded; fix the errors above`, plugins.violations);
    }
    plugins.commit();
    this.served = new ServedConfigs({
      cache: this.cache,
      plugins: this.plugins,
      logger: opts.logger,
      sent: (node) => this.lifecycle.recordSent(node),
      reapply: () => void this.applyModel(this.model),
    });
    this.closers.push(() => this.served.stop());
    const { ca, trustDomain } = this.model.mesh;
    const { authority, tokenKey, created } = await openStateDir(opts.stateDir, {
      keyAlgorithm: ca.keyAlgorithm,
      rootCertTtlSeconds: ca.rootCertTtlSeconds,
      trustDomain,
      create: true,
    });
    this.authority = authority;
    opts.logger.info({ stateDir: opts.stateDir, root: authority.rootFingerprint, created }, created ? 'created a new mesh root CA' : 'loaded the mesh root CA');
    const workloadCa = await openWorkloadCa({ stateDir: opts.stateDir, configDir: opts.configDir, control: authority, ca });
    if (workloadCa.mode === 'provided') {
      opts.logger.info({ root: workloadCa.signer().rootFingerprint }, 'workload certificates are signed by the provided intermediate CA (Mesh spec.ca.intermediate)');
    } else if (workloadCa.rotation?.phase !== 'stable') {
      opts.logger.info({ phase: workloadCa.rotation?.phase }, 'resuming the root rotation in progress');
    }

    // Read before serving: a corrupt revocations file stops the start rather than lift revocations.
    const access = opts.insecureXds
      ? undefined
      : await XdsAccess.open({ stateDir: opts.stateDir, tokenKey, trustDomain: () => this.model.mesh.trustDomain, clock: this.clock, logger: opts.logger, onRevoked: (node, at) => this.tokenRevoked(node, at) });
    this.ads = new AdsServer({
      cache: this.cache,
      logger: opts.logger.child({ component: 'ads' }),
      controlPlaneId: `meshplane@${process.pid}`,
      limits: opts.xdsLimits,
      authenticate: !access
        ? () => true
        : (nodeId, metadata, peerCertificate) => {
            if (!access.authenticate(nodeId, metadata, peerCertificate)) return false;
            this.lifecycle.resume(nodeId); // back with a token issued after its revocation
            return true;
          },
    });
    this.lifecycle = new CertificateLifecycle(
      {
        workloadCa,
        xdsRoot: authority,
        cache: this.cache,
        proxies: () => this.ads.status(),
        clock: this.clock,
        logger: opts.logger,
        issue: opts.issue ?? this.issuerPool(),
        enqueue: (work) => this.enqueue(work),
        pushCertificates: (rotated) => this.pushCertificates(rotated),
        retranslate: () => this.translateAll(this.model, true),
      },
      ca,
    );
    this.closers.push(() => this.lifecycle.stop());
    for (const node of access?.revokedNodes() ?? []) this.lifecycle.pause(node);
    this.metrics = createMetrics({
      ads: this.ads,
      cache: this.cache,
      lastLoad: () => this.lastLoad,
      ca: () => this.lifecycle.metrics(),
      xdsServerCertExpiry: opts.insecureXds ? undefined : () => this.xdsCertNotAfter,
      reports: () => this.reports.metrics(),
    });
    this.closers.push(() => this.metrics.close());
    // Sidecars report their inbound callers on the xDS port, authenticated by their xDS client certificate.
    this.reports = await ConnectionReports.open({
      stateDir: opts.stateDir,
      clock: this.clock,
      logger: opts.logger,
      ...(access && { authenticate: (nodeId: string, cert: PeerCertificate | undefined) => access.authenticateReports(nodeId, cert) }),
    });
    // Closed after the ADS server (closers run in reverse): the last reports are saved too.
    this.closers.push(() => this.reports.close(), () => this.ads.close());
    const reportService = this.reports.service();
    this.ads.addService(reportService.definition, reportService.handlers);

    await this.applyModel(this.model);

    this.xdsPort = await this.ads.listen(opts.xdsAddress, await this.xdsCredentials());
    if (opts.insecureXds) {
      opts.logger.warn('--insecure-xds: xDS is PLAINTEXT and UNAUTHENTICATED; any local process can fetch every workload private key. Debugging only.');
    }
    const admin = await startAdminServer(opts.adminAddress, {
      ready: () => this.xdsPort > 0,
      registry: this.metrics.registry,
      debug: {
        proxies: () => this.proxyStatus(),
        plugins: () => this.plugins.describe(),
        config: () => ({ configDir: opts.configDir, lastLoad: this.lastLoad, proxies: this.cache.nodeIds() }),
        ca: () => this.lifecycle.status(),
        edges: (query) => this.reports.edges(query, this.model),
        'advise-strict': (query) => this.reports.advise(query, { model: this.model, proxies: this.ads.status() }),
      },
    });
    this.adminPort = admin.port;
    this.closers.push(() => admin.close());
    const csds = new CsdsServer(() => this.ads.clientConfigs());
    this.closers.push(() => csds.close());
    this.csdsPort = await csds.listen(opts.csdsAddress ?? '127.0.0.1:15010');

    const reload = createDebouncer(() => this.reload(), { quietMs: 100, maxMs: 1000 });
    const watcher = watchConfigDir(opts.configDir, () => {
      // The first read of the stable pair, taken now rather than when the debounce fires.
      this.firstSight ??= readModelDir(opts.configDir).then(
        (read) => ({ read, at: Date.now() }),
        () => undefined, // the regular reads will say what is wrong
      );
      reload.trigger();
    });
    this.closers.push(() => watcher.close(), () => reload.cancel());
    reload.trigger(); // an edit made while we were starting had no watcher to see it
    if (access) {
      const revocations = access.watch();
      this.closers.push(() => revocations.close());
      void access.reload(); // a revocation written while we were starting
    }
    if (workloadCa.rotation) {
      // `meshplane ca rotate-root` writes ca/workload-roots.json: look at once, not at the next poll.
      const caWatcher = watchConfigDir(join(opts.stateDir, CA_DIR), () => this.lifecycle.scheduleRootCheck(0));
      this.closers.push(() => caWatcher.close());
      this.lifecycle.scheduleRootCheck();
    }
    opts.logger.info({ xds: `${splitHostPort(opts.xdsAddress).host}:${this.xdsPort}`, admin: `${splitHostPort(opts.adminAddress).host}:${this.adminPort}`, proxies: this.cache.nodeIds().length }, 'meshplane serving');
  }

  /** Re-read the config dir; apply it if it changed and is valid, else keep the last good one. */
  async reload(): Promise<void> {
    const loaded = await this.loadConfig().catch((err: unknown) => ({
      model: undefined,
      files: [],
      violations: [{ file: this.opts.configDir, path: '', message: String(err), severity: 'error' } satisfies Violation],
    }));
    if (!loaded) return; // stopped while the directory was still being written
    const at = new Date().toISOString();
    // The Mesh's plugins are loaded again when its list or a listed file changed (mtime).
    const plugins = loaded.model && (await this.plugins.prepare(loaded.model.mesh, this.opts.configDir));
    if (loaded.model && sameFiles(loaded.files, this.configFiles) && plugins && plugins.ok && !plugins.changed) {
      // Back to the config being served (e.g. a bad edit undone): nothing to push.
      if (!this.lastLoad.ok) this.lastLoad = { at, ok: true, violations: loaded.violations.map(formatViolation) };
      return;
    }
    this.logViolations(loaded.violations);
    if (!loaded.model) {
      this.rejectChange(at, loaded.violations.map(formatViolation));
      return;
    }
    if (plugins && !plugins.ok) {
      this.logViolations(plugins.violations);
      this.rejectChange(at, plugins.violations.map(formatViolation));
      return;
    }
    const restart = restartRequired(this.model, loaded.model);
    if (restart) {
      this.opts.logger.error(formatViolation(restart));
      this.rejectChange(at, [formatViolation(restart)]);
      return;
    }
    if (!sameCaSettings(this.model.mesh.ca, loaded.model.mesh.ca)) {
      // New TTL, rotation ratio or key type: every workload gets a certificate under the new settings.
      this.lifecycle.settingsChanged(loaded.model.mesh.ca);
      this.opts.logger.info(loaded.model.mesh.ca, 'Mesh spec.ca changed: re-issuing workload certificates');
    }
    this.configFiles = loaded.files;
    this.model = loaded.model;
    plugins?.commit();
    this.lastLoad = { at, ok: true, violations: loaded.violations.map(formatViolation) };
    this.metrics.configReloads.inc({ result: 'applied' });
    await this.applyModel(loaded.model);
    this.opts.logger.info({ proxies: this.cache.nodeIds().length }, 'config change applied');
  }

  /** A change that cannot be applied: recorded for /debug/config and /metrics; the last good config keeps serving. */
  private rejectChange(at: string, violations: string[]): void {
    this.lastLoad = { at, ok: false, violations };
    this.metrics.configReloads.inc({ result: 'rejected' });
    this.opts.logger.error({ errors: violations.length }, 'config change rejected; the last good config keeps serving');
  }

  /** The config dir once two reads agree (see load-stable-config.ts); undefined if stopped meanwhile. */
  private async loadConfig() {
    const earlier = await this.firstSight;
    this.firstSight = undefined;
    return loadStableConfig(this.opts.configDir, {
      ...(earlier && { earlier }),
      quietMs: CONFIG_QUIET_MS,
      parse: (files) => this.parser.parse(files),
      stopped: () => this.stopped,
      onUnsettled: (rounds) => {
        if (rounds % 50 === 1) this.opts.logger.info({ rounds }, 'the config dir is still being written; waiting for it to settle');
      },
    });
  }

  /** Translate every proxy and hand the results to the cache, which pushes only what changed. */
  private applyModel(model: MeshModel): Promise<void> {
    return this.enqueue(() => this.translateAll(model)).catch((err: unknown) => {
      // A failed apply leaves the last good snapshots; the next one may work.
      this.opts.logger.error({ err }, 'applying the config failed; proxies keep their last good config');
    });
  }

  /** Runs `work` after everything queued before it: config applications and rotations never interleave. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.applying.then(work);
    this.applying = run.catch(() => undefined);
    return run;
  }

  /**
   * Only proxies whose inputs changed are translated again (the planner returns an unchanged plan
   * as the same object; served.isCurrent compares the inputs); `full`, or a changed Mesh, makes
   * every proxy be translated again.
   */
  private async translateAll(model: MeshModel, full = false): Promise<void> {
    const { plans, index } = this.planner.plan(model);
    if (full || model.mesh !== this.translatedMesh) this.served.invalidate();
    this.translatedMesh = model.mesh;
    const certs = await this.lifecycle.ensureAll(new Map(plans.map((p) => [p.nodeId, p.spiffeId])));
    const trustBundlePem = this.lifecycle.trustBundlePem();
    const labelsOf = (node: string) => index.workloads.get(node)?.metadata.labels; // the index maps node ids to workloads
    plans.forEach((plan, i) => {
      const cert = certs[i]!;
      try {
        if (cert.status === 'rejected') throw cert.reason;
        // Everything the served config is made from: the same objects, nothing to translate.
        const inputs = [plan, cert.value, trustBundlePem, this.plugins.generation, labelsOf(plan.nodeId)];
        if (this.served.isCurrent(plan.nodeId, inputs)) return;
        // Copies: plugins cannot reach into the model.
        const workload = { name: plan.workload.name, namespace: plan.workload.namespace, labels: { ...labelsOf(plan.nodeId) } };
        // false: a fail-closed plugin failed, and this proxy keeps its last good config (logged).
        this.served.serve(translateProxy(plan, { ...cert.value, trustBundlePem }), { nodeId: plan.nodeId, workload, proxyless: false }, inputs);
      } catch (err) {
        // A bug for one proxy must not stop the others; it keeps its last good snapshot.
        this.opts.logger.error({ err, node: plan.nodeId }, 'translation failed; this proxy keeps its last good config');
      }
    });
    // Proxyless gRPC apps get no certificate (no SDS).
    const proxyless = buildProxylessPlans(model, index);
    for (const plan of proxyless) {
      try {
        // Plugins run here too, told `proxyless: true`: gRPC rejects much that Envoy accepts.
        const workload = { name: plan.workload.name, namespace: plan.workload.namespace, labels: { ...labelsOf(plan.nodeId) } };
        this.served.serve(translateProxyless(plan), { nodeId: plan.nodeId, workload, proxyless: true });
      } catch (err) {
        this.opts.logger.error({ err, node: plan.nodeId }, 'translation failed; this proxyless app keeps its last good config');
      }
    }
    const live = new Set([...plans, ...proxyless].map((p) => p.nodeId));
    for (const node of this.cache.nodeIds()) {
      if (live.has(node)) continue;
      // A removed workload loses its snapshot, its certificate and its key with it, and its
      // streams: left open, they would serve an empty config as if it were one.
      this.cache.removeSnapshot(node);
      this.served.forget(node);
      this.ads.endNode(node, grpc.status.NOT_FOUND, `the workload of node ${node} was removed from ${this.opts.configDir}`);
    }
    this.plugins.retain(live);
    this.lifecycle.retain(new Set(plans.map((p) => p.nodeId))); // only Envoys hold certificates
  }

  /** `meshplane token revoke`: the node's streams end now, and its certificate is no longer renewed. */
  private tokenRevoked(nodeId: string, revokedAt: number): void {
    this.lifecycle.pause(nodeId);
    const at = new Date(revokedAt).toISOString();
    this.ads.endNode(nodeId, grpc.status.UNAUTHENTICATED, `the xDS token of ${nodeId} was revoked at ${at} (meshplane token revoke); run meshplane bootstrap again`);
  }

  /** Rotated certificates go out as each proxy's new `default` secret, to that proxy alone. */
  private pushCertificates(rotated: [string, IssuedCert][]): void {
    const trustBundlePem = this.lifecycle.trustBundlePem();
    for (const [node, cert] of rotated) this.served.rotate(node, translateSecrets({ ...cert, trustBundlePem }));
  }

  /** Thousands of certificates due at once are issued off the main thread: pushes never wait on them. */
  private issuerPool(): IssueFn {
    const pool = createIssuerPool();
    this.closers.push(() => pool.close());
    return (authority, req) => pool.issue(authority, req);
  }

  private async xdsCredentials(): Promise<grpc.ServerCredentials> {
    if (this.opts.insecureXds) return grpc.ServerCredentials.createInsecure();
    const { trustDomain, ca } = this.model.mesh;
    const { credentials, notAfter } = await xdsServerCredentials(this.authority, { xdsAddress: this.opts.xdsAddress, trustDomain, keyAlgorithm: ca.keyAlgorithm });
    this.xdsCertNotAfter = notAfter.getTime() / 1000;
    return credentials;
  }

  /** Connected proxies with the public facts of the certificate each ACKed (never the key). */
  private proxyStatus() {
    return this.ads.status().map((s) => {
      const certificate = this.lifecycle.ackedFacts(s);
      const plugins = this.plugins.report(s.nodeId); // which plugin touched which resource
      return { ...s, ...(certificate && { certificate }), ...(plugins && { plugins }) };
    });
  }

  private logViolations(violations: readonly Violation[]): void {
    for (const v of violations) {
      const fields = { file: v.file, path: v.path };
      if (v.severity === 'error') this.opts.logger.error(fields, formatViolation(v));
      else this.opts.logger.warn(fields, formatViolation(v));
    }
  }

  /** Resolves when the queued config applications and rotations have run (for tests). */
  async settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.applying;
      await current;
    } while (current !== this.applying);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const close of this.closers.reverse()) await close();
    this.closers = [];
    await this.applying;
  }
}
