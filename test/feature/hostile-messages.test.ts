/**
 * Broken bytes on an ADS stream: undecodable protobuf (truncated, absurdly nested, random), messages
 * over the size limit (sent, or only announced), compressed messages that do not decompress. Each
 * closes only its own stream, with a status, a warn log line naming the peer (and the node once
 * known) and a count as `malformed` or `oversized`; a well-behaved proxy still receives its pushes.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait-for.ts';
import { AdsHarness } from './ads-client.ts';
import { RawStream } from './ads-raw-client.ts';
import { CDS, cluster, resources } from './ads-fixtures.ts';
import { bytesClient, encodeRequest, GoodProxy, grpcFrame, nestedMetadataRequest, rawGrpcCall, rejectionLogs } from './hostile-fixtures.ts';

const MAX_BYTES = 64 * 1024;

let h: AdsHarness;
let good: GoodProxy;
let client: grpc.Client;
beforeEach(async () => {
  h = await AdsHarness.start({ limits: { maxMessageBytes: MAX_BYTES } });
  good = await GoodProxy.connect(h);
  h.cache.setSnapshot('a.ns', resources({ clusters: [cluster('c1', 9001)] }));
  client = bytesClient(h.port);
});
afterEach(async () => {
  client.close();
  await h.close();
});

const sotw = () => RawStream.sotw(client);
const first = (nodeId = 'a.ns') => encodeRequest({ node: { id: nodeId }, type_url: CDS });

/** `n` rejections counted as `reason`, at least one warn line for it; then the good proxy gets a push. */
async function expectCounted(reason: 'malformed' | 'oversized', n = 1): Promise<Record<string, unknown>> {
  await waitFor(() => h.server.rejections()[reason] === n, { what: `${n} rejection(s) counted as ${reason}`, intervalMs: 10 });
  const line = rejectionLogs(h, reason)[0];
  expect(line, `a warn line with reason ${reason}`).toMatchObject({ peer: expect.stringMatching(/127\.0\.0\.1/) });
  await good.pushed();
  expect(h.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  return line!;
}

describe('undecodable requests', () => {
  it('1. a truncated message as the first request: INVALID_ARGUMENT naming the decode error', async () => {
    const s = sotw();
    s.send(Buffer.from([0x12, 0x64, 0x0a])); // node: 100 bytes announced, 1 sent
    const status = await s.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/^the request \(3 bytes\) is not a valid DiscoveryRequest: index out of range/);
    await expectCounted('malformed');
  });

  it('2. garbage after a valid first request: the log line names the node', async () => {
    const s = sotw();
    s.send(first());
    await s.until(() => s.received.length === 1, 'the first response');
    s.send(Buffer.from([0x32, 0x05, 0x08])); // error_detail: 5 bytes announced, 1 sent
    expect((await s.status).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await expectCounted('malformed')).toMatchObject({ nodeId: 'a.ns', code: 'INVALID_ARGUMENT' });
    expect(h.server.streams).toBe(1); // only the good proxy
  });

  it('3. garbage on a Delta stream', async () => {
    const s = RawStream.delta(client);
    s.send(encodeRequest({ node: { id: 'a.ns' }, type_url: CDS }, true));
    await s.until(() => s.received.length === 1, 'the first response');
    s.send(Buffer.from([0x0f])); // wire type 7 does not exist
    const status = await s.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/not a valid DeltaDiscoveryRequest/);
    await expectCounted('malformed');
  });

  it('4. node.metadata nested 100,000 deep: protobufjs stops at 100 levels (as protoc does), malformed', async () => {
    const bytes = nestedMetadataRequest('a.ns', 100_000);
    expect(bytes.length).toBeLessThan(MAX_BYTES * 16);
    await h.close();
    h = await AdsHarness.start(); // default 4 MiB limit: the message is legal by size
    good = await GoodProxy.connect(h);
    client.close();
    client = bytesClient(h.port);
    const s = sotw();
    s.send(bytes);
    const status = await s.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/maximum nesting depth exceeded/);
    await expectCounted('malformed');
    // The same structure 20 deep (40 messages) is fine.
    const ok = sotw();
    ok.send(nestedMetadataRequest('good.ns', 20));
    await ok.until(() => ok.received.length === 1, 'the answer to a shallow metadata request');
  });

  it('5. 300 random byte strings: each stream is answered or closed with a status; nothing else is affected', async () => {
    const streams: RawStream[] = [];
    for (let i = 0; i < 300; i++) {
      const s = sotw();
      s.send(randomBytes(1 + (i % 200)));
      streams.push(s);
    }
    // Random bytes rarely decode to a request with a node.id; those that do are answered or refused.
    await Promise.all(streams.map((s) => s.until(() => s.received.length > 0 || s.ended !== undefined, 'an answer or an end', 20_000)));
    const codes = new Set(streams.filter((s) => s.ended).map((s) => grpc.status[s.ended!.code]));
    for (const code of codes) expect(['INVALID_ARGUMENT', 'PERMISSION_DENIED']).toContain(code);
    expect(h.server.rejections().malformed).toBeGreaterThan(100);
    await good.pushed();
    expect(h.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    for (const s of streams) s.cancel();
  });
});

describe('oversized requests', () => {
  const big = (nodeId: string) => encodeRequest({ node: { id: nodeId, cluster: 'x'.repeat(MAX_BYTES) }, type_url: CDS });

  it('6. over the limit as the first request: RESOURCE_EXHAUSTED from grpc-js, counted and logged', async () => {
    const s = sotw();
    s.send(big('a.ns'));
    const status = await s.status;
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toMatch(new RegExp(`Received message larger than max \\(\\d+ vs ${MAX_BYTES}\\)`));
    expect(await expectCounted('oversized')).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('7. over the limit after authentication (Delta): the log line names the node', async () => {
    const s = RawStream.delta(client);
    s.send(encodeRequest({ node: { id: 'a.ns' }, type_url: CDS }, true));
    await s.until(() => s.received.length === 1, 'the first response');
    s.send(encodeRequest({ type_url: CDS, resource_names_subscribe: ['y'.repeat(MAX_BYTES)] }, true));
    expect((await s.status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await expectCounted('oversized')).toMatchObject({ nodeId: 'a.ns' });
    expect(h.server.streams).toBe(1);
  });

  it('8. a 1 GiB message announced, 10 bytes sent: refused at once, nothing buffered', async () => {
    const r = await rawGrpcCall(h.port, grpcFrame(Buffer.alloc(10), { declaredLength: 1024 ** 3 }));
    expect(r).toEqual({ grpcStatus: grpc.status.RESOURCE_EXHAUSTED, grpcMessage: `Received message larger than max (${1024 ** 3} vs ${MAX_BYTES})` });
    await expectCounted('oversized');
  });

  it('9. just under the limit is served', async () => {
    const s = sotw();
    s.send(encodeRequest({ node: { id: 'a.ns', cluster: 'x'.repeat(MAX_BYTES - 100) }, type_url: CDS }));
    await s.until(() => s.received.length === 1, 'the answer');
    expect(h.server.rejections()).toEqual({});
  });
});

describe('compression', () => {
  it('10. a gzip-flagged message that is not gzip: INTERNAL from grpc-js, counted as malformed', async () => {
    const r = await rawGrpcCall(h.port, grpcFrame(Buffer.from('not gzip at all'), { compressed: true }), { 'grpc-encoding': 'gzip' });
    expect(r).toEqual({ grpcStatus: grpc.status.INTERNAL, grpcMessage: 'Failed to decompress message' });
    await expectCounted('malformed');
  });

  it('11. an unsupported encoding: UNIMPLEMENTED from grpc-js, counted as malformed', async () => {
    const r = await rawGrpcCall(h.port, grpcFrame(Buffer.from('xx'), { compressed: true }), { 'grpc-encoding': 'snappy' });
    expect(r.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
    expect(r.grpcMessage).toMatch(/unsupported encoding "snappy"/);
    await expectCounted('malformed');
  });

  it('12. a gzip bomb (small on the wire, over the limit inflated): RESOURCE_EXHAUSTED, counted as oversized', async () => {
    const bomb = gzipSync(Buffer.alloc(MAX_BYTES * 64));
    expect(bomb.length).toBeLessThan(MAX_BYTES);
    const r = await rawGrpcCall(h.port, grpcFrame(bomb, { compressed: true }), { 'grpc-encoding': 'gzip' });
    expect(r.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.grpcMessage).toMatch(/decompresses to a size larger than 65536/);
    await expectCounted('oversized');
  });
});
