/**
 * Response deserializers that read only the envelope of a DiscoveryResponse or
 * DeltaDiscoveryResponse: decoding every Listener and Cluster for 10,000 streams would make the
 * load generator, not the server, the bottleneck. Resources are counted and skipped; Delta keeps
 * each resource's name and version (what Envoy needs for initial_resource_versions), never its body.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */
import protobuf from 'protobufjs';

/** A response as the load generator sees it. */
export interface Envelope {
  typeUrl: string;
  /** SotW version_info, Delta system_version_info. */
  version: string;
  nonce: string;
  /** Serialized size of the whole message (gRPC frame payload). */
  bytes: number;
  resources: number;
  /** Bytes of the resources' Any messages alone (what a resource costs without the envelope). */
  payloadBytes: number;
  /** Delta only: name -> version of each resource carried. */
  delta?: { versions: [string, string][]; removed: string[] };
}

const WIRE_LEN = 2;

/** DiscoveryResponse: version_info = 1, resources = 2, type_url = 4, nonce = 5. */
export function decodeSotwEnvelope(buf: Buffer): Envelope {
  const r = protobuf.Reader.create(buf);
  const e: Envelope = { typeUrl: '', version: '', nonce: '', bytes: buf.length, resources: 0, payloadBytes: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) e.version = r.string();
    else if (field === 2 && (tag & 7) === WIRE_LEN) {
      const length = r.uint32();
      r.skip(length);
      e.resources++;
      e.payloadBytes += length;
    } else if (field === 4) e.typeUrl = r.string();
    else if (field === 5) e.nonce = r.string();
    else r.skipType(tag & 7);
  }
  return e;
}

/** DeltaDiscoveryResponse: system_version_info = 1, resources = 2, type_url = 4, nonce = 5, removed_resources = 6. */
export function decodeDeltaEnvelope(buf: Buffer): Envelope {
  const r = protobuf.Reader.create(buf);
  const delta = { versions: [] as [string, string][], removed: [] as string[] };
  const e: Envelope = { typeUrl: '', version: '', nonce: '', bytes: buf.length, resources: 0, payloadBytes: 0, delta };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) e.version = r.string();
    else if (field === 2 && (tag & 7) === WIRE_LEN) {
      const end = r.uint32() + r.pos;
      const [name, version, anyBytes] = readDeltaResource(r, end);
      delta.versions.push([name, version]);
      e.resources++;
      e.payloadBytes += anyBytes;
    } else if (field === 4) e.typeUrl = r.string();
    else if (field === 5) e.nonce = r.string();
    else if (field === 6) delta.removed.push(r.string());
    else r.skipType(tag & 7);
  }
  return e;
}

/** Resource: version = 1, resource = 2 (an Any, skipped: only its length is kept), name = 3. */
function readDeltaResource(r: protobuf.Reader, end: number): [name: string, version: string, anyBytes: number] {
  let name = '';
  let version = '';
  let anyBytes = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) version = r.string();
    else if (field === 2 && (tag & 7) === WIRE_LEN) {
      anyBytes = r.uint32();
      r.skip(anyBytes);
    } else if (field === 3) name = r.string();
    else r.skipType(tag & 7);
  }
  return [name, version, anyBytes];
}
