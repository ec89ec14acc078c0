import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { startAdminServer } from './admin/admin-server.ts';
import { createMetrics, type Metrics } from './admin/metrics.ts';
import { CA_DIR, type Authority } from './ca/authority.ts';
import { issueServerCert, issueWorkloadCert, type IssuedCert } from './ca/issue.ts';
import { rotationStepDone, type ProxyTrustState } from './ca/rotation-progress.ts';
import { openWorkloadCa, type WorkloadCa } from './ca/workload-ca.ts';
import { controlPlaneSpiffeId } from './ca/spiffe.ts';
import { openStateDir } from './ca/state-dir.ts';
import { TOKEN_METADATA_KEY } from './ca/tokens.ts';
import { xdsClientRejection } from './ca/xds-client-auth.ts';
import { WorkloadCertificates, type IssueFn } from './ca/workload-certs.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';
import { watchConfigDir } from './config/watch-config-dir.ts';
import { formatViolation, MeshplaneError, type Violation } from './errors.ts';
import { splitHostPort } from './host-port.ts';
import { loadModelDir } from './model/load-model.ts';
import type { CaSettings, MeshModel } from './model/types.ts';
import { buildProxyPlans } from './plan/build-proxy-plans.ts';
import { keepRemovedClustersOnce } from './translate/make-before-break.ts';
import { buildSecrets } from './translate/secrets.ts';
import { translateProxy, type ProxyResources } from './translate/translate-proxy.ts';
import { AdsServer } from './xds/ads-server.ts';
import { createDebouncer } from './xds/debounce.ts';
import { selectResources, type ResourceSet } from './xds/snapshot.ts';
import { SnapshotCache } from './xds/snapshot-cache.ts';
import { TYPE_URL } from './xds/type-urls.ts';

export interface ControlPlaneOptions {
  configDir: string;
  stateDir: string;
  xdsAddress: string;
  adminAddress: string;
  /** Plaintext xDS without tokens or client certificates. Debugging only: private keys then cross the wire in clear. */
  insecureXds: boolean;
  logger: Logger;
  /** Drives certificate rotation and root-rotation checks; tests pass a fake one. */
  clock?: Clock;
  /** Issues workload certificates; default inline (the worker pool when given). */
  issue?: IssueFn;
}

/** The public facts of a certificate a proxy was sent, never the key. */
export interface CertFacts {
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  uriSans: string[];
  /** Root the certificate chains to. */
  rootFingerprint: string;
  /** Roots in the trust bundle sent with it. */
  trustedRoots: string[];
}

/** How often a root rotation in progress checks whether its phase reached every proxy. */
const ROOT_CHECK_MS = 500;
/** Between rotations the state file is watched; this poll only backs the watch up. */
const ROOT_IDLE_CHECK_MS = 30_000;
/** How many secret versions per proxy are remembered, to tell which one Envoy ACKed. */
const SECRET_HISTORY = 4;

const XDS_SERVER_CERT_TTL_SECONDS = 365 * 24 * 3600;
/** How long a removed cluster stays after the listeners that stopped using it were pushed. */
const CLUSTER_LINGER_MS = 5000;

/**
 * Wiring: config dir -> model -> plans -> resources (+ workload certificates) -> snapshot cache
 * -> ADS. A config change is debounced, validated, and applied only when valid; otherwise the
 * last good config keeps serving and the errors are logged and shown on /debug/config.
 */
export class ControlPlane {
  private model!: MeshModel;
  private configHash = '';
  private lastLoad: { at: string; ok: boolean; violations: string[] } = { at: '', ok: true, violations: [] };
  private applying: Promise<void> = Promise.resolve();
  private rotationTimer: Timer | undefined;
  private rootCheckTimer: Timer | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Per node: what it was last given, and the removed clusters kept over once (make before break). */
  private readonly served = new Map<string, { resources: ProxyResources; lingering: Set<string> }>();
  /** Per node: the certificate facts of the last few secret versions, by version. */
  private readonly secretFacts = new Map<string, Map<string, CertFacts>>();
  /** Per node: its SPIFFE ID in the current config (what a rotated certificate is issued for). */
  private identities = new Map<string, string>();
  private workloadCa!: WorkloadCa;
  private readonly clock: Clock;
  private readonly issued = { ok: 0, failed: 0 };
  private rotationWaitingFor: string[] = [];
  private stopped = false;
  private closers: (() => unknown)[] = [];
  readonly cache = new SnapshotCache();
  private ads!: AdsServer;
  private certs!: WorkloadCertificates;
  private authority!: Authority;
  private metrics!: Metrics;
  xdsPort = 0;
  adminPort = 0;

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
    const loaded = await loadModelDir(opts.configDir);
    this.logViolations(loaded.violations);
    if (!loaded.model) {
      throw new MeshplaneError('CONFIG_INVALID', `${opts.configDir}: the configuration is invalid; fix the errors above`, loaded.violations);
    }
    this.model = loaded.model;
    this.configHash = hashFiles(loaded.files);
    const { ca, trustDomain } = this.model.mesh;
    const { authority, tokenKey, created } = await openStateDir(opts.stateDir, {
      keyAlgorithm: ca.keyAlgorithm,
      rootCertTtlSeconds: ca.rootCertTtlSeconds,
      trustDomain,
      create: true,
    });
    this.authority = authority;
    opts.logger.info({ stateDir: opts.stateDir, root: authority.rootFingerprint, created }, created ? 'created a new mesh root CA' : 'loaded the mesh root CA');
    this.workloadCa = await openWorkloadCa({ stateDir: opts.stateDir, configDir: opts.configDir, control: authority, ca });
    if (this.workloadCa.mode === 'provided') {
      opts.logger.info({ root: this.workloadCa.signer().rootFingerprint }, 'workload certificates are signed by the provided intermediate CA (Mesh spec.ca.intermediate)');
    } else if (this.workloadCa.rotation?.phase !== 'stable') {
      opts.logger.info({ phase: this.workloadCa.rotation?.phase }, 'resuming the root rotation in progress');
    }
    this.certs = this.newCertificates(ca);

    this.ads = new AdsServer({
      cache: this.cache,
      logger: opts.logger.child({ component: 'ads' }),
      controlPlaneId: `meshplane@${process.pid}`,
      authenticate: opts.insecureXds
        ? () => true
        : (nodeId, metadata, peerCertificate) => {
            const token = metadata.get(TOKEN_METADATA_KEY)[0]?.toString();
            const rejection = xdsClientRejection(tokenKey, this.model.mesh.trustDomain, { nodeId, token, peerCertificate });
            if (rejection) opts.logger.warn({ nodeId, reason: rejection }, 'xDS client rejected');
            return rejection === undefined;
          },
    });
    this.metrics = createMetrics(this.ads, this.cache, () => this.lastLoad, () => this.caMetrics());
    this.closers.push(() => this.ads.close());

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
        config: () => ({ configDir: opts.configDir, lastLoad: this.lastLoad, proxies: this.cache.nodeIds() }),
        ca: () => this.caStatus(),
      },
    });
    this.adminPort = admin.port;
    this.closers.push(() => admin.close());

    const reload = createDebouncer(() => this.reload(), { quietMs: 100, maxMs: 1000 });
    const watcher = watchConfigDir(opts.configDir, () => reload.trigger());
    this.closers.push(() => watcher.close(), () => reload.cancel());
    reload.trigger(); // an edit made while we were starting had no watcher to see it
    if (this.workloadCa.rotation) {
      // `meshplane ca rotate-root` writes ca/workload-roots.json: look at once, not at the next poll.
      const caWatcher = watchConfigDir(join(opts.stateDir, CA_DIR), () => this.scheduleRootCheck(0));
      this.closers.push(() => caWatcher.close());
      this.scheduleRootCheck();
    }
    opts.logger.info({ xds: `${splitHostPort(opts.xdsAddress).host}:${this.xdsPort}`, admin: `${splitHostPort(opts.adminAddress).host}:${this.adminPort}`, proxies: this.cache.nodeIds().length }, 'meshplane serving');
  }

  /** Re-read the config dir; apply it if it changed and is valid, else keep the last good one. */
  async reload(): Promise<void> {
    const loaded = await loadModelDir(this.opts.configDir).catch((err: unknown) => ({
      model: undefined,
      files: [],
      violations: [{ file: this.opts.configDir, path: '', message: String(err), severity: 'error' } satisfies Violation],
    }));
    const hash = hashFiles(loaded.files);
    const at = new Date().toISOString();
    if (loaded.model && hash === this.configHash) {
      // Back to the config being served (e.g. a bad edit undone): nothing to push.
      if (!this.lastLoad.ok) this.lastLoad = { at, ok: true, violations: loaded.violations.map(formatViolation) };
      return;
    }
    this.logViolations(loaded.violations);
    if (!loaded.model) {
      this.lastLoad = { at, ok: false, violations: loaded.violations.map(formatViolation) };
      this.metrics.configReloads.inc({ result: 'rejected' });
      this.opts.logger.error({ errors: this.lastLoad.violations.length }, 'config change rejected; the last good config keeps serving');
      return;
    }
    const restart = restartRequired(this.model, loaded.model);
    if (restart) {
      this.lastLoad = { at, ok: false, violations: [formatViolation(restart)] };
      this.metrics.configReloads.inc({ result: 'rejected' });
      this.opts.logger.error(formatViolation(restart));
      this.opts.logger.error('config change rejected; the last good config keeps serving');
      return;
    }
    if (!sameCaSettings(this.model.mesh.ca, loaded.model.mesh.ca)) {
      // New TTL, rotation ratio or key type: every workload gets a certificate under the new settings.
      this.certs = this.newCertificates(loaded.model.mesh.ca);
      this.opts.logger.info(loaded.model.mesh.ca, 'Mesh spec.ca changed: re-issuing workload certificates');
    }
    this.configHash = hash;
    this.model = loaded.model;
    this.lastLoad = { at, ok: true, violations: loaded.violations.map(formatViolation) };
    this.metrics.configReloads.inc({ result: 'applied' });
    await this.applyModel(loaded.model);
    this.opts.logger.info({ proxies: this.cache.nodeIds().length }, 'config change applied');
  }

  /** Translate every proxy and hand the results to the cache, which pushes only what changed. */
  private applyModel(model: MeshModel): Promise<void> {
    this.applying = this.applying.then(() => this.translateAll(model)).catch((err: unknown) => {
      // Keep the chain alive: a failed apply leaves the last good snapshots, the next one may work.
      this.opts.logger.error({ err }, 'applying the config failed; proxies keep their last good config');
    });
    return this.applying;
  }

  private async translateAll(model: MeshModel): Promise<void> {
    const plans = buildProxyPlans(model);
    this.identities = new Map(plans.map((p) => [p.nodeId, p.spiffeId]));
    // Issued together: the issuer works through them off the main thread.
    const certs = await Promise.allSettled(plans.map((p) => this.certs.ensure(p.nodeId, p.spiffeId)));
    const trustBundlePem = this.workloadCa.trustBundlePem();
    plans.forEach((plan, i) => {
      const cert = certs[i]!;
      try {
        if (cert.status === 'rejected') throw cert.reason;
        const translated = translateProxy(plan, { ...cert.value, trustBundlePem });
        const previous = this.served.get(plan.nodeId);
        const next = keepRemovedClustersOnce(translated, previous?.resources, previous?.lingering ?? new Set());
        this.setSnapshot(plan.nodeId, next.resources);
        this.served.set(plan.nodeId, next);
        if (next.lingering.size > 0) this.scheduleLingerEnd();
      } catch (err) {
        // A bug for one proxy must not stop the others; it keeps its last good snapshot.
        this.opts.logger.error({ err, node: plan.nodeId }, 'translation failed; this proxy keeps its last good config');
      }
    });
    const live = new Set(plans.map((p) => p.nodeId));
    for (const node of this.cache.nodeIds()) {
      if (live.has(node)) continue;
      // A removed workload loses its snapshot, its certificate and its key with it.
      this.cache.removeSnapshot(node);
      this.served.delete(node);
      this.secretFacts.delete(node);
    }
    this.certs.retain(live);
    this.scheduleRotation();
  }

  /** Hands resources to the cache and remembers the certificate facts of the secret version. */
  private setSnapshot(nodeId: string, resources: ProxyResources): void {
    this.cache.setSnapshot(nodeId, toResourceSet(resources));
    const entry = this.certs.peek(nodeId);
    const version = this.cache.getSnapshot(nodeId)?.version(TYPE_URL.secret);
    if (!entry || !version) return;
    const history = this.secretFacts.get(nodeId) ?? new Map<string, CertFacts>();
    history.delete(version);
    history.set(version, certFacts(entry.cert, entry.rootFingerprint, this.workloadCa.trustedRoots()));
    while (history.size > SECRET_HISTORY) history.delete(history.keys().next().value!);
    this.secretFacts.set(nodeId, history);
  }

  /**
   * Replaces the certificates that are due, and pushes each proxy its new `default` secret only:
   * listeners and clusters are unchanged, so the cache sends nothing else, and no other proxy.
   */
  private rotateDue(): Promise<void> {
    this.applying = this.applying
      .then(async () => {
        const due = this.certs.due().filter((n) => this.identities.has(n) && this.served.has(n));
        const results = await Promise.allSettled(due.map((n) => this.certs.ensure(n, this.identities.get(n)!)));
        const trustBundlePem = this.workloadCa.trustBundlePem();
        due.forEach((node, i) => {
          const r = results[i]!;
          const served = this.served.get(node);
          if (r.status === 'rejected' || !served) {
            if (r.status === 'rejected') this.opts.logger.error({ err: r.reason, node }, 'certificate rotation failed; the proxy keeps its current certificate and it is retried');
            return;
          }
          const secrets = buildSecrets({ ...r.value, trustBundlePem }).sort((a, b) => (a.name < b.name ? -1 : 1));
          served.resources = { ...served.resources, secrets };
          this.setSnapshot(node, served.resources);
        });
        if (due.length > 0) this.opts.logger.info({ rotated: results.filter((r) => r.status === 'fulfilled').length, failed: results.filter((r) => r.status === 'rejected').length }, 'workload certificates rotated');
        this.scheduleRotation();
      })
      .catch((err: unknown) => this.opts.logger.error({ err }, 'certificate rotation failed'));
    return this.applying;
  }

  /** Re-apply once the lingering clusters have outlived the listener update, which drops them. */
  private scheduleLingerEnd(): void {
    if (this.lingerTimer || this.stopped) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      void this.applyModel(this.model);
    }, CLUSTER_LINGER_MS);
    this.lingerTimer.unref();
  }

  /** Wakes up when the first workload certificate is due (failed issuance retries in 5 s). */
  private scheduleRotation(): void {
    this.rotationTimer?.cancel();
    this.rotationTimer = undefined;
    if (this.stopped) return;
    const due = this.certs.nextRotationAt();
    const pendingRetry = this.certs.due().length > 0;
    if (due === undefined && !pendingRetry) return;
    const delay = pendingRetry ? 5000 : Math.max(due! - this.clock.now(), 0);
    this.rotationTimer = this.clock.setTimer(delay, () => void this.rotateDue());
  }

  private newCertificates(ca: CaSettings): WorkloadCertificates {
    const issue = this.opts.issue ?? issueWorkloadCert;
    return new WorkloadCertificates(ca, {
      signer: () => this.workloadCa.signer(),
      trusts: (fp) => this.workloadCa.trusts(fp),
      clock: this.clock,
      issue: async (authority, req) => {
        try {
          const cert = await issue(authority, req);
          this.issued.ok++;
          return cert;
        } catch (err) {
          this.issued.failed++;
          throw err;
        }
      },
    });
  }

  /**
   * A root rotation moves on when its phase has reached every connected proxy (ACKed secrets):
   * trust the new root everywhere, then issue from it, then drop the old one. The state file is
   * re-read each time, so `meshplane ca rotate-root` run next to a live server is picked up.
   */
  private scheduleRootCheck(delayMs?: number): void {
    if (this.stopped) return;
    this.rootCheckTimer?.cancel();
    const delay = delayMs ?? (this.workloadCa.rotation?.phase === 'stable' ? ROOT_IDLE_CHECK_MS : ROOT_CHECK_MS);
    this.rootCheckTimer = this.clock.setTimer(delay, () => {
      this.applying = this.applying
        .then(() => this.checkRootRotation())
        .catch((err: unknown) => this.opts.logger.error({ err }, 'root rotation check failed; retrying'))
        .finally(() => this.scheduleRootCheck());
    });
  }

  private async checkRootRotation(): Promise<void> {
    const rotation = this.workloadCa.rotation!;
    let changed = await rotation.reload(new Date(this.clock.now()));
    if (changed) this.opts.logger.info({ phase: rotation.phase, roots: rotation.info() }, 'root rotation state changed on disk');
    if (rotation.phase !== 'stable') {
      const { done, waitingFor } = rotationStepDone(rotation.phase, rotation.next()!.rootFingerprint, this.proxyTrustStates());
      this.rotationWaitingFor = waitingFor;
      if (done) {
        const phase = await rotation.advance(new Date(this.clock.now()));
        this.opts.logger.info({ phase, roots: rotation.info() }, phase === 'stable' ? 'root rotation complete: the old root left the trust bundle' : `root rotation: phase ${phase}`);
        if (phase === 'issue-next' && rotation.reissue) this.certs.expireAll();
        changed = true;
      }
    }
    // The bundle or the signer changed: every proxy gets its new secrets (certificates from the
    // new signer are issued as they come due, or now with --reissue).
    if (changed) await this.translateAll(this.model);
  }

  /** What every connected proxy holds, judged by the secret version it ACKed. */
  private proxyTrustStates(): ProxyTrustState[] {
    return this.ads.status().map((s) => {
      const facts = this.secretFacts.get(s.nodeId);
      const snapshot = this.cache.getSnapshot(s.nodeId);
      const secretType = s.types.find((t) => t.typeUrl === TYPE_URL.secret);
      const current = snapshot && secretType ? selectResources(snapshot.get(TYPE_URL.secret), secretType.subscribed).version : undefined;
      const sent = current !== undefined ? facts?.get(snapshot!.version(TYPE_URL.secret)) : undefined;
      return {
        nodeId: s.nodeId,
        secretsAcked: current !== undefined && secretType?.versionAcked === current,
        trustedRoots: sent?.trustedRoots ?? [],
        ...(sent && { certRoot: sent.rootFingerprint }),
      };
    });
  }

  /** The certificate facts of the secrets a proxy ACKed (not merely sent). */
  private ackedFacts(nodeId: string, versionAcked: string | undefined): CertFacts | undefined {
    const facts = this.secretFacts.get(nodeId);
    const snapshot = this.cache.getSnapshot(nodeId);
    if (!facts || !versionAcked) return undefined;
    if (facts.has(versionAcked)) return facts.get(versionAcked);
    // A named subscription's version covers the names asked for; it equals the type's version
    // when the proxy asked for every secret it has, which is what Envoy does.
    return snapshot && facts.get(snapshot.version(TYPE_URL.secret));
  }

  private caStatus() {
    const rotation = this.workloadCa.rotation;
    const proxies = this.ads.status().map((s) => {
      const acked = this.ackedFacts(s.nodeId, s.types.find((t) => t.typeUrl === TYPE_URL.secret)?.versionAcked);
      return { nodeId: s.nodeId, ...(acked && { rootFingerprint: acked.rootFingerprint, serialNumber: acked.serialNumber, notAfter: acked.notAfter }) };
    });
    const byRoot: Record<string, number> = {};
    for (const p of proxies) byRoot[p.rootFingerprint ?? 'none ACKed yet'] = (byRoot[p.rootFingerprint ?? 'none ACKed yet'] ?? 0) + 1;
    return {
      mode: this.workloadCa.mode,
      phase: rotation?.phase ?? 'stable',
      ...(rotation?.startedAt && rotation.phase !== 'stable' && { startedAt: rotation.startedAt }),
      ...(rotation && rotation.phase !== 'stable' && { reissue: rotation.reissue, waitingFor: this.rotationWaitingFor }),
      signer: this.workloadCa.signer().rootFingerprint,
      roots: rotation?.info() ?? this.workloadCa.trustedRoots().map((fingerprint) => ({ fingerprint, signs: true })),
      proxiesByRoot: byRoot,
      proxies,
      xdsRoot: { fingerprint: this.authority.rootFingerprint, notAfter: this.authority.caCert.notAfter.toISOString() },
      issued: { ...this.issued },
    };
  }

  private caMetrics() {
    const certs = [...this.certs.entries()].map(([nodeId, e]) => ({ nodeId, notAfter: e.cert.notAfter.getTime() / 1000 }));
    return { issued: this.issued.ok, failed: this.issued.failed, phase: this.workloadCa.rotation?.phase ?? 'stable', trustedRoots: this.workloadCa.trustedRoots().length, certs };
  }

  private async xdsCredentials(): Promise<grpc.ServerCredentials> {
    if (this.opts.insecureXds) return grpc.ServerCredentials.createInsecure();
    const { host } = splitHostPort(this.opts.xdsAddress);
    const cert = await issueServerCert(this.authority, {
      spiffeId: controlPlaneSpiffeId(this.model.mesh.trustDomain),
      dnsNames: ['localhost', 'meshplane-xds'],
      ipAddresses: isIP(host) ? [host] : [],
      ttlSeconds: XDS_SERVER_CERT_TTL_SECONDS,
      keyAlgorithm: this.model.mesh.ca.keyAlgorithm,
    });
    // Every Envoy presents its bootstrap's xDS client certificate; which node it may be is checked per stream.
    return grpc.ServerCredentials.createSsl(
      Buffer.from(this.authority.trustBundlePem),
      [{ cert_chain: Buffer.from(cert.certChainPem), private_key: Buffer.from(cert.privateKeyPem) }],
      true,
    );
  }

  /** Connected proxies with the public facts of the certificate each ACKed (never the key). */
  private proxyStatus() {
    return this.ads.status().map((s) => {
      const certificate = this.ackedFacts(s.nodeId, s.types.find((t) => t.typeUrl === TYPE_URL.secret)?.versionAcked);
      return { ...s, ...(certificate && { certificate }) };
    });
  }

  private logViolations(violations: readonly Violation[]): void {
    for (const v of violations) {
      if (v.severity === 'error') this.opts.logger.error(formatViolation(v));
      else this.opts.logger.warn(formatViolation(v));
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
    this.rotationTimer?.cancel();
    this.rootCheckTimer?.cancel();
    clearTimeout(this.lingerTimer);
  }
}

export function toResourceSet(r: ProxyResources): ResourceSet {
  const entries = (list: { name: string }[]) => list.map((resource) => ({ name: resource.name, resource }));
  return new Map([
    [TYPE_URL.secret, entries(r.secrets)],
    [TYPE_URL.cluster, entries(r.clusters)],
    [TYPE_URL.listener, entries(r.listeners)],
  ]);
}

function hashFiles(files: readonly { file: string; text: string }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.file).update('\0').update(f.text).update('\0');
  return h.digest('hex');
}

/**
 * A change the running server cannot take: the trust domain names the xDS server's identity that
 * every bootstrap pins, and every workload identity.
 */
function restartRequired(current: MeshModel, next: MeshModel): Violation | undefined {
  if (JSON.stringify(current.mesh.ca.intermediate) !== JSON.stringify(next.mesh.ca.intermediate)) {
    return {
      file: next.mesh.source.file,
      path: 'spec.ca.intermediate',
      message: 'changing which CA signs workload certificates changes the trust bundle of every proxy: restart `meshplane serve` to apply it',
      severity: 'error',
    };
  }
  if (current.mesh.trustDomain === next.mesh.trustDomain) return undefined;
  return {
    file: next.mesh.source.file,
    path: 'spec.trustDomain',
    message:
      `changing the trust domain (${current.mesh.trustDomain} -> ${next.mesh.trustDomain}) changes every identity and the ` +
      "xDS server's: restart `meshplane serve` with it, then give every proxy a new bootstrap",
    severity: 'error',
  };
}

function sameCaSettings(a: CaSettings, b: CaSettings): boolean {
  return a.keyAlgorithm === b.keyAlgorithm && a.workloadCertTtlSeconds === b.workloadCertTtlSeconds && a.rotationRatio === b.rotationRatio;
}

function certFacts(cert: IssuedCert, rootFingerprint: string, trustedRoots: string[]): CertFacts {
  return {
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    uriSans: cert.uriSans,
    rootFingerprint,
    trustedRoots,
  };
}
