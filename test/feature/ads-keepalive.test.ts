/**
 * Keepalive: the ADS server pings its clients, so a proxy that vanished without closing its connection
 * (host gone, NAT entry dropped, network partition) is noticed and its stream state freed, while an idle
 * but healthy proxy, which answers the pings, keeps its stream.
 *
 * The broken network is a TCP relay between client and server that stops forwarding (both ways) while
 * keeping both sockets open: nothing is closed or reset, only the pings go unanswered.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdsServer } from '../../src/xds/ads-server.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { adsChannel, quietLogger, RawStream } from './ads-raw-client.ts';
import { CDS, cluster, resources } from './ads-fixtures.ts';

/** The options every grpc.Server was constructed with (grpc-js wrapped to record them). */
const serverOptions = vi.hoisted(() => [] as Record<string, unknown>[]);
vi.mock('@grpc/grpc-js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('@grpc/grpc-js')>();
  class RecordingServer extends orig.Server {
    constructor(options?: grpc.ServerOptions) {
      serverOptions.push({ ...options });
      super(options);
    }
  }
  return { ...orig, Server: RecordingServer };
});

/** A TCP relay that can freeze: stop moving bytes in both directions, sockets left open. */
class FreezableRelay {
  readonly #server: Server;
  readonly #pairs: [Socket, Socket][] = [];
  /** Chunks relayed server -> client (HTTP/2 frames: responses, pings, ...). */
  downstreamChunks = 0;
  port = 0;

  constructor(target: number) {
    this.#server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) s.on('error', () => undefined);
      client.pipe(upstream);
      upstream.on('data', () => this.downstreamChunks++);
      upstream.pipe(client);
      this.#pairs.push([client, upstream]);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  /** The relay's own addresses towards the server: what the server sees as the relayed clients' peers. */
  upstreamPeers(): string[] {
    return this.#pairs.map(([, upstream]) => `${upstream.localAddress}:${upstream.localPort}`);
  }

  /** Stops forwarding: nothing is read from either socket any more, nothing is closed. */
  freeze(): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  close(): Promise<void> {
    for (const pair of this.#pairs) for (const s of pair) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function startServer(grpcOptions?: grpc.ServerOptions): AdsServer {
  const cache = new SnapshotCache();
  cache.setSnapshot('n1', resources({ clusters: [cluster('c1', 9001)] }));
  const server = new AdsServer({ cache, logger: quietLogger().logger, controlPlaneId: 'meshplane-test', authenticate: () => true, grpcOptions });
  cleanups.push(() => server.close());
  return server;
}

describe('keepalive', () => {
  it('is on by default (30 s pings, 10 s timeout), and the caller can override it', () => {
    serverOptions.length = 0;
    startServer();
    startServer({ 'grpc.keepalive_time_ms': 200 });
    expect(serverOptions).toHaveLength(2);
    expect(serverOptions[0]).toMatchObject({
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    expect(serverOptions[1]).toMatchObject({ 'grpc.keepalive_time_ms': 200, 'grpc.keepalive_timeout_ms': 10_000 });
  });

  it('drops the stream of a client whose connection went dead, and keeps an idle healthy one', async () => {
    const server = startServer({ 'grpc.keepalive_time_ms': 200, 'grpc.keepalive_timeout_ms': 200 });
    const port = await server.listen('127.0.0.1:0', grpc.ServerCredentials.createInsecure());
    const relay = await new FreezableRelay(port).start();
    cleanups.push(() => relay.close());
    const direct = adsChannel(`127.0.0.1:${port}`);
    const relayed = adsChannel(`127.0.0.1:${relay.port}`);
    cleanups.push(() => direct.close(), () => relayed.close());

    // Two proxies of the same node: one direct, one through the relay. Both get their first response, then idle.
    const healthy = RawStream.sotw(direct);
    const doomed = RawStream.sotw(relayed);
    for (const s of [healthy, doomed]) {
      s.send({ node: { id: 'n1' }, type_url: CDS, resource_names: [] });
      await s.until(() => s.received.length === 1, 'the first response');
      s.ack(s.received[0]!);
    }
    await waitFor(() => server.streams === 2, { what: 'both streams to be connected' });
    const relayedPeers = relay.upstreamPeers();
    expect(server.status().filter((p) => relayedPeers.includes(p.peer))).toHaveLength(1);

    // Idle, but alive: the server's pings go through the relay and are answered; nobody is dropped.
    const before = relay.downstreamChunks;
    await waitFor(() => relay.downstreamChunks >= before + 3, { what: 'three keepalive pings to reach the idle relayed client' });
    expect(server.streams).toBe(2);
    expect(doomed.ended).toBeUndefined();

    // The network dies silently: the server's next ping goes unanswered, so it drops the connection and its stream.
    relay.freeze();
    await waitFor(() => server.streams === 1 && server.openStreams === 1, { what: 'the server to drop the stream behind the frozen relay', timeoutMs: 15_000 });
    expect(server.status()).toHaveLength(1);
    expect(relayedPeers).not.toContain(server.status()[0]!.peer);
    // The healthy, idle proxy is untouched and still served.
    expect(healthy.ended).toBeUndefined();
    server.cache.setSnapshot('n1', resources({ clusters: [cluster('c1', 9001), cluster('c2', 9002)] }));
    await healthy.until(() => healthy.received.length === 2, 'the healthy proxy to get the next push');
  });
});
