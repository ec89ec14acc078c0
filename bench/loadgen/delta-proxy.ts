/**
 * A simulated Envoy on a Delta stream: it keeps each resource's name and version per type (applying
 * additions and removals), ACKs with the response nonce, and reconnects announcing what it holds
 * in initial_resource_versions, so the server sends only differences.
 */
import type { Envelope } from './envelope.ts';
import type { XdsType } from './protocol.ts';
import { SECRET_NAMES, SimProxy, TYPE_OF_URL, URL_OF_TYPE } from './sim-proxy.ts';

export class DeltaProxy extends SimProxy {
  /** Type -> resource name -> version. */
  readonly #holds = new Map<XdsType, Map<string, string>>();
  #nodeSent = false;

  protected sendInitial(reconnect: boolean): void {
    this.#nodeSent = false;
    this.#request('CDS', []);
    this.#request('LDS', []);
    if (reconnect) this.#request('SDS', SECRET_NAMES);
  }

  protected requestSecrets(): void {
    this.#request('SDS', SECRET_NAMES);
  }

  protected accept(e: Envelope): void {
    const type = TYPE_OF_URL[e.typeUrl]!;
    let held = this.#holds.get(type);
    if (!held) this.#holds.set(type, (held = new Map()));
    for (const [name, version] of e.delta!.versions) held.set(name, version);
    for (const name of e.delta!.removed) held.delete(name);
  }

  protected ack(e: Envelope): void {
    this.write({ type_url: e.typeUrl, response_nonce: e.nonce });
  }

  protected nack(e: Envelope, message: string): void {
    this.write({ type_url: e.typeUrl, response_nonce: e.nonce, error_detail: { code: 13, message } });
  }

  /** `subscribe` empty on CDS/LDS: the legacy wildcard, as Envoy sends it. */
  #request(type: XdsType, subscribe: string[]): void {
    const node = this.#nodeSent ? {} : { node: { id: this.nodeId, user_agent_name: 'meshplane-loadgen' } };
    this.#nodeSent = true;
    const held = this.#holds.get(type);
    this.write({
      ...node,
      type_url: URL_OF_TYPE[type],
      resource_names_subscribe: subscribe,
      initial_resource_versions: held ? Object.fromEntries(held) : {},
    });
  }
}
