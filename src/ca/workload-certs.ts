/**
 * The per-proxy certificate cache. Config rebuilds happen often (every config change); a proxy must
 * keep its certificate across them, or every rebuild would push a new SDS secret to every proxy.
 * Certificates are replaced only when the identity changes or the rotation point is reached.
 */
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { issueWorkloadCert, type IssuedCert } from './issue.ts';

export interface WorkloadCertSettings {
  keyAlgorithm: KeyAlgorithm;
  workloadCertTtlSeconds: number;
  /** Fraction of the lifetime after which a cert is replaced (Istio: 0.5). In (0, 1]. */
  rotationRatio: number;
}

interface Entry {
  spiffeId: string;
  cert: IssuedCert;
  rotateAt: Date;
}

interface Pending {
  spiffeId: string;
  promise: Promise<IssuedCert>;
}

/** Workload certificates by node id, issued on demand and rotated at `rotationRatio` of their life. */
export class WorkloadCertificates {
  readonly #issued = new Map<string, Entry>();
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly authority: Authority,
    private readonly settings: WorkloadCertSettings,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (!(settings.rotationRatio > 0 && settings.rotationRatio <= 1)) {
      throw new MeshplaneError('CA_FAILED', `rotationRatio must be in (0, 1], got ${settings.rotationRatio}`);
    }
    if (!(settings.workloadCertTtlSeconds > 0)) {
      throw new MeshplaneError('CA_FAILED', `workloadCertTtlSeconds must be positive, got ${settings.workloadCertTtlSeconds}`);
    }
  }

  /** The current cert for nodeId; issues a new one if none, if the spiffeId changed, or if rotationRatio of its lifetime has passed. */
  ensure(nodeId: string, spiffeId: string): Promise<IssuedCert> {
    const now = this.now();
    const entry = this.#issued.get(nodeId);
    if (entry && entry.spiffeId === spiffeId && now.getTime() < entry.rotateAt.getTime()) {
      return Promise.resolve(entry.cert);
    }
    // Concurrent callers for the same identity share one issuance.
    const pending = this.#pending.get(nodeId);
    if (pending && pending.spiffeId === spiffeId) return pending.promise;

    const mine = { spiffeId } as Pending;
    mine.promise = this.#issue(nodeId, mine, now);
    this.#pending.set(nodeId, mine);
    return mine.promise;
  }

  async #issue(nodeId: string, mine: Pending, now: Date): Promise<IssuedCert> {
    const { spiffeId } = mine;
    try {
      const cert = await issueWorkloadCert(this.authority, {
        spiffeId,
        ttlSeconds: this.settings.workloadCertTtlSeconds,
        keyAlgorithm: this.settings.keyAlgorithm,
        now,
      });
      // Only the latest request for a node may store: a forget()/retain() or a newer identity
      // during issuance must not be undone by this older one finishing.
      if (this.#pending.get(nodeId) === mine) {
        this.#issued.set(nodeId, { spiffeId, cert, rotateAt: rotationPoint(now, cert.notAfter, this.settings.rotationRatio) });
      }
      return cert;
    } finally {
      if (this.#pending.get(nodeId) === mine) this.#pending.delete(nodeId);
    }
  }

  /** Earliest time any cached cert is due for rotation (undefined when empty) — the server schedules a rebuild then. */
  nextRotationAt(): Date | undefined {
    let earliest: Date | undefined;
    for (const { rotateAt } of this.#issued.values()) {
      if (!earliest || rotateAt.getTime() < earliest.getTime()) earliest = rotateAt;
    }
    return earliest;
  }

  /** The cached cert of a node, without issuing (for status pages: serial, expiry). */
  peek(nodeId: string): IssuedCert | undefined {
    return this.#issued.get(nodeId)?.cert;
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
 * issuedAt + ratio × (notAfter − issuedAt). Measured from the issue time, not the backdated
 * notBefore, so ratio 0.5 of a 24 h cert rotates at 12 h, as in Istio.
 */
function rotationPoint(issuedAt: Date, notAfter: Date, ratio: number): Date {
  const start = issuedAt.getTime();
  return new Date(start + Math.max(0, notAfter.getTime() - start) * ratio);
}
