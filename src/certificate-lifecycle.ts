import type { Logger } from 'pino';
import type { CaMetricsSource } from './admin/metrics.ts';
import type { Authority } from './ca/authority.ts';
import { issueWorkloadCert, type IssuedCert } from './ca/issue.ts';
import { rotationStepDone, type ProxyTrustState } from './ca/rotation-progress.ts';
import type { WorkloadCa } from './ca/workload-ca.ts';
import { WorkloadCertificates, type IssueFn } from './ca/workload-certs.ts';
import type { Clock, Timer } from './clock.ts';
import type { CaSettings } from './model/types.ts';
import type { ProxyStatus } from './xds/proxy-status.ts';
import { selectResources } from './xds/snapshot.ts';
import type { SnapshotCache } from './xds/snapshot-cache.ts';
import { TYPE_URL } from './xds/type-urls.ts';

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

export interface LifecycleDeps {
  workloadCa: WorkloadCa;
  /** The state dir's root (the xDS channel's), for status. */
  xdsRoot: Authority;
  cache: SnapshotCache;
  proxies: () => ProxyStatus[];
  clock: Clock;
  logger: Logger;
  issue?: IssueFn;
  /** Runs work after whatever the control plane is applying, one thing at a time. */
  enqueue: (work: () => Promise<void>) => Promise<void>;
  /** Rotated certificates for these nodes: push them (their `default` secret only). */
  pushCertificates: (rotated: [nodeId: string, cert: IssuedCert][]) => void;
  /** The trust bundle or signer changed: re-translate every proxy. */
  retranslate: () => Promise<void>;
}

/** How often a root rotation in progress checks whether its phase reached every proxy. */
const ROOT_CHECK_MS = 500;
/** Between rotations the state file is watched; this poll only backs the watch up. */
const ROOT_IDLE_CHECK_MS = 30_000;
/** A failed issuance is retried after this long. */
const RETRY_MS = 5000;
/** How many secret versions per proxy are remembered, to tell which one Envoy ACKed. */
const SECRET_HISTORY = 4;

/**
 * Workload certificates over time: issued when a proxy needs one, replaced when due (pushed to
 * that proxy alone), and moved to a new root phase by phase as `meshplane ca rotate-root` asks,
 * each phase only once every connected proxy has ACKed the previous one.
 */
export class CertificateLifecycle {
  certs: WorkloadCertificates;
  private readonly issued = { ok: 0, failed: 0 };
  /** Per node: the facts of the last few secret versions it was sent, by version. */
  private readonly facts = new Map<string, Map<string, CertFacts>>();
  /** Per node: its SPIFFE ID in the current config (what a rotated certificate is issued for). */
  private identities = new Map<string, string>();
  private rotationTimer: Timer | undefined;
  private rootCheckTimer: Timer | undefined;
  private waitingFor: string[] = [];
  private stopped = false;
  /**
   * Nodes whose xDS token was revoked and that have not connected with a valid one since: their
   * certificate is held as it is (it still builds their snapshot, which no stream can fetch) and
   * never renewed; `resume` renews it if it fell due meanwhile.
   */
  private readonly paused = new Set<string>();

  constructor(
    private readonly deps: LifecycleDeps,
    ca: CaSettings,
  ) {
    this.certs = this.newCertificates(ca);
  }

  /** New TTL, ratio or key type: every workload gets a certificate under the new settings. */
  settingsChanged(ca: CaSettings): void {
    this.certs = this.newCertificates(ca);
  }

  /** The certificates of the current config's proxies, issued together (the issuer queues them). */
  async ensureAll(identities: Map<string, string>): Promise<PromiseSettledResult<IssuedCert>[]> {
    this.identities = identities;
    // Most are cached: taken as they are, so that thousands of proxies cost no promise each.
    const results: PromiseSettledResult<IssuedCert>[] = [];
    const issuing: Promise<void>[] = [];
    for (const [node, id] of identities) {
      const at = results.length;
      // A paused node with no certificate yet (a restart) gets one: a snapshot needs it.
      const ready = this.paused.has(node) ? this.certs.peek(node)?.cert : this.certs.current(node, id);
      results.push(ready ? { status: 'fulfilled', value: ready } : { status: 'rejected', reason: undefined });
      if (!ready) {
        issuing.push(
          this.certs.ensure(node, id).then(
            (value) => void (results[at] = { status: 'fulfilled', value }),
            (reason: unknown) => void (results[at] = { status: 'rejected', reason }),
          ),
        );
      }
    }
    await Promise.all(issuing);
    return results;
  }

  /** The node's xDS token was revoked: its certificate is not renewed until `resume`. */
  pause(nodeId: string): void {
    this.paused.add(nodeId);
  }

  /**
   * The node connected with a valid token: renewal resumes, at once if its certificate fell due or
   * its identity changed while paused. False when it was not paused.
   */
  resume(nodeId: string): boolean {
    if (!this.paused.delete(nodeId)) return false;
    const held = this.certs.peek(nodeId);
    if (held && held.spiffeId !== this.identities.get(nodeId)) this.certs.expire(nodeId);
    // If due, now rather than after the retry delay: the proxy may hold an expired certificate.
    if (!this.certs.due(this.paused).includes(nodeId)) this.scheduleRotation();
    else void this.deps.enqueue(() => this.rotateDue()).catch((err: unknown) => this.deps.logger.error({ err, node: nodeId }, 'certificate renewal failed'));
    return true;
  }

  /** After ensureAll's snapshots are set: forget removed proxies, wake up when the next is due. */
  retain(live: Set<string>): void {
    this.certs.retain(live);
    for (const node of this.facts.keys()) if (!live.has(node)) this.facts.delete(node);
    this.scheduleRotation();
  }

  trustBundlePem(): string {
    return this.deps.workloadCa.trustBundlePem();
  }

  /** Remembers which certificate went out in the node's current secret version. */
  recordSent(nodeId: string): void {
    const entry = this.certs.peek(nodeId);
    const version = this.deps.cache.getSnapshot(nodeId)?.version(TYPE_URL.secret);
    if (!entry || !version) return;
    const history = this.facts.get(nodeId) ?? new Map<string, CertFacts>();
    history.delete(version);
    history.set(version, {
      serialNumber: entry.cert.serialNumber,
      notBefore: entry.cert.notBefore.toISOString(),
      notAfter: entry.cert.notAfter.toISOString(),
      uriSans: entry.cert.uriSans,
      rootFingerprint: entry.rootFingerprint,
      trustedRoots: this.deps.workloadCa.trustedRoots(),
    });
    while (history.size > SECRET_HISTORY) history.delete(history.keys().next().value!);
    this.facts.set(nodeId, history);
  }

  /** The facts of the certificate a proxy ACKed (not merely sent). */
  ackedFacts(status: ProxyStatus): CertFacts | undefined {
    const versionAcked = status.types.find((t) => t.typeUrl === TYPE_URL.secret)?.versionAcked;
    const facts = this.facts.get(status.nodeId);
    if (!facts || !versionAcked) return undefined;
    if (facts.has(versionAcked)) return facts.get(versionAcked);
    // A named subscription's version covers the names asked for; with every secret asked for
    // (what Envoy does) it is the type's version, but check that it really is the current one.
    const current = this.currentSelection(status);
    return current?.version === versionAcked ? facts.get(current.typeVersion) : undefined;
  }

  private currentSelection(status: ProxyStatus): { version: string; typeVersion: string } | undefined {
    const snapshot = this.deps.cache.getSnapshot(status.nodeId);
    const secrets = status.types.find((t) => t.typeUrl === TYPE_URL.secret);
    if (!snapshot || !secrets) return undefined;
    const type = snapshot.get(TYPE_URL.secret);
    return { version: selectResources(type, secrets.subscribed).version, typeVersion: type.version };
  }

  /** Wakes up when the first certificate is due; failed issuance is retried. */
  private scheduleRotation(): void {
    this.rotationTimer?.cancel();
    this.rotationTimer = undefined;
    if (this.stopped) return;
    const next = this.certs.nextRotationAt(this.paused);
    const retry = this.certs.due(this.paused).length > 0;
    if (next === undefined && !retry) return;
    const delay = retry ? RETRY_MS : Math.max(next! - this.deps.clock.now(), 0);
    this.rotationTimer = this.deps.clock.setTimer(delay, () => void this.deps.enqueue(() => this.rotateDue()));
  }

  /** Replaces the certificates that are due and has them pushed; nothing else changes. */
  private async rotateDue(): Promise<void> {
    const due = this.certs.due(this.paused).filter((n) => this.identities.has(n));
    const results = await Promise.allSettled(due.map((n) => this.certs.ensure(n, this.identities.get(n)!)));
    const rotated: [string, IssuedCert][] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') rotated.push([due[i]!, r.value]);
      else this.deps.logger.error({ err: r.reason, node: due[i] }, 'certificate rotation failed; the proxy keeps its current certificate and it is retried');
    });
    this.deps.pushCertificates(rotated);
    if (due.length > 0) this.deps.logger.info({ rotated: rotated.length, failed: due.length - rotated.length }, 'workload certificates rotated');
    this.scheduleRotation();
  }

  private newCertificates(ca: CaSettings): WorkloadCertificates {
    const issue = this.deps.issue ?? issueWorkloadCert;
    return new WorkloadCertificates(ca, {
      signer: () => this.deps.workloadCa.signer(),
      trusts: (fp) => this.deps.workloadCa.trusts(fp),
      clock: this.deps.clock,
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
   * Checks the root rotation now and then: every 500 ms while one runs, every 30 s otherwise
   * (`checkRootsSoon` is called when the state file changes on disk).
   */
  scheduleRootCheck(delayMs?: number): void {
    if (this.stopped || !this.deps.workloadCa.rotation) return;
    this.rootCheckTimer?.cancel();
    const delay = delayMs ?? (this.deps.workloadCa.rotation.phase === 'stable' ? ROOT_IDLE_CHECK_MS : ROOT_CHECK_MS);
    this.rootCheckTimer = this.deps.clock.setTimer(delay, () => {
      void this.deps
        .enqueue(() => this.checkRootRotation())
        .catch((err: unknown) => this.deps.logger.error({ err }, 'root rotation check failed; retrying'))
        .finally(() => this.scheduleRootCheck());
    });
  }

  /**
   * Trust the new root everywhere, then issue from it, then drop the old one: a phase ends when
   * every connected proxy ACKed the secrets it brought. The state file is re-read each time, so
   * `meshplane ca rotate-root` next to a live server is picked up.
   */
  private async checkRootRotation(): Promise<void> {
    const rotation = this.deps.workloadCa.rotation!;
    const now = () => new Date(this.deps.clock.now());
    let changed = await rotation.reload(now());
    if (changed) this.deps.logger.info({ phase: rotation.phase, roots: rotation.info() }, 'root rotation state changed on disk');
    if (rotation.phase !== 'stable') {
      const { done, waitingFor } = rotationStepDone(rotation.phase, rotation.next()!.rootFingerprint, this.proxyTrustStates());
      this.waitingFor = waitingFor;
      if (done) {
        const phase = await rotation.advance(now());
        this.deps.logger.info({ phase, roots: rotation.info() }, phase === 'stable' ? 'root rotation complete: the old root left the trust bundle' : `root rotation: phase ${phase}`);
        if (phase === 'issue-next' && rotation.reissue) this.certs.expireAll();
        changed = true;
      }
    }
    // New bundle or signer: every proxy gets new secrets (new-root certificates as they come
    // due, or now with --reissue).
    if (changed) await this.deps.retranslate();
  }

  /** What every connected proxy holds, judged by whether it ACKed its current secrets. */
  private proxyTrustStates(): ProxyTrustState[] {
    return this.deps.proxies().map((s) => {
      const current = this.currentSelection(s);
      const acked = current !== undefined && s.types.find((t) => t.typeUrl === TYPE_URL.secret)?.versionAcked === current.version;
      const sent = current && this.facts.get(s.nodeId)?.get(current.typeVersion);
      return { nodeId: s.nodeId, secretsAcked: acked, trustedRoots: sent?.trustedRoots ?? [], ...(sent && { certRoot: sent.rootFingerprint }) };
    });
  }

  /** /debug/ca and `meshplane ca status`. */
  status() {
    const { workloadCa, xdsRoot } = this.deps;
    const rotation = workloadCa.rotation;
    const rotating = rotation !== undefined && rotation.phase !== 'stable';
    const proxies = this.deps.proxies().map((s) => {
      const acked = this.ackedFacts(s);
      return { nodeId: s.nodeId, ...(acked && { rootFingerprint: acked.rootFingerprint, serialNumber: acked.serialNumber, notAfter: acked.notAfter }) };
    });
    const byRoot: Record<string, number> = {};
    for (const p of proxies) byRoot[p.rootFingerprint ?? 'none ACKed yet'] = (byRoot[p.rootFingerprint ?? 'none ACKed yet'] ?? 0) + 1;
    return {
      mode: workloadCa.mode,
      phase: rotation?.phase ?? 'stable',
      ...(rotating && { startedAt: rotation.startedAt, reissue: rotation.reissue, waitingFor: this.waitingFor }),
      signer: workloadCa.signer().rootFingerprint,
      roots: rotation?.info() ?? workloadCa.trustedRoots().map((fingerprint) => ({ fingerprint, signs: true })),
      proxiesByRoot: byRoot,
      proxies,
      xdsRoot: { fingerprint: xdsRoot.rootFingerprint, notAfter: xdsRoot.caCert.notAfter.toISOString() },
      issued: { ...this.issued },
    };
  }

  /** /metrics. */
  metrics(): CaMetricsSource {
    const seconds = (d: Date) => d.getTime() / 1000;
    const certs = [...this.certs.entries()].map(([nodeId, e]) => ({ nodeId, notAfter: seconds(e.cert.notAfter) }));
    const { workloadCa, xdsRoot } = this.deps;
    // A provided intermediate's roots are not ours to watch; its own expiry is signerNotAfter.
    const roots: CaMetricsSource['roots'] = [
      { purpose: 'xds', fingerprint: xdsRoot.rootFingerprint, notAfter: seconds(xdsRoot.caCert.notAfter) },
      ...(workloadCa.rotation?.info() ?? []).map((r) => ({ purpose: 'workload' as const, fingerprint: r.fingerprint, notAfter: Date.parse(r.notAfter) / 1000 })),
    ];
    return {
      issued: this.issued.ok,
      failed: this.issued.failed,
      phase: workloadCa.rotation?.phase ?? 'stable',
      trustedRoots: workloadCa.trustedRoots().length,
      certs,
      roots,
      signerNotAfter: seconds(workloadCa.signer().caCert.notAfter),
    };
  }

  stop(): void {
    this.stopped = true;
    this.rotationTimer?.cancel();
    this.rootCheckTimer?.cancel();
  }
}
