/**
 * Who may open an xDS stream, as the running server sees it: the token key and trust domain for
 * the credentials (ca/xds-client-auth.ts), the clock for token expiry, and the revocations in the
 * state dir, re-read whenever `meshplane token revoke` rewrites them.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { readRevocations, REVOCATIONS_FILE, type Revocations } from './ca/token-revocations.ts';
import { TOKEN_METADATA_KEY } from './ca/tokens.ts';
import { xdsClientCertificateRejection, xdsClientRejection } from './ca/xds-client-auth.ts';
import type { Clock } from './clock.ts';

export interface XdsAccessOptions {
  stateDir: string;
  tokenKey: Buffer;
  trustDomain: () => string;
  /** Token expiry is judged on this clock (tests pass a fake one). */
  clock: Clock;
  logger: Logger;
  /** A node's tokens issued up to `revokedAt` were revoked while serving: end its streams. */
  onRevoked: (nodeId: string, revokedAt: number) => void;
}

/** The file watch's backup, for filesystems that drop events (NFS); revocations are rare and the file small. */
const POLL_MS = 30_000;

export class XdsAccess {
  #revocations: Map<string, number>;
  #reloading: Promise<void> = Promise.resolve();
  #lastError = '';

  private constructor(
    private readonly o: XdsAccessOptions,
    revocations: Revocations,
  ) {
    this.#revocations = new Map(revocations);
  }

  /** Reads the revocations; a corrupt file stops the start (STATE_INVALID naming it): fail closed. */
  static async open(o: XdsAccessOptions): Promise<XdsAccess> {
    return new XdsAccess(o, await readRevocations(o.stateDir));
  }

  /** Whether a stream may be `nodeId`; a refusal is logged with its reason, never the token. */
  authenticate(nodeId: string, metadata: grpc.Metadata, peerCertificate: PeerCertificate | undefined): boolean {
    const token = metadata.get(TOKEN_METADATA_KEY)[0]?.toString();
    const at = { now: this.o.clock.now(), revokedAt: this.#revocations.get(nodeId) };
    const rejection = xdsClientRejection(this.o.tokenKey, this.o.trustDomain(), { nodeId, token, peerCertificate }, at);
    if (rejection) this.o.logger.warn({ nodeId, reason: rejection }, 'xDS client rejected');
    return rejection === undefined;
  }

  /**
   * Whether a connection report stream (gRPC access log, which carries no token) may speak for
   * `nodeId`: its xDS client certificate names the node. Revocation is not checked: it guards
   * keys, and a report grants nothing.
   */
  authenticateReports(nodeId: string, peerCertificate: PeerCertificate | undefined): boolean {
    const rejection = xdsClientCertificateRejection(this.o.trustDomain(), nodeId, peerCertificate);
    if (rejection) this.o.logger.warn({ nodeId, reason: rejection }, 'connection reports rejected');
    return rejection === undefined;
  }

  /** Nodes with a revocation on record. */
  revokedNodes(): string[] {
    return [...this.#revocations.keys()];
  }

  /**
   * Re-reads the file and reports each node revoked anew (or again, later). Revocations only ever
   * grow while serving: an entry deleted or a file restored from an older backup lifts nothing (a
   * new bootstrap is how a node gets back). A file that cannot be read is logged; the revocations
   * known so far stay in force.
   */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      let next: Revocations;
      try {
        next = await readRevocations(this.o.stateDir);
        this.#lastError = '';
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.#lastError) this.o.logger.error(`${message}; the revocations read before stay in force`);
        this.#lastError = message;
        return;
      }
      for (const [node, at] of next) {
        if (at <= (this.#revocations.get(node) ?? -Infinity)) continue;
        this.#revocations.set(node, at);
        this.o.logger.warn({ nodeId: node, revokedAt: new Date(at).toISOString() }, 'xDS tokens revoked');
        this.o.onRevoked(node, at);
      }
    });
    return this.#reloading;
  }

  /** Watches the state dir for the revocations file (written by rename, so the name is what counts). */
  watch(): { close(): void } {
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.o.stateDir, (_event, name) => {
        if (name === null || name === REVOCATIONS_FILE) void this.reload();
      });
      watcher.on('error', () => void this.reload());
    } catch (err) {
      this.o.logger.warn({ err, stateDir: this.o.stateDir }, `cannot watch the state dir; ${REVOCATIONS_FILE} is polled every ${POLL_MS / 1000} s`);
    }
    const poll = setInterval(() => void this.reload(), POLL_MS);
    poll.unref();
    return {
      close: () => {
        watcher?.close();
        clearInterval(poll);
      },
    };
  }
}
