/**
 * Encodes resource objects to `Any` bytes once and shares the bytes across nodes, streams and pushes.
 *
 * `fromObject` + `encode` is the dominant CPU cost of an xDS server in Node (reference/xds-protocol.md
 * 7.4), and many nodes share most resources (trust bundles, service clusters). Entries are keyed by a
 * content hash of the resource object and reference-counted by the snapshots that use them, so an
 * entry lives exactly as long as some snapshot refers to it.
 */
import type protobuf from 'protobufjs';
import { envoyProtoRoot } from '../../protos/envoy-protos.ts';
import { contentHash } from './content-hash.ts';
import { messageNameOf } from './type-urls.ts';

/** A packed `google.protobuf.Any`, ready to be copied into a DiscoveryResponse. */
export interface EncodedAny {
  readonly type_url: string;
  readonly value: Buffer;
}

/** One encoded resource: its content hash and its Any. */
export interface EncodedResource {
  readonly hash: string;
  readonly any: EncodedAny;
}

interface Entry extends EncodedResource {
  refs: number;
}

/** Field holding a resource's own name, for the types whose name we can check. */
const NAME_FIELD: Readonly<Record<string, string>> = {
  'envoy.config.listener.v3.Listener': 'name',
  'envoy.config.cluster.v3.Cluster': 'name',
  'envoy.extensions.transport_sockets.tls.v3.Secret': 'name',
  'envoy.config.route.v3.RouteConfiguration': 'name',
  'envoy.config.endpoint.v3.ClusterLoadAssignment': 'cluster_name',
};

/** Encode-once cache of resource objects, keyed by content hash and reference-counted. */
export class ResourceEncoder {
  readonly #root: protobuf.Root;
  readonly #entries = new Map<string, Entry>();
  /** Message lookups by full name (protobufjs `lookupType` walks the namespace tree each time). */
  readonly #types = new Map<string, protobuf.Type | null>();
  #encodes = 0;

  constructor(root: protobuf.Root = envoyProtoRoot()) {
    this.#root = root;
  }

  /** How many times a resource was actually encoded (cache misses), since construction. */
  get encodes(): number {
    return this.#encodes;
  }

  /** Number of distinct encoded resources currently held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The content hash `acquire` would key `resource` under. */
  hashOf(typeUrl: string, resource: object): string {
    return contentHash(typeUrl, resource);
  }

  /**
   * Returns the encoded form of `resource` (encoding it only if no live entry has the same content)
   * and takes one reference on it; every `acquire` must be paired with a `release(hash)`.
   * Throws an Error naming the resource if it cannot be encoded faithfully.
   */
  acquire(typeUrl: string, name: string, resource: object): EncodedResource {
    const hash = this.hashOf(typeUrl, resource);
    let entry = this.#entries.get(hash);
    if (!entry) {
      entry = { hash, any: this.#encode(typeUrl, name, resource), refs: 0 };
      this.#entries.set(hash, entry);
    }
    entry.refs++;
    return entry;
  }

  /** Drops one reference taken by `acquire`; the bytes are freed when no snapshot uses them any more. */
  release(hash: string): void {
    const entry = this.#entries.get(hash);
    if (!entry) return;
    if (--entry.refs <= 0) this.#entries.delete(hash);
  }

  #encode(typeUrl: string, name: string, resource: object): EncodedAny {
    const what = `${messageNameOf(typeUrl)} "${name}"`;
    const type = this.#lookupType(messageNameOf(typeUrl));
    if (!type) {
      throw new Error(`cannot encode ${what}: type URL ${typeUrl} is not a loaded proto type (add its .proto to PROTO_FILES in protos/envoy-protos.ts)`);
    }
    const { '@type': ownType, ...fields } = resource as Record<string, unknown>;
    if (ownType !== undefined && ownType !== typeUrl) {
      throw new Error(`cannot encode ${what}: its @type ${String(ownType)} does not match the type URL ${typeUrl} it is served under`);
    }
    const nameField = NAME_FIELD[type.fullName.slice(1)];
    if (nameField && fields[nameField] !== undefined && fields[nameField] !== name) {
      throw new Error(`cannot encode ${what}: its ${nameField} is "${String(fields[nameField])}", but it is served under the name "${name}"`);
    }
    // protobufjs 7 silently encodes an empty Any for an @type it does not know: check every one first.
    const anyTypes: string[] = [];
    this.#collectAnyTypes(fields, '', anyTypes, what);

    let value: Buffer;
    try {
      value = Buffer.from(type.encode(type.fromObject(fields)).finish());
    } catch (err) {
      throw new Error(`cannot encode ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // Belt and braces: every nested Any must come back typed when the bytes are decoded.
    const decoded = type.toObject(type.decode(value), { json: true });
    const found = countAnyTypes(decoded);
    if (found < anyTypes.length) {
      throw new Error(`cannot encode ${what}: ${anyTypes.length} nested Any(s) given but only ${found} survived encoding`);
    }
    this.#encodes++;
    return { type_url: typeUrl, value };
  }

  #lookupType(fullName: string): protobuf.Type | undefined {
    let type = this.#types.get(fullName);
    if (type === undefined) {
      try {
        type = this.#root.lookupType(fullName);
      } catch {
        type = null;
      }
      this.#types.set(fullName, type);
    }
    return type ?? undefined;
  }

  #collectAnyTypes(value: unknown, path: string, out: string[], what: string): void {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => this.#collectAnyTypes(v, `${path}[${i}]`, out, what));
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      if (k === '@type') {
        if (typeof v !== 'string' || !v.includes('/') || !this.#lookupType(messageNameOf(v))) {
          throw new Error(
            `cannot encode ${what}: @type ${JSON.stringify(v)} at ${path || '.'} is not a loaded proto type ` +
              '(write the full type.googleapis.com/... URL and add its .proto to PROTO_FILES in protos/envoy-protos.ts)',
          );
        }
        out.push(v);
      } else {
        this.#collectAnyTypes(v, path ? `${path}.${k}` : k, out, what);
      }
    }
  }
}

function countAnyTypes(value: unknown): number {
  if (!value || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countAnyTypes(v), 0);
  let n = 0;
  for (const [k, v] of Object.entries(value)) n += k === '@type' ? 1 : countAnyTypes(v);
  return n;
}
