/**
 * A small in-process ADS client for feature tests: opens StreamAggregatedResources with grpc-js,
 * sends DiscoveryRequests, and awaits DiscoveryResponses with every Any resource decoded.
 *
 * Negative assertions ("no response was sent") use a barrier instead of sleeping: `settle()` sends a
 * first request for a fresh probe type URL, which the server always answers at once; the server handles
 * a stream's messages in order, so any response it owed us arrives before the probe's answer.
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { protoType } from '../../protos/envoy-protos.ts';
import { AdsServer } from '../../src/xds/ads-server.ts';
import { adsServiceDefinition, type DiscoveryRequestMessage } from '../../src/xds/ads-service.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { messageNameOf } from '../../src/xds/type-urls.ts';
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

/** One client-side ADS stream. */
export class AdsTestStream {
  /** Every response received, in order (probe answers excluded). */
  readonly received: DecodedResponse[] = [];
  /** Resolves with the final gRPC status of the stream. */
  readonly status: Promise<grpc.StatusObject>;
  readonly #call: grpc.ClientDuplexStream<Request, any>;
  #queue: DecodedResponse[] = [];
  #waiters: ((r: DecodedResponse | Error) => void)[] = [];
  #ended: grpc.StatusObject | undefined;
  #probes = 0;

  constructor(call: grpc.ClientDuplexStream<Request, any>) {
    this.#call = call;
    call.on('data', (raw) => {
      const r = decodeResponse(raw);
      if (!r.type_url.startsWith(PROBE_TYPE_PREFIX)) this.received.push(r);
      const w = this.#waiters.shift();
      if (w) w(r);
      else this.#queue.push(r);
    });
    call.on('error', () => undefined); // the status carries it
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => {
        this.#ended = s;
        for (const w of this.#waiters.splice(0)) w(new Error(`stream ended: ${grpc.status[s.code]} ${s.details}`));
        resolve(s);
      });
    });
  }

  send(req: Request): void {
    this.#call.write({ resource_names: [], ...req });
  }

  /** The next response (probe answers included), or an error after `timeoutMs` or on stream end. */
  next(timeoutMs = 3000): Promise<DecodedResponse> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(new Error(`stream ended: ${grpc.status[this.#ended.code]} ${this.#ended.details}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no DiscoveryResponse within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: DecodedResponse | Error): void => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends `req` and returns the next response. */
  async request(req: Request): Promise<DecodedResponse> {
    this.send(req);
    return this.next();
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

  /** Every response the server sent before answering a fresh probe request (see the file comment). */
  async settle(): Promise<DecodedResponse[]> {
    const probe = `${PROBE_TYPE_PREFIX}${++this.#probes}`;
    this.send({ type_url: probe });
    const out: DecodedResponse[] = [];
    for (;;) {
      const r = await this.next();
      if (r.type_url === probe) return out;
      out.push(r);
    }
  }

  /** Half-closes the stream (no more requests). */
  end(): void {
    this.#call.end();
  }

  cancel(): void {
    this.#call.cancel();
  }

  pause(): void {
    this.#call.pause();
  }

  resume(): void {
    this.#call.resume();
  }
}

/** An AdsServer on 127.0.0.1:0 (insecure) with its cache, and a client factory. */
export class AdsHarness {
  readonly logs: Record<string, unknown>[] = [];
  readonly cache: SnapshotCache;
  readonly server: AdsServer;
  port = 0;
  #clients: grpc.Client[] = [];

  constructor(opts: { authenticate?: (nodeId: string, md: grpc.Metadata) => boolean; cache?: SnapshotCache } = {}) {
    this.cache = opts.cache ?? new SnapshotCache();
    // Keep every log record so tests can check what was (not) logged.
    const logger = pino({ level: 'debug' }, { write: (line: string) => void this.logs.push(JSON.parse(line)) });
    this.server = new AdsServer({
      cache: this.cache,
      authenticate: opts.authenticate ?? (() => true),
      logger,
      controlPlaneId: 'meshplane-test',
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
