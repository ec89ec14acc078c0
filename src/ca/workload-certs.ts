/**
 * The per-proxy certificate cache. Config rebuilds happen often (every config change); a proxy must
 * keep its certificate across them, or every rebuild would push a new SDS secret to every proxy.
 * Certificates are replaced when the identity changes, when their rotation point is reached, or
 * when the root that signed them is no longer trusted (root rotation).
 */
import { systemClock, type Clock } from '../clock.ts';
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { issueWorkloadCert, type IssuedCert, type WorkloadCertRequest } from './issue.ts';

export interface WorkloadCertSettings {
  keyAlgorithm: KeyAlgorithm;
  workloadCertTtlSeconds: number;
  /** Fraction of the lifetime after which a cert is replaced (Istio: 0.5). In (0, 1]. */
  rotationRatio: number;
}

/** Issues one leaf; the worker pool in production, issueWorkloadCert inline in tests. */
export type IssueFn = (authority: Authority, req: WorkloadCertRequest) => Promise<IssuedCert>;

export interface WorkloadCertOptions {
  /** The CA that signs new certificates now (it changes during a root rotation). */
  signer: () => Authority;
  /** Whether certificates chaining to this root (fingerprint) are still trusted by the mesh. */
  trusts?: (rootFingerprint: string) => boolean;
  issue?: IssueFn;
  clock?: Clock;
  /** In [0, 1): spreads rotation points so a mesh does not rotate all at once. */
  random?: () => number;
}

/**
 * Rotation happens between `ratio - ROTATION_JITTER` and `ratio` of the lifetime (0.45–0.5 of it
 * by default): never later than asked, and spread over 5% of the lifetime.
 */
export const ROTATION_JITTER = 0.05;

export interface CertEntry {
  spiffeId: string;
  cert: IssuedCert;
  /** sha256 of the root the certificate chains to. */
  rootFingerprint: string;
  rotateAt: number;
}

const NONE: ReadonlySet<string> = new Set();

interface Pending {
  spiffeId: string;
  promise: Promise<IssuedCert>;
}

/** Workload certificates by node id, issued on demand and rotated at `rotationRatio` of their life. */
export class WorkloadCertificates {
  readonly #issued = new Map<string, CertEntry>();
  readonly #pending = new Map<string, Pending>();
  readonly #issue: IssueFn;
  readonly #clock: Clock;
  readonly #random: () => number;
  issuedCount = 0;
  failedCount = 0;

  constructor(
    private readonly settings: WorkloadCertSettings,
    private readonly opts: WorkloadCertOptions,
  ) {
    if (!(settings.rotationRatio > 0 && settings.rotationRatio <= 1)) {
      throw new MeshplaneError('CA_FAILED', `rotationRatio must be in (0, 1], got ${settings.rotationRatio}`);
    }
    if (!(settings.workloadCertTtlSeconds > 0)) {
      throw new MeshplaneError('CA_FAILED', `workloadCertTtlSeconds must be positive, got ${settings.workloadCertTtlSeconds}`);
    }
    this.#issue = opts.issue ?? issueWorkloadCert;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
  }

  /**
   * The current cert for nodeId; issues a new one if none, if the spiffeId changed, if its
   * rotation point has passed, or if its root is no longer trusted.
   */
  ensure(nodeId: string, spiffeId: string): Promise<IssuedCert> {
    const now = this.#clock.now();
    const cached = this.#current(nodeId, spiffeId, now);
    if (cached) return Promise.resolve(cached);
    // Concurrent callers for the same identity share one issuance.
    const pending = this.#pending.get(nodeId);
    if (pending && pending.spiffeId === spiffeId) return pending.promise;

    const mine = { spiffeId } as Pending;
    mine.promise = this.#issueFor(nodeId, mine, now);
    this.#pending.set(nodeId, mine);
    return mine.promise;
  }

  /** The certificate `ensure` would return at once, without issuing; undefined when it would issue one. */
  current(nodeId: string, spiffeId: string): IssuedCert | undefined {
    return this.#current(nodeId, spiffeId, this.#clock.now());
  }

  #current(nodeId: string, spiffeId: string, now: number): IssuedCert | undefined {
    const entry = this.#issued.get(nodeId);
    return entry && entry.spiffeId === spiffeId && now < entry.rotateAt && this.#trusted(entry) ? entry.cert : undefined;
  }

  async #issueFor(nodeId: string, mine: Pending, now: number): Promise<IssuedCert> {
    const { spiffeId } = mine;
    const signer = this.opts.signer();
    try {
      const cert = await this.#issue(signer, {
        spiffeId,
        ttlSeconds: this.settings.workloadCertTtlSeconds,
        keyAlgorithm: this.settings.keyAlgorithm,
        now: new Date(now),
      });
      this.issuedCount++;
      // Only the latest request for a node may store: a forget()/retain() or a newer identity
      // during issuance must not be undone by this older one finishing.
      if (this.#pending.get(nodeId) === mine) {
        const rotateAt = rotationPoint(now, cert.notAfter.getTime(), this.settings.rotationRatio, this.#random());
        this.#issued.set(nodeId, { spiffeId, cert, rootFingerprint: signer.rootFingerprint, rotateAt });
      }
      return cert;
    } catch (err) {
      this.failedCount++;
      throw err;
    } finally {
      if (this.#pending.get(nodeId) === mine) this.#pending.delete(nodeId);
    }
  }

  #trusted(entry: CertEntry): boolean {
    return this.opts.trusts?.(entry.rootFingerprint) ?? true;
  }

  /** Earliest rotation point of any cached cert but those of `except` (undefined when none): when to look again. */
  nextRotationAt(except: ReadonlySet<string> = NONE): number | undefined {
    let earliest: number | undefined;
    for (const [node, { rotateAt }] of this.#issued) if (!except.has(node) && (earliest === undefined || rotateAt < earliest)) earliest = rotateAt;
    return earliest;
  }

  /** Nodes (but those of `except`) whose certificate must be replaced now: rotation point reached, or root no longer trusted. */
  due(except: ReadonlySet<string> = NONE): string[] {
    const now = this.#clock.now();
    return [...this.#issued].filter(([node, e]) => !except.has(node) && (e.rotateAt <= now || !this.#trusted(e))).map(([node]) => node);
  }

  /** Makes every cached certificate due now (a root rotation with --reissue). */
  expireAll(): void {
    const now = this.#clock.now();
    for (const entry of this.#issued.values()) entry.rotateAt = Math.min(entry.rotateAt, now);
  }

  /** Makes one node's certificate due now (it was held back while its xDS token was revoked). */
  expire(nodeId: string): void {
    const entry = this.#issued.get(nodeId);
    if (entry) entry.rotateAt = Math.min(entry.rotateAt, this.#clock.now());
  }

  /** The cached entry of a node, without issuing (status pages: serial, expiry, root). */
  peek(nodeId: string): CertEntry | undefined {
    return this.#issued.get(nodeId);
  }

  entries(): IterableIterator<[string, CertEntry]> {
    return this.#issued.entries();
  }

  /** Workload removed: drop its cert (and let any issuance in flight finish without storing). */
  forget(nodeId: string): void {
    this.#issued.delete(nodeId);
    this.#pending.delete(nodeId);
  }

  /** Drop every cached cert whose node is not in keep. */
  retain(keep: Set<string>): void {
    for (const nodeId of [...this.#issued.keys(), ...this.#pending.keys()]) {
      if (!keep.has(nodeId)) this.forget(nodeId);
    }
  }
}

/**
 * issuedAt + (ratio - jitter) × (notAfter − issuedAt), jitter in [0, ROTATION_JITTER). Measured
 * from the issue time, not the backdated notBefore, so ratio 0.5 of a 24 h cert rotates at
 * 10.8–12 h, as in Istio (which also jitters its grace period).
 */
export function rotationPoint(issuedAt: number, notAfter: number, ratio: number, random: number): number {
  const fraction = Math.max(ratio - ROTATION_JITTER * random, ratio / 2);
  return issuedAt + Math.max(0, notAfter - issuedAt) * fraction;
}
