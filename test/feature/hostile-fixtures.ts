/**
 * Tools for the hostile-client tests: a well-behaved proxy that proves it is still served, clients
 * that write arbitrary bytes (through grpc-js, or as raw HTTP/2 frames), absurd requests built by
 * hand, and the server's rejection log lines.
 */
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { protoType } from '../../protos/envoy-protos.ts';
import { ADS_SERVICE, adsServiceDefinition } from '../../src/xds/ads-service.ts';
import { waitFor } from '../helpers/wait-for.ts';
import type { AdsHarness, AdsTestStream } from './ads-client.ts';
import { CDS, cluster, resources } from './ads-fixtures.ts';

/** A proxy that does everything right: each check pushes it a new version, which it must receive and ACK. */
export class GoodProxy {
  #pushes = 0;

  private constructor(
    readonly h: AdsHarness,
    readonly nodeId: string,
    readonly stream: AdsTestStream,
  ) {}

  static async connect(h: AdsHarness, nodeId = 'good.ns', metadata?: Record<string, string>): Promise<GoodProxy> {
    h.cache.setSnapshot(nodeId, resources({ clusters: [cluster('c0', 9000)] }));
    const stream = h.open(metadata);
    stream.ack(await stream.request({ node: { id: nodeId }, type_url: CDS }));
    return new GoodProxy(h, nodeId, stream);
  }

  /** Pushes a new CDS version; resolves once the proxy received it, ACKed it, and the server shows it SYNCED. */
  async pushed(): Promise<void> {
    const n = ++this.#pushes;
    this.h.cache.setSnapshot(this.nodeId, resources({ clusters: [cluster(`c${n}`, 9000 + n)] }));
    const want = this.h.cache.getSnapshot(this.nodeId)!.version(CDS);
    for (;;) {
      const r = await this.stream.next(20_000);
      if (r.type_url !== CDS || r.version_info !== want) continue;
      this.stream.ack(r);
      break;
    }
    await waitFor(
      () => this.h.server.status().find((p) => p.nodeId === this.nodeId)?.types.find((t) => t.typeUrl === CDS)?.versionAcked === want,
      { what: `${this.nodeId} to have ACKed push ${n}`, intervalMs: 20 },
    );
  }
}

/** Warn lines the server logged for rejections of `reason`. */
export function rejectionLogs(h: AdsHarness, reason: string): Record<string, unknown>[] {
  return h.logs.filter((l) => l.level === 40 && l.reason === reason);
}

const BytesClient = grpc.makeGenericClientConstructor(
  Object.fromEntries(
    Object.entries(adsServiceDefinition()).map(([name, m]) => [name, { ...m, requestSerialize: (b: Buffer) => b }]),
  ) as grpc.ServiceDefinition,
  'AggregatedDiscoveryService',
);

/** A grpc-js client whose streams write Buffers as they are (no protobuf encoding). */
export function bytesClient(port: number): grpc.Client {
  return new BytesClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

/** A DiscoveryRequest (or DeltaDiscoveryRequest) encoded as Envoy would. */
export function encodeRequest(req: object, delta = false): Buffer {
  const type = protoType(`envoy.service.discovery.v3.${delta ? 'Delta' : ''}DiscoveryRequest`);
  return Buffer.from(type.encode(type.fromObject(req)).finish());
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

const field = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, ...varint(body.length)]), body]);

/**
 * A DiscoveryRequest whose node.metadata is a `google.protobuf.Value` list nested `depth` deep
 * (about 8 bytes a level): legal protobuf, but without a depth limit a recursive decoder runs out of stack.
 */
export function nestedMetadataRequest(nodeId: string, depth: number): Buffer {
  // Value{list_value(6): ListValue{values(1): [Value{...}]}}, lengths computed from the inside out.
  const valueLen = [0];
  const listLen = [0];
  for (let k = 1; k <= depth; k++) {
    listLen[k] = 1 + varint(valueLen[k - 1]!).length + valueLen[k - 1]!;
    valueLen[k] = 1 + varint(listLen[k]!).length + listLen[k]!;
  }
  const parts: number[] = [];
  for (let k = depth; k >= 1; k--) parts.push(0x32, ...varint(listLen[k]!), 0x0a, ...varint(valueLen[k - 1]!));
  const entry = Buffer.concat([field(0x0a, Buffer.from('deep')), field(0x12, Buffer.from(parts))]); // map entry {key, value}
  const struct = field(0x0a, entry); // Struct.fields
  const node = Buffer.concat([field(0x0a, Buffer.from(nodeId)), field(0x1a, struct)]); // Node{id, metadata}
  return Buffer.concat([field(0x12, node), field(0x22, Buffer.from(CDS))]); // DiscoveryRequest{node, type_url}
}

/** The outcome of one raw HTTP/2 gRPC call. */
export interface RawCallResult {
  grpcStatus: number | undefined;
  grpcMessage: string;
}

/**
 * One StreamAggregatedResources call written as raw HTTP/2: `headers` added to the gRPC ones, then
 * `body` (already framed, or not) and end of stream. Resolves with the status from the (trailing) headers.
 */
export function rawGrpcCall(port: number, body: Buffer, headers: Record<string, string> = {}): Promise<RawCallResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({
      ':method': 'POST',
      ':path': `/${ADS_SERVICE}/StreamAggregatedResources`,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let status: number | undefined;
    let message = '';
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('close', () => {
      session.close();
      resolve({ grpcStatus: status, grpcMessage: message });
    });
    req.end(body);
  });
}

/** A gRPC length-prefixed message frame: compressed flag, 4-byte length (as declared), payload. */
export function grpcFrame(payload: Buffer, { compressed = false, declaredLength = payload.length } = {}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressed ? 1 : 0, 0);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, payload]);
}
