/**
 * A small in-process ADS client for feature tests: opens StreamAggregatedResources with grpc-js,
 * sends DiscoveryRequests, and awaits DiscoveryResponses with every Any resource decoded.
 * Negative assertions ("no response was sent") use the `settle()` barrier of test-stream.ts, never a sleep.
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { protoType } from '../../protos/envoy-protos.ts';
import { AdsServer } from '../../src/xds/ads-server.ts';
import { adsServiceDefinition, type DiscoveryRequestMessage } from '../../src/xds/ads-service.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { messageNameOf } from '../../src/xds/type-urls.ts';
import type { XdsLimits } from '../../src/xds/xds-limits.ts';
import { TestStream } from './test-stream.ts';
import { DeltaTestStream } from './delta-client.ts';

export const PROBE_TYPE_PREFIX = 'type.googleapis.com/meshplane.test.Probe';

/** A DiscoveryResponse with its resources decoded to JSON-style objects. */
export interface DecodedResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  control_plane?: { identifier?: string };
  /** Names of the resources, in response order. */
  names: string[];
  resources: { type_url: string; name: string; object: Record<string, any> }[];
}

export type Request = Partial<Omit<DiscoveryRequestMessage, 'resource_names'>> & { resource_names?: string[] };

const AdsClient = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');

function decodeResponse(raw: any): DecodedResponse {
  const resources = (raw.resources ?? []).map((any: { type_url: string; value: Buffer }) => {
    const type = protoType(messageNameOf(any.type_url));
    const object = type.toObject(type.decode(any.value), { json: true, longs: String, enums: String }) as Record<string, any>;
    return { type_url: any.type_url, name: String(object.name ?? object.cluster_name ?? ''), object };
  });
  return {
    version_info: raw.version_info ?? '',
    type_url: raw.type_url ?? '',
    nonce: raw.nonce ?? '',
    control_plane: raw.control_plane,
    names: resources.map((r: { name: string }) => r.name),
    resources,
  };
}

/** One client-side SotW ADS stream. */
export class AdsTestStream extends TestStream<Request, DecodedResponse> {
  constructor(call: grpc.ClientDuplexStream<Request, unknown>) {
    super(call, decodeResponse, { probePrefix: PROBE_TYPE_PREFIX, what: 'DiscoveryResponse' });
  }

  override send(req: Request): void {
    super.send({ resource_names: [], ...req });
  }

  /** ACKs `r` (optionally changing the subscription) without waiting. */
  ack(r: DecodedResponse, resource_names?: string[]): void {
    this.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: resource_names ?? [] });
  }

  /** NACKs `r`, keeping `lastGoodVersion` as version_info (as Envoy does). */
  nack(r: DecodedResponse, message: string, lastGoodVersion = '', resource_names?: string[]): void {
    this.send({
      type_url: r.type_url,
      version_info: lastGoodVersion,
      response_nonce: r.nonce,
      resource_names: resource_names ?? [],
      error_detail: { code: 13, message },
    });
  }
}

/** An AdsServer on 127.0.0.1:0 (insecure) with its cache, and a client factory. */
export class AdsHarness {
  readonly logs: Record<string, unknown>[] = [];
  readonly cache: SnapshotCache;
  readonly server: AdsServer;
  port = 0;
  #clients: grpc.Client[] = [];

  constructor(opts: { authenticate?: (nodeId: string, md: grpc.Metadata) => boolean; cache?: SnapshotCache; limits?: Partial<XdsLimits>; grpcOptions?: grpc.ServerOptions; now?: () => number } = {}) {
    this.cache = opts.cache ?? new SnapshotCache();
    // Keep every log record so tests can check what was (not) logged.
    const logger = pino({ level: 'debug' }, { write: (line: string) => void this.logs.push(JSON.parse(line)) });
    this.server = new AdsServer({
      cache: this.cache,
      authenticate: opts.authenticate ?? (() => true),
      logger,
      controlPlaneId: 'meshplane-test',
      limits: opts.limits,
      grpcOptions: opts.grpcOptions,
      now: opts.now,
    });
  }

  static async start(opts?: ConstructorParameters<typeof AdsHarness>[0]): Promise<AdsHarness> {
    const h = new AdsHarness(opts);
    h.port = await h.server.listen('127.0.0.1:0', grpc.ServerCredentials.createInsecure());
    return h;
  }

  /** Opens a new ADS stream (own channel, so streams are independent connections). */
  open(metadata?: Record<string, string>): AdsTestStream {
    const client = new AdsClient(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure());
    this.#clients.push(client);
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
    return new AdsTestStream((client as any).StreamAggregatedResources(md));
  }

  /** Opens a new Delta ADS stream (DeltaAggregatedResources; own channel). */
  deltaOpen(metadata?: Record<string, string>): DeltaTestStream {
    const client = new AdsClient(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure());
    this.#clients.push(client);
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
    return new DeltaTestStream((client as any).DeltaAggregatedResources(md));
  }

  async close(): Promise<void> {
    for (const c of this.#clients) c.close();
    await this.server.close();
  }
}
