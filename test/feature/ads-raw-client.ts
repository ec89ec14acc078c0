/**
 * A lean grpc-js ADS client for load and lifecycle tests: each channel can have its own connection,
 * responses keep only their metadata (type, version, nonce, byte size) unless asked for, so that
 * thousands of streams or hundreds of large responses do not inflate the test process's own heap,
 * and every stream records its final gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import v8 from 'node:v8';
import vm from 'node:vm';
import { pino, type Logger } from 'pino';
import { adsServiceDefinition } from '../../src/xds/ads-service.ts';

const AdsClient = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');

/** One grpc-js channel (= one HTTP/2 connection, not shared with other channels: local subchannel pool). */
export function adsChannel(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  return new AdsClient(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, ...options });
}

/** What is kept of a response: enough to follow versions and nonces. */
export interface ResponseMeta {
  type_url: string;
  /** SotW version_info, Delta system_version_info. */
  version: string;
  nonce: string;
  /** Serialized size of the resources (bytes of their Any values). */
  bytes: number;
  /** The raw resources (`{type_url, value}` Anys; Delta: `{name, version, resource}`): only with `keep`, and only on the latest kept response of its type. */
  raw?: unknown[];
}

type Raw = { type_url?: string; version_info?: string; system_version_info?: string; nonce?: string; resources?: any[] };

/** One client stream (SotW or Delta) that records what it receives and how it ended. */
export class RawStream {
  readonly received: ResponseMeta[] = [];
  readonly status: Promise<grpc.StatusObject>;
  /** Set once the status arrived. */
  ended: grpc.StatusObject | undefined;
  readonly #call: grpc.ClientDuplexStream<object, Raw>;
  #waiters: (() => void)[] = [];
  readonly #kept = new Map<string, ResponseMeta>();

  constructor(call: grpc.ClientDuplexStream<object, Raw>, keep: (r: ResponseMeta) => boolean = () => false) {
    this.#call = call;
    call.on('data', (raw: Raw) => {
      const resources = raw.resources ?? [];
      const meta: ResponseMeta = {
        type_url: raw.type_url ?? '',
        version: raw.version_info ?? raw.system_version_info ?? '',
        nonce: raw.nonce ?? '',
        bytes: resources.reduce((n: number, r: any) => n + (r.value?.length ?? r.resource?.value?.length ?? 0), 0),
      };
      if (keep(meta)) {
        // Only the latest kept response of a type holds its resources.
        const previous = this.#kept.get(meta.type_url);
        if (previous) delete previous.raw;
        meta.raw = resources;
        this.#kept.set(meta.type_url, meta);
      }
      this.received.push(meta);
      this.#wake();
    });
    call.on('error', () => undefined); // the status carries it
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => {
        this.ended = s;
        this.#wake();
        resolve(s);
      });
    });
  }

  static sotw(client: grpc.Client, metadata = new grpc.Metadata(), keep?: (r: ResponseMeta) => boolean): RawStream {
    return new RawStream((client as any).StreamAggregatedResources(metadata), keep);
  }

  static delta(client: grpc.Client, metadata = new grpc.Metadata(), keep?: (r: ResponseMeta) => boolean): RawStream {
    return new RawStream((client as any).DeltaAggregatedResources(metadata), keep);
  }

  send(req: object): void {
    this.#call.write(req);
  }

  /** SotW ACK of `r`. */
  ack(r: ResponseMeta, resource_names: string[] = []): void {
    this.send({ type_url: r.type_url, version_info: r.version, response_nonce: r.nonce, resource_names });
  }

  /** The latest response received of `typeUrl`. */
  latest(typeUrl: string): ResponseMeta | undefined {
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i]!.type_url === typeUrl) return this.received[i];
    return undefined;
  }

  /** Resolves once `cond()` holds (checked on every response and at the end), rejects after `timeoutMs` or if the stream ended first. */
  until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
          return true;
        }
        if (this.ended) {
          clearTimeout(timer);
          reject(new Error(`stream ended (${grpc.status[this.ended.code]} ${this.ended.details}) before ${what}`));
          return true;
        }
        return false;
      };
      const waiter = (): void => {
        if (!check()) this.#waiters.push(waiter);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${this.received.length} responses`));
      }, timeoutMs);
      waiter();
    });
  }

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

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** A logger that drops everything below `warn` and keeps the rest (so a test can check no errors were logged). */
export function quietLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { logger, records };
}

let gcFn: (() => void) | undefined;

/** `global.gc`, also when the worker was started without --expose-gc (V8 flag set at run time). */
export function gc(): void {
  if (!gcFn) {
    gcFn = (globalThis as { gc?: () => void }).gc;
    if (!gcFn) {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

/** JS heap plus ArrayBuffer memory (where Buffers live) after full collections. */
export async function retainedBytes(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
