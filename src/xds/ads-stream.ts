/**
 * One State-of-the-World ADS stream: the per-type-URL state machine (subscription, nonces, versions
 * sent and ACKed, NACKs) and the decision of when to write a DiscoveryResponse.
 *
 * Rules (reference/xds-protocol.md 1.3-1.6, 1.10): the first request of a type is always answered;
 * ACKs and NACKs are answered only if the desired state changed; a NACKed version is never resent;
 * a changed subscription is answered even when nothing changed; stale nonces are ignored; named types
 * are answered with the intersection of requested and existing names; pushes follow PUSH_ORDER.
 */
import type { DiscoveryRequestMessage, DiscoveryResponseMessage } from './ads-service.ts';
import type { NackStatus, SentResource, TypeStatus } from './proxy-status.ts';
import { EMPTY_SNAPSHOT, selectResources } from './snapshot.ts';
import { TYPE_URL, shortTypeName, sortByPushOrder } from './type-urls.ts';
import { ackStatus, type AckState } from './ack-state.ts';
import { XdsStream } from './xds-stream.ts';

export type { AdsStreamHost } from './xds-stream.ts';

interface TypeState extends AckState {
  readonly typeUrl: string;
  /** Explicit `*`, or the legacy wildcard (empty names on a type that never had explicit names). */
  wildcard: boolean;
  /** Explicitly requested names without `*`, sorted and unique. */
  names: string[];
  /** The client has sent a non-empty resource_names for this type: empty now means "nothing". */
  explicit: boolean;
  /** What the latest response carried (shared encoded bytes) with each resource's content hash, for CSDS. */
  sent: (SentResource & { hash: string })[];
}

/** One SotW ADS stream, driven by its requests and by snapshot updates of its node. */
export class AdsStream extends XdsStream<DiscoveryRequestMessage, DiscoveryResponseMessage> {
  readonly transport = 'sotw';
  readonly #types = new Map<string, TypeState>();

  protected handle(req: DiscoveryRequestMessage): void {
    const typeUrl = req.type_url!;
    let st = this.#types.get(typeUrl);
    const first = st === undefined;
    if (!st) {
      st = { typeUrl, wildcard: false, names: [], explicit: false, sent: [] };
      this.#types.set(typeUrl, st);
    }
    const nonce = req.response_nonce ?? '';
    if (st.nonceSent !== undefined) {
      // SotW: a request is stale once a newer nonce went out for its type; its successor will come.
      if (nonce !== st.nonceSent) {
        this.log.debug({ typeUrl, nonce, latest: st.nonceSent }, 'ignoring DiscoveryRequest with a stale nonce');
        return;
      }
      if (req.error_detail) this.#onNack(st, req);
      else {
        st.nonceAcked = nonce;
        st.versionAcked = req.version_info ?? '';
        st.ackedAt = new Date().toISOString();
        this.recordAck(typeUrl, nonce);
      }
    }
    const subscriptionChanged = this.#subscribe(st, req.resource_names ?? []);
    // First request: always answer (even empty) or Envoy waits initial_fetch_timeout. Changed names:
    // resend what is requested even if unchanged. Otherwise (ACK/NACK): only if the state moved on.
    this.send(typeUrl, first || subscriptionChanged);
  }

  protected hasType(typeUrl: string): boolean {
    return this.#types.has(typeUrl);
  }

  protected buildResponse(typeUrl: string, nonce: string, force: boolean): DiscoveryResponseMessage | undefined {
    const st = this.#types.get(typeUrl);
    if (!st) return undefined;
    const snapshot = this.host.cache.getSnapshot(this.nodeId!) ?? EMPTY_SNAPSHOT;
    const { version, resources, names } = selectResources(snapshot.get(typeUrl), st.wildcard ? '*' : st.names);
    if (!force && version === st.versionSent) return undefined;
    st.versionSent = version;
    st.nonceSent = nonce;
    st.sentAt = new Date().toISOString();
    // Like Envoy's config_dump: a resource keeps the version (and time) of the response that last changed it.
    const before = new Map(st.sent.map((r) => [r.name, r]));
    st.sent = resources.map((r, i) => {
      const kept = before.get(names[i]!);
      return kept?.hash === r.hash ? kept : { name: names[i]!, hash: r.hash, version, any: r.any, sentAt: st.sentAt! };
    });
    this.log.debug({ typeUrl, version, nonce, resources: resources.length }, 'sending DiscoveryResponse');
    return {
      version_info: version,
      resources: resources.map((r) => r.any),
      type_url: typeUrl,
      nonce,
      control_plane: { identifier: this.host.controlPlaneId },
    };
  }

  /**
   * Envoy finishes warming an (updated) EDS cluster only when a ClusterLoadAssignment arrives, even an
   * unchanged one (xds-protocol.md 1.4; go-control-plane#1035): follow every CDS response with the
   * stream's EDS subscription, unless that exact version was NACKed.
   */
  protected override afterSend(typeUrl: string): void {
    if (typeUrl !== TYPE_URL.cluster) return;
    const eds = this.#types.get(TYPE_URL.endpoint);
    if (!eds || eds.nonceSent === undefined) return;
    const nacked = eds.lastNack !== undefined && eds.lastNack.nonce === eds.nonceSent;
    this.send(TYPE_URL.endpoint, !nacked);
  }

  protected typeStatuses(): TypeStatus[] {
    return sortByPushOrder(this.#types.keys()).map((t) => {
      const st = this.#types.get(t)!;
      return { typeUrl: t, subscribed: st.wildcard ? '*' : [...st.names], resources: st.sent.length, ...ackStatus(st, this.isOwed(t)) };
    });
  }

  protected sentResources(typeUrl: string): SentResource[] {
    return (this.#types.get(typeUrl)?.sent ?? []).map(({ hash: _, ...r }) => r);
  }

  protected clear(): void {
    this.#types.clear();
  }

  /** Applies `resource_names` to the subscription; true if it changed. */
  #subscribe(st: TypeState, names: readonly string[]): boolean {
    const before = subscriptionKey(st);
    if (names.length === 0 && !st.explicit) {
      st.wildcard = true; // legacy wildcard
      st.names = [];
    } else {
      st.explicit = true;
      st.wildcard = names.includes('*');
      st.names = [...new Set(names.filter((n) => n !== '*'))].sort();
    }
    return subscriptionKey(st) !== before;
  }

  #onNack(st: TypeState, req: DiscoveryRequestMessage): void {
    const nack: NackStatus = {
      version: st.versionSent ?? '',
      nonce: st.nonceSent ?? '',
      message: req.error_detail?.message ?? '',
      at: new Date().toISOString(),
    };
    st.lastNack = nack;
    this.recordNack(st.typeUrl, nack.nonce);
    this.log.warn({ typeUrl: st.typeUrl, type: shortTypeName(st.typeUrl), version: nack.version, nonce: nack.nonce, error: nack.message }, 'proxy rejected (NACKed) an xDS response');
  }
}

function subscriptionKey(st: TypeState): string {
  return `${st.wildcard ? '*' : ''}|${st.names.join('\0')}`;
}
