/**
 * One Delta (incremental) ADS stream over the same snapshot cache as State of the World.
 *
 * The server keeps, per type, what it believes the client holds (name -> version): seeded from
 * `initial_resource_versions` on reconnect, updated on every send. A response carries the resources
 * in scope whose version differs from that belief and `removed_resources` for names the client holds
 * that no longer exist (reference/xds-protocol.md 1.7; istio#41494, java-control-plane#463).
 * Sent versions count as held even when NACKed, so a rejected version is never resent. Subscription
 * changes are honoured whatever the nonce (the spec forbids rejecting stale Delta requests); a
 * newly subscribed name is always (re)sent, or reported in `removed_resources` if it does not exist.
 */
import type { DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage, DeltaResourceMessage } from './ads-service.ts';
import type { EncodedAny } from './resource-encoder.ts';
import type { NackStatus, SentResource, TypeStatus } from './proxy-status.ts';
import { EMPTY_SNAPSHOT } from './snapshot.ts';
import { TYPE_URL, shortTypeName, sortByPushOrder } from './type-urls.ts';
import { ackStatus, type AckState } from './ack-state.ts';
import { XdsStream } from './xds-stream.ts';

/** What the client holds of one resource, as far as the server knows. */
interface Held {
  version: string;
  /** Set when this stream sent it; absent for versions only announced in initial_resource_versions. */
  any?: EncodedAny;
  sentAt?: string;
}

interface TypeState extends AckState {
  readonly typeUrl: string;
  wildcard: boolean;
  /** Explicitly subscribed names (besides `*`). */
  readonly names: Set<string>;
  readonly held: Map<string, Held>;
  /** Subscribed names reported as not existing, so the report is not repeated. */
  readonly toldAbsent: Set<string>;
  /** Names to send even if the client holds that version (new subscriptions, EDS after CDS). */
  readonly force: Set<string>;
  /** The first request of the type on this stream is answered even when there is nothing to say. */
  firstOwed: boolean;
  initialResourceVersions: number;
  /** Nonces sent and not yet ACKed or NACKed -> the system version and the resource versions they carried. */
  readonly outstanding: Map<string, { version: string; resources: Map<string, string> }>;
  /** Resource versions the client NACKed (name -> version): warming never forces them out again. */
  readonly rejected: Map<string, string>;
}

/** At most this many unanswered nonces are remembered per type (an Envoy answers every response). */
const MAX_OUTSTANDING = 32;

export class DeltaStream extends XdsStream<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage> {
  readonly transport = 'delta';
  readonly #types = new Map<string, TypeState>();

  protected handle(req: DeltaDiscoveryRequestMessage): void {
    const typeUrl = req.type_url!;
    let st = this.#types.get(typeUrl);
    const first = st === undefined;
    if (!st) {
      st = newTypeState(typeUrl);
      this.#types.set(typeUrl, st);
    }
    if (req.response_nonce) this.#acknowledge(st, req);
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (first) {
      // Legacy wildcard: a first request naming nothing (what Envoy sends for LDS/CDS, also on reconnect).
      st.wildcard = subscribe.length === 0 && unsubscribe.length === 0;
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) st.held.set(name, { version });
      st.initialResourceVersions = st.held.size;
    }
    for (const name of subscribe) {
      if (name === '*') st.wildcard = true;
      else {
        st.names.add(name);
        // A reconnecting client names what it holds in initial_resource_versions: only differences go out.
        if (!(first && st.held.has(name))) st.force.add(name);
        st.toldAbsent.delete(name);
      }
    }
    for (const name of unsubscribe) this.#unsubscribe(st, name);
    this.send(typeUrl, false);
  }

  protected hasType(typeUrl: string): boolean {
    return this.#types.has(typeUrl);
  }

  protected buildResponse(typeUrl: string, nonce: string): DeltaDiscoveryResponseMessage | undefined {
    const st = this.#types.get(typeUrl);
    if (!st) return undefined;
    const type = (this.host.cache.getSnapshot(this.nodeId!) ?? EMPTY_SNAPSHOT).get(typeUrl);
    const resources: DeltaResourceMessage[] = [];
    const removed: string[] = [];
    // In scope: everything under a wildcard (including held names that are gone), else the named ones.
    const inScope = st.wildcard ? new Set([...type.resources.keys(), ...st.names, ...st.held.keys()]) : st.names;
    for (const name of inScope) {
      const r = type.resources.get(name);
      if (r) {
        if (st.force.has(name) || st.held.get(name)?.version !== r.hash) resources.push({ name, version: r.hash, resource: r.any });
      } else if (st.held.has(name) || !st.toldAbsent.has(name)) {
        removed.push(name);
      }
    }
    // Held but no longer subscribed (named mode): the client has dropped them itself.
    for (const name of st.held.keys()) if (!inScope.has(name)) st.held.delete(name);
    if (resources.length === 0 && removed.length === 0 && !st.firstOwed) {
      st.force.clear();
      return undefined;
    }

    const sentAt = new Date().toISOString();
    for (const r of resources) st.held.set(r.name, { version: r.version, any: r.resource, sentAt });
    for (const name of removed) {
      st.held.delete(name);
      st.rejected.delete(name);
      if (st.names.has(name)) st.toldAbsent.add(name);
    }
    st.force.clear();
    st.firstOwed = false;
    st.versionSent = type.version;
    st.nonceSent = nonce;
    st.sentAt = sentAt;
    st.outstanding.set(nonce, { version: type.version, resources: new Map(resources.map((r) => [r.name, r.version])) });
    if (st.outstanding.size > MAX_OUTSTANDING) st.outstanding.delete(st.outstanding.keys().next().value!);
    this.log.debug({ typeUrl, version: type.version, nonce, resources: resources.length, removed: removed.length }, 'sending DeltaDiscoveryResponse');
    resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      system_version_info: type.version,
      resources,
      type_url: typeUrl,
      removed_resources: removed.sort(),
      nonce,
      control_plane: { identifier: this.host.controlPlaneId },
    };
  }

  /**
   * Envoy finishes warming an added or changed EDS cluster only when its ClusterLoadAssignment
   * arrives, even an unchanged one (go-control-plane#1035): resend the CLAs of the clusters just sent.
   */
  protected override afterSend(typeUrl: string, response: DeltaDiscoveryResponseMessage): void {
    if (typeUrl !== TYPE_URL.cluster || response.resources.length === 0) return;
    const eds = this.#types.get(TYPE_URL.endpoint);
    if (!eds) return;
    const endpoints = (this.host.cache.getSnapshot(this.nodeId!) ?? EMPTY_SNAPSHOT).get(TYPE_URL.endpoint).resources;
    for (const { name } of response.resources) {
      const rejected = eds.rejected.get(name);
      if ((eds.wildcard || eds.names.has(name)) && (rejected === undefined || rejected !== endpoints.get(name)?.hash)) eds.force.add(name);
    }
    if (eds.force.size > 0) this.send(TYPE_URL.endpoint, false);
  }

  protected typeStatuses(): TypeStatus[] {
    return sortByPushOrder(this.#types.keys()).map((t) => {
      const st = this.#types.get(t)!;
      return {
        typeUrl: t,
        subscribed: st.wildcard ? '*' : [...st.names].sort(),
        resources: st.held.size,
        initialResourceVersions: st.initialResourceVersions,
        ...ackStatus(st, this.isOwed(t)),
      };
    });
  }

  protected sentResources(typeUrl: string): SentResource[] {
    const st = this.#types.get(typeUrl);
    if (!st) return [];
    const current = (this.host.cache.getSnapshot(this.nodeId!) ?? EMPTY_SNAPSHOT).get(typeUrl);
    const out: SentResource[] = [];
    for (const [name, held] of [...st.held].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // A version only announced on reconnect: its bytes are the snapshot's if it is still current.
      const any = held.any ?? (current.resources.get(name)?.hash === held.version ? current.resources.get(name)!.any : undefined);
      if (any) out.push({ name, version: held.version, any, sentAt: held.sentAt ?? this.connectedAt });
    }
    return out;
  }

  protected clear(): void {
    this.#types.clear();
  }

  #unsubscribe(st: TypeState, name: string): void {
    if (name === '*') {
      st.wildcard = false;
      // The client drops what only the wildcard covered.
      for (const held of [...st.held.keys()]) if (!st.names.has(held)) st.held.delete(held);
      return;
    }
    st.names.delete(name);
    st.force.delete(name);
    st.toldAbsent.delete(name);
    st.rejected.delete(name);
    // Still covered by the wildcard: the client dropped it, so it is sent again (xds-protocol.md 1.7).
    st.held.delete(name);
  }

  #acknowledge(st: TypeState, req: DeltaDiscoveryRequestMessage): void {
    const nonce = req.response_nonce!;
    const answered = st.outstanding.get(nonce);
    if (answered === undefined) return; // unknown or already answered: nothing to correlate
    const { version } = answered;
    // Every older nonce is superseded by this answer.
    for (const n of [...st.outstanding.keys()]) {
      st.outstanding.delete(n);
      if (n === nonce) break;
    }
    if (req.error_detail) {
      const nack: NackStatus = { version, nonce, message: req.error_detail.message ?? '', at: new Date().toISOString() };
      st.lastNack = nack;
      for (const [name, v] of answered.resources) st.rejected.set(name, v);
      this.recordNack(st.typeUrl, nonce);
      this.log.warn({ typeUrl: st.typeUrl, type: shortTypeName(st.typeUrl), version, nonce, error: nack.message }, 'proxy rejected (NACKed) a Delta xDS response');
    } else {
      for (const name of answered.resources.keys()) st.rejected.delete(name);
      st.nonceAcked = nonce;
      st.versionAcked = version;
      st.ackedAt = new Date().toISOString();
      this.recordAck(st.typeUrl, nonce);
    }
  }
}

function newTypeState(typeUrl: string): TypeState {
  return {
    typeUrl,
    wildcard: false,
    names: new Set(),
    held: new Map(),
    toldAbsent: new Set(),
    force: new Set(),
    firstOwed: true,
    initialResourceVersions: 0,
    outstanding: new Map(),
    rejected: new Map(),
  };
}
