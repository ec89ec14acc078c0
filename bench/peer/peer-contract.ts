/**
 * The go-control-plane peer as the scenarios use it (bench/peer/start-peer.ts implements it): a Go
 * server built on github.com/envoyproxy/go-control-plane (SnapshotCache + ADS server, SotW and
 * Delta, plaintext) serving the very resources meshplane translated, exported byte for byte.
 */
export interface PeerServer {
  /** `127.0.0.1:<port>` to point the load generator at. */
  address: string;
  pid: number;
  /** The peer process's resident set size now, in bytes (/proc/<pid>/status VmRSS). */
  rssBytes(): number;
  /**
   * Replaces the snapshots from `snapshotDir` again (after `exportSnapshots` wrote new ones) and
   * resolves once the peer has set them all (its SetSnapshot calls returned).
   */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** One node's resources as the peer reads them: each resource's serialized proto bytes, base64. */
export interface ExportedSnapshot {
  nodeId: string;
  version: string;
  /**
   * Per type URL, the version meshplane serves that type under (every type its snapshot holds,
   * empty ones too); the peer serves each type under it, so a change pushes only the types it
   * changed, as meshplane does. A type missing here is served under `version`.
   */
  typeVersions?: Record<string, string>;
  resources: { typeUrl: string; name: string; base64: string }[];
}
