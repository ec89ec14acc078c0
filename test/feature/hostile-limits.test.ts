/**
 * Limits on what one client may hold or do: streams in total and per node, requests per second on a
 * stream, streams that never send a request, and thousands of TCP connections that never speak
 * HTTP/2 (or stop after the preface). Each is refused or reaped with a status naming the limit, a
 * warn log line and a count by reason, while a well-behaved proxy on the same server keeps receiving
 * and ACKing pushes in the middle of it.
 */
import * as grpc from '@grpc/grpc-js';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { XdsLimits } from '../../src/xds/xds-limits.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { AdsHarness } from './ads-client.ts';
import { adsChannel, RawStream } from './ads-raw-client.ts';
import { CDS, cluster, resources } from './ads-fixtures.ts';
import { GoodProxy, rejectionLogs } from './hostile-fixtures.ts';

let h: AdsHarness;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h.close();
});

async function start(limits: Partial<XdsLimits>): Promise<GoodProxy> {
  h = await AdsHarness.start({ limits });
  return GoodProxy.connect(h);
}

/** `n` channels (connections) to the harness, closed after the test. */
function channels(n: number): grpc.Client[] {
  const out = Array.from({ length: n }, () => adsChannel(`127.0.0.1:${h.port}`));
  cleanups.push(() => out.forEach((c) => c.close()));
  return out;
}

const firstRequest = (nodeId: string) => ({ node: { id: nodeId }, type_url: CDS, resource_names: [] });
const codeOf = (s: RawStream) => (s.ended ? grpc.status[s.ended.code] : 'open');
const tally = (streams: RawStream[]) => streams.reduce<Record<string, number>>((m, s) => ({ ...m, [codeOf(s)]: (m[codeOf(s)] ?? 0) + 1 }), {});

describe('streams', () => {
  it('1. over the total (maxStreams): new streams are refused, open ones keep working, a slot frees on close', async () => {
    const good = await start({ maxStreams: 40 });
    const [a, b] = channels(2);
    const silent = Array.from({ length: 60 }, (_, i) => RawStream.sotw(i % 2 ? a! : b!));
    await waitFor(() => silent.filter((s) => s.ended).length === 21 && h.server.openStreams === 40, { what: '21 refusals and 40 open streams' });
    expect(tally(silent)).toEqual({ open: 39, RESOURCE_EXHAUSTED: 21 });
    expect(silent.find((s) => s.ended)!.ended!.details).toBe('the control plane already has 40 xDS streams open (the most allowed); retry later');
    expect(h.server.rejections()).toEqual({ too_many_streams: 21 });
    expect(rejectionLogs(h, 'too_many_streams')[0]).toMatchObject({ peer: expect.stringMatching(/^127\.0\.0\.1:/), code: 'RESOURCE_EXHAUSTED' });
    await good.pushed();
    for (const s of silent) s.cancel();
    await waitFor(() => h.server.openStreams === 1, { what: 'the silent streams to be gone' });
    const next = RawStream.sotw(a!);
    next.send(firstRequest('good.ns'));
    await next.until(() => next.received.length === 1, 'a new stream to be served');
  });

  it('2. over the per-node limit (4): the fifth stream of a node is refused; other nodes are not affected', async () => {
    const good = await start({});
    h.cache.setSnapshot('x.ns', resources({ clusters: [cluster('c1', 9001)] }));
    const [ch] = channels(1);
    const streams = Array.from({ length: 4 }, () => RawStream.sotw(ch!));
    for (const s of streams) s.send(firstRequest('x.ns'));
    await Promise.all(streams.map((s) => s.until(() => s.received.length === 1, 'the first response')));
    const fifth = RawStream.delta(ch!);
    fifth.send({ node: { id: 'x.ns' }, type_url: CDS });
    const status = await fifth.status;
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toBe('node "x.ns" already has 4 xDS streams open (the most allowed per node)');
    expect(fifth.received).toEqual([]);
    expect(rejectionLogs(h, 'too_many_streams_for_node')[0]).toMatchObject({ nodeId: 'x.ns', peer: expect.any(String) });
    expect(h.server.rejections()).toEqual({ too_many_streams_for_node: 1 });
    await good.pushed();
    // The four are still served; one leaves and a new one gets in.
    h.cache.setSnapshot('x.ns', resources({ clusters: [cluster('c2', 9002)] }));
    await Promise.all(streams.map((s) => s.until(() => s.received.length === 2, 'the push')));
    streams[0]!.cancel();
    await waitFor(() => h.server.streams === 4, { what: 'the cancelled stream to be gone' });
    const again = RawStream.sotw(ch!);
    again.send(firstRequest('x.ns'));
    await again.until(() => again.received.length === 1, 'the replacement stream to be served');
  });
});

describe('request rate', () => {
  it('3. a request flood on one stream is cut (RESOURCE_EXHAUSTED); 10 floods at once, pushes to the good proxy go on', async () => {
    const good = await start({ requestsPerSecond: 20, requestBurst: 50 });
    h.cache.setSnapshot('flood.ns', resources({ clusters: [cluster('c1', 9001)] }));
    const chs = channels(5);
    const floods = Array.from({ length: 10 }, (_, i) => {
      const s = i % 2 ? RawStream.sotw(chs[i % 5]!) : RawStream.delta(chs[i % 5]!);
      s.send(i % 2 ? firstRequest(`flood${i}.ns`) : { node: { id: `flood${i}.ns` }, type_url: CDS });
      return s;
    });
    const flood = (s: RawStream, i: number) => {
      for (let k = 0; k < 3000 && !s.ended; k++) s.send(i % 2 ? { type_url: CDS, response_nonce: `stale${k}`, resource_names: [] } : { type_url: CDS, response_nonce: `x${k}` });
    };
    floods.forEach(flood);
    await good.pushed(); // in the middle of the floods
    await Promise.all(floods.map((s) => s.status));
    expect(tally(floods)).toEqual({ RESOURCE_EXHAUSTED: 10 });
    expect(floods[0]!.ended!.details).toBe('more than 20 requests per second (burst 50) on one stream');
    expect(h.server.rejections()).toEqual({ rate_limited: 10 });
    expect(rejectionLogs(h, 'rate_limited')[0]).toMatchObject({ nodeId: expect.stringMatching(/^flood\d\.ns$/), peer: expect.any(String) });
    await good.pushed();
    await waitFor(() => h.server.streams === 1, { what: 'only the good proxy left' });
  });
});

describe('silent streams and connections', () => {
  it('4. 500 streams that never send a first request are closed after firstRequestTimeoutMs; logs are throttled', async () => {
    const good = await start({ firstRequestTimeoutMs: 300 });
    const chs = channels(5);
    const silent = Array.from({ length: 500 }, (_, i) => (i % 2 ? RawStream.sotw(chs[i % 5]!) : RawStream.delta(chs[i % 5]!)));
    await good.pushed(); // while they are open
    await Promise.all(silent.map((s) => s.status));
    expect(tally(silent)).toEqual({ DEADLINE_EXCEEDED: 500 });
    expect(silent[0]!.ended!.details).toBe('no DiscoveryRequest within 300 ms of opening the stream');
    expect(h.server.rejections()).toEqual({ first_request_timeout: 500 });
    const lines = rejectionLogs(h, 'first_request_timeout');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(500); // at most 10 a second per reason
    await waitFor(() => h.server.openStreams === 1, { what: 'only the good proxy left' });
    await good.pushed();
  });

  /** `n` raw TCP connections to the harness (in batches, within the listen backlog), each optionally sending `hello`. */
  async function rawConnections(n: number, hello?: Buffer): Promise<{ sockets: Socket[]; closed: () => number }> {
    const sockets: Socket[] = [];
    let closed = 0;
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < n; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, n - i) }, () => new Promise<void>((resolve) => {
          const s = connect(h.port, '127.0.0.1', () => resolve());
          s.on('error', () => resolve());
          s.on('data', () => undefined); // read what the server sends (its SETTINGS, pings, GOAWAY)
          s.on('close', () => void closed++);
          if (hello) s.write(hello);
          sockets.push(s);
        })),
      );
    }
    return { sockets, closed: () => closed };
  }

  const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

  it('5. 2,000 TCP connections that send nothing and 200 that stop after the HTTP/2 preface are closed as idle', async () => {
    const good = await start({ connectionIdleTimeoutMs: 500 });
    const silent = await rawConnections(2000);
    const preface = await rawConnections(200, PREFACE);
    await good.pushed(); // with 2,200 idle connections open
    await waitFor(() => silent.closed() === 2000 && preface.closed() === 200, {
      what: 'the server to close every idle connection',
      timeoutMs: 25_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${silent.closed()} silent and ${preface.closed()} preface-only closed`);
    });
    await good.pushed(); // its own connection has a stream, so it is never idle
    const fresh = RawStream.sotw(channels(1)[0]!);
    fresh.send(firstRequest('good.ns'));
    await fresh.until(() => fresh.received.length === 1, 'a new connection to be served');
  });

  it('6. without the idle limit, keepalive drops connections that do not answer pings', async () => {
    // Keepalive short for the test (30 s + 10 s by default), the idle limit out of the way.
    h = await AdsHarness.start({
      limits: { connectionIdleTimeoutMs: 3_600_000 },
      grpcOptions: { 'grpc.keepalive_time_ms': 300, 'grpc.keepalive_timeout_ms': 300 },
    });
    const good = await GoodProxy.connect(h);
    const silent = await rawConnections(200);
    await waitFor(() => silent.closed() === 200, { what: 'keepalive to drop the 200 silent connections' });
    await good.pushed(); // it answers pings (grpc-js does), so it is kept
  });
});
