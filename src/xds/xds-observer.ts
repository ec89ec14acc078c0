/**
 * What the ADS server reports as it happens, for whoever measures it (admin/metrics.ts turns these
 * into Prometheus series; this layer stays free of any metrics library). Observers are called
 * synchronously on the hot path: keep them to a counter increment or a histogram observation.
 */
export interface XdsObserver {
  /** A DiscoveryResponse or DeltaDiscoveryResponse of `typeUrl` was written to a stream. */
  pushSent?(typeUrl: string): void;
  /** A proxy rejected (NACKed) a response of `typeUrl`. */
  nackReceived?(typeUrl: string): void;
  /**
   * Seconds from a snapshot change of the node (SnapshotCache.setSnapshot) to the write of the first
   * response carrying it on one of its streams; responses not caused by a change (a first request,
   * a resubscription) have none.
   */
  pushLatency?(typeUrl: string, seconds: number): void;
  /** Seconds from a snapshot change to the proxy's ACK of a response carrying it; a NACKed change has none. */
  converged?(typeUrl: string, seconds: number): void;
}

/** Every hook of {@link XdsObserver}, as the streams call them. */
export type XdsEvents = Required<XdsObserver>;

/** Monotonic milliseconds: the default clock of push timings (wall-clock jumps do not skew them). */
export const monotonicMs = (): number => performance.now();
