/**
 * Stream cancellations and client disconnects free all per-stream state: after 10,000 connect /
 * disconnect cycles of every kind (client cancel, client half-close, protocol errors, failed
 * authentication, streams that never send a first message, streams blocked on back-pressure, whole
 * connections that vanish), SotW and Delta, the server holds no stream, no status entry, no open
 * stream, the snapshot cache has exactly the one listener it started with, and the retained heap did
 * not grow with the number of cycles.
 *
 * Few connections, many streams per connection, a bounded number in flight: it runs in seconds.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { AdsServer } from '../../src/xds/ads-server.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { adsChannel, quietLogger, RawStream, retainedBytes } from './ads-raw-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

const CYCLES = 10_000;
const IN_FLIGHT = 64;
const NODES = 40;
const CHANNELS = 4;

const { logger, records } = quietLogger();
const cache = new SnapshotCache();
/** Listeners currently subscribed to the cache (AdsServer subscribes once, streams must not add any). */
let cacheListeners = 0;
const onUpdate = cache.onUpdate.bind(cache);
cache.onUpdate = (listener) => {
  cacheListeners++;
  const unsubscribe = onUpdate(listener);
  let done = false;
  return () => {
    if (!done) cacheListeners--;
    done = true;
    unsubscribe();
  };
};
const server = new AdsServer({
  cache,
  logger,
  controlPlaneId: 'meshplane-test',
  authenticate: (nodeId) => !nodeId.startsWith('denied'),
  // Many streams of one node at once (blocked 'big' ones, cancelled ones the server has not seen end yet).
  limits: { maxStreamsPerNode: 1000 },
});
let address = '';
const channels: grpc.Client[] = [];

const small = (node: string, v: number) =>
  resources({ secrets: [secret('cert', `${node}-${v}`)], clusters: [cluster('c1', 9001)], listeners: [listener('l1', 10001, 'c1')] });
/** A node whose secret is large enough that a paused stream blocks on its first push. */
const big = (v: number) => resources({ secrets: [secret('cert', `${v}:${'x'.repeat(64 * 1024)}`)], clusters: [cluster('c1', 9001)] });

beforeAll(async () => {
  address = `127.0.0.1:${await server.listen('127.0.0.1:0', grpc.ServerCredentials.createInsecure())}`;
  for (let n = 0; n < NODES; n++) cache.setSnapshot(`n${n}`, small(`n${n}`, 0));
  cache.setSnapshot('big', big(0));
  for (let c = 0; c < CHANNELS; c++) channels.push(adsChannel(address));
});
afterAll(async () => {
  for (const c of channels) c.close();
  await server.close();
});

/** A TCP relay to the server whose connections can be cut abruptly (no GOAWAY, no RST_STREAM: a vanished client). */
class Relay {
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  port = 0;

  constructor(target: number) {
    this.#server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.#sockets.delete(s));
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  /** Destroys every relayed connection (both sides): the server sees its sockets close without any HTTP/2 goodbye. */
  cut(): void {
    for (const s of this.#sockets) s.resetAndDestroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

type Transport = 'sotw' | 'delta';
const open = (t: Transport, channel: grpc.Client, md = new grpc.Metadata()) => (t === 'sotw' ? RawStream.sotw(channel, md) : RawStream.delta(channel, md));
const firstRequest = (t: Transport, node: string, typeUrl: string = CDS) =>
  t === 'sotw' ? { node: { id: node }, type_url: typeUrl, resource_names: [] } : { node: { id: node }, type_url: typeUrl };
const request = (t: Transport, typeUrl: string) => (t === 'sotw' ? { type_url: typeUrl, resource_names: [] } : { type_url: typeUrl });

/** The most streams the server held at once (sampled while a stream is known to be connected). */
const peak = { streams: 0, open: 0 };

/** Every way a stream ends; each resolves once the client saw the end (or, for cancel, once it was requested). */
const KINDS: Record<string, (t: Transport, ch: grpc.Client, node: string) => Promise<void>> = {
  'authenticate, first response, cancel': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, node));
    await s.until(() => s.received.length > 0, 'the first response');
    peak.streams = Math.max(peak.streams, server.streams);
    peak.open = Math.max(peak.open, server.openStreams);
    s.cancel();
  },
  'authenticate, first responses, half-close': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, node, SDS));
    s.send(request(t, CDS));
    s.send(request(t, LDS));
    await s.until(() => s.received.length >= 3, 'three first responses');
    s.end();
    expectCode(await s.status, grpc.status.OK);
  },
  'authenticate, cancel without waiting': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, node));
    await started();
    s.cancel();
  },
  'never send, cancel': async (t, ch) => {
    const s = open(t, ch);
    await started();
    s.cancel();
  },
  'never send, half-close': async (t, ch) => {
    const s = open(t, ch);
    s.end();
    expectCode(await s.status, grpc.status.OK);
  },
  'no node.id': async (t, ch) => {
    const s = open(t, ch);
    s.send(request(t, CDS));
    expectCode(await s.status, grpc.status.INVALID_ARGUMENT);
  },
  'authentication denied': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, `denied-${node}`));
    expectCode(await s.status, grpc.status.PERMISSION_DENIED);
  },
  'authenticate, then a request without type_url': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, node));
    await s.until(() => s.received.length > 0, 'the first response');
    s.send({});
    expectCode(await s.status, grpc.status.INVALID_ARGUMENT);
  },
  'authenticate, then node.id changes': async (t, ch, node) => {
    const s = open(t, ch);
    s.send(firstRequest(t, node));
    s.send(firstRequest(t, `${node}-other`, LDS));
    expectCode(await s.status, grpc.status.INVALID_ARGUMENT);
  },
};

/**
 * Lets grpc-js start the call before it is cancelled: a client-side cancel() in the same tick as the
 * call's creation is lost by grpc-js 1.14.7 (ResolvingCall ends, but still creates its child call,
 * whose HTTP/2 stream is never reset), so the server would rightly see a live stream.
 */
const started = () => new Promise<void>((resolve) => setImmediate(resolve));

function expectCode(s: grpc.StatusObject, code: grpc.status): void {
  if (s.code !== code) throw new Error(`expected ${grpc.status[code]}, got ${grpc.status[s.code]}: ${s.details}`);
}

/** Runs `n` cycles (IN_FLIGHT at a time) over the shared channels, pushing updates to the nodes meanwhile. */
async function cycles(n: number, transports: Transport[], seed: number): Promise<Record<string, number>> {
  const kinds = Object.entries(KINDS);
  const done: Record<string, number> = {};
  let next = 0;
  let pushes = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const k = i + seed;
      const t = transports[k % transports.length]!;
      const [name, run] = kinds[Math.floor(k / transports.length) % kinds.length]!;
      await run(t, channels[k % CHANNELS]!, `n${k % NODES}`);
      done[`${t}: ${name}`] = (done[`${t}: ${name}`] ?? 0) + 1;
      // Updates race with streams coming and going.
      if (i % 50 === 0) cache.setSnapshot(`n${k % NODES}`, small(`n${k % NODES}`, ++pushes + seed));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return done;
}

/** Streams of `node` 'big' that stop reading, get blocked by a push, then are cancelled with responses owed. */
async function blockedThenCancelled(n: number, t: Transport, seed: number): Promise<void> {
  const streams: RawStream[] = [];
  for (let i = 0; i < n; i++) {
    const s = open(t, channels[i % CHANNELS]!);
    s.send(firstRequest(t, 'big', SDS));
    s.send(request(t, CDS));
    streams.push(s);
  }
  await Promise.all(streams.map((s) => s.until(() => s.received.length >= 2, 'the first responses of big')));
  for (const s of streams) s.pause();
  // Push until every one of them is blocked with a response owed (client buffers and the HTTP/2 window full).
  let v = 0;
  await waitFor(
    () => {
      cache.setSnapshot('big', big(seed * 1000 + ++v));
      const blocked = server.status().filter((p) => p.nodeId === 'big' && p.queued > 0).length;
      return blocked === n;
    },
    { what: `all ${n} paused streams of big to have a response queued`, intervalMs: 1 },
  );
  for (const s of streams) s.cancel();
}

/** Streams on connections that are then cut: authenticated ones, fresh ones, and ones in the middle of a push. */
async function vanishingConnections(rounds: number, perRound: number, t: Transport): Promise<number> {
  const relay = await new Relay(Number(address.split(':')[1])).start();
  let opened = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const channel = adsChannel(`127.0.0.1:${relay.port}`);
      const streams: RawStream[] = [];
      for (let i = 0; i < perRound; i++) {
        const s = open(t, channel);
        if (i % 3 !== 0) s.send(firstRequest(t, `n${i % NODES}`));
        streams.push(s);
      }
      opened += perRound;
      const authenticated = streams.filter((_, i) => i % 3 !== 0);
      await Promise.all(authenticated.map((s) => s.until(() => s.received.length > 0, 'the first response over the relay')));
      await waitFor(() => server.openStreams >= perRound, { what: `the ${perRound} relayed streams to be open on the server` });
      cache.setSnapshot('n1', small('n1', 1000 + r));
      relay.cut();
      await Promise.all(streams.map((s) => s.status));
      channel.close();
    }
  } finally {
    await relay.close();
  }
  return opened;
}

async function expectNoStreamState(): Promise<void> {
  await waitFor(() => server.openStreams === 0 && server.streams === 0, {
    what: 'the server to forget every stream',
    timeoutMs: 15_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}; openStreams=${server.openStreams} streams=${server.streams} status=${JSON.stringify(server.status()).slice(0, 2000)}`);
  });
  expect(server.status()).toEqual([]);
  expect(server.clientConfigs()).toEqual([]);
  expect(cacheListeners).toBe(1);
}

describe('stream state is freed', () => {
  // ~15 s alone on 2 cores; the margin is for a loaded machine running other files in parallel.
  it(`after ${CYCLES.toLocaleString('en')} connect/disconnect cycles of every kind, SotW and Delta`, { timeout: 60_000 }, async () => {
    expect(cacheListeners).toBe(1);
    // grpc-js builds an Error (with a stack, which vitest source-maps) for every call and every non-OK
    // status: most of the CPU time of these cycles. Stacks are off while they run.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    onTestFinished(() => void (Error.stackTraceLimit = stackTraceLimit)); // if the warm-up fails
    const transports: Transport[] = ['sotw', 'delta'];
    // Warm-up: lazily built code paths, grpc-js and V8 caches, the logger; then the baseline.
    await cycles(600, transports, 0);
    await blockedThenCancelled(8, 'sotw', 0);
    await blockedThenCancelled(8, 'delta', 1);
    await vanishingConnections(1, 30, 'sotw');
    await expectNoStreamState();
    const baseline = await retainedBytes();
    const pushesBefore = server.pushes;

    let total = 0;
    const seen: Record<string, number> = {};
    try {
      for (let round = 0; round < 4; round++) {
        const done = await cycles(2400, transports, 1 + round * 7);
        for (const [k, v] of Object.entries(done)) seen[k] = (seen[k] ?? 0) + v;
        total += 2400;
        for (const t of transports) {
          await blockedThenCancelled(10, t, 2 + round * 2 + (t === 'delta' ? 1 : 0));
          total += 10;
        }
        for (const t of transports) total += await vanishingConnections(2, 30, t);
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    expect(total).toBeGreaterThanOrEqual(CYCLES);
    // Every kind ran on both transports, and the streams really were served and held concurrently.
    expect(Object.keys(seen).length).toBe(2 * Object.keys(KINDS).length);
    expect(Math.min(...Object.values(seen))).toBeGreaterThan(100);
    expect(server.pushes - pushesBefore).toBeGreaterThan(CYCLES / 2);
    expect(peak.streams).toBeGreaterThan(IN_FLIGHT / 4);
    expect(peak.open).toBeGreaterThanOrEqual(peak.streams);

    await expectNoStreamState();
    const after = await retainedBytes();
    // Each leaked stream would keep its grpc-js call, HTTP/2 stream, logger and per-type state (several KiB):
    // 10,000 of them are tens of MiB. Allow 6 MiB of noise.
    expect(after - baseline, `retained memory grew from ${baseline} to ${after} bytes`).toBeLessThan(6 * 1024 * 1024);
    expect(records.filter((r) => (r.level as number) >= 50)).toEqual([]);
    console.log(`${total} cycles; peak ${peak.streams} authenticated, ${peak.open} open streams; retained ${baseline} -> ${after} bytes (${((after - baseline) / 1024).toFixed(0)} KiB)`);

    // The server still serves normally afterwards.
    const s = RawStream.sotw(channels[0]!);
    s.send(firstRequest('sotw', 'n0'));
    await s.until(() => s.received.length > 0, 'a response on a fresh stream');
    expect(server.streams).toBe(1);
    s.cancel();
    await expectNoStreamState();
  });
});
