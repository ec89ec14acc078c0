/**
 * A simulated Envoy on a State-of-the-World stream: each type's request names what it wants
 * (wildcard for CDS/LDS, the two secrets for SDS) and carries the version it last accepted, which
 * is also what a reconnecting Envoy announces.
 */
import type { Envelope } from './envelope.ts';
import type { XdsType } from './protocol.ts';
import { SECRET_NAMES, SimProxy, TYPE_OF_URL, URL_OF_TYPE } from './sim-proxy.ts';

const NAMES: Partial<Record<XdsType, string[]>> = { SDS: SECRET_NAMES };

export class SotwProxy extends SimProxy {
  /** Type -> version last accepted. */
  readonly #accepted = new Map<XdsType, string>();
  #nodeSent = false;

  protected sendInitial(reconnect: boolean): void {
    this.#nodeSent = false;
    this.#request('CDS');
    this.#request('LDS');
    if (reconnect) this.#request('SDS');
  }

  protected requestSecrets(): void {
    this.#request('SDS');
  }

  protected accept(e: Envelope): void {
    this.#accepted.set(TYPE_OF_URL[e.typeUrl]!, e.version);
  }

  protected ack(e: Envelope): void {
    this.write({ type_url: e.typeUrl, version_info: e.version, response_nonce: e.nonce, resource_names: NAMES[TYPE_OF_URL[e.typeUrl]!] ?? [] });
  }

  /** Envoy NACKs with the version it keeps (the last accepted) and the rejected nonce. */
  protected nack(e: Envelope, message: string): void {
    const type = TYPE_OF_URL[e.typeUrl]!;
    this.write({
      type_url: e.typeUrl,
      version_info: this.#accepted.get(type) ?? '',
      response_nonce: e.nonce,
      resource_names: NAMES[type] ?? [],
      error_detail: { code: 13, message },
    });
  }

  #request(type: XdsType): void {
    // Node on the first message only (Envoy's set_node_on_first_message_only, as Istio sets it).
    const node = this.#nodeSent ? {} : { node: { id: this.nodeId, user_agent_name: 'meshplane-loadgen' } };
    this.#nodeSent = true;
    this.write({ ...node, type_url: URL_OF_TYPE[type], version_info: this.#accepted.get(type) ?? '', resource_names: NAMES[type] ?? [] });
  }
}
