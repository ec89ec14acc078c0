/**
 * Stream lifecycle: state dropped on disconnect, client cancellations, back-pressure, server close.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness, type AdsTestStream, type DecodedResponse } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start({ limits: { maxStreamsPerNode: 16 } }); // several streams of one node at once
});
afterEach(async () => {
  await h.close();
});

const snap = (pem = 'v1') => resources({ secrets: [secret('cert', pem)], clusters: [cluster('c1', 9001)], listeners: [listener('l1', 10001, 'c1')] });

async function connected(node: string): Promise<AdsTestStream> {
  const s = h.open();
  s.send({ node: { id: node }, type_url: CDS });
  s.ack(await s.next());
  s.ack(await s.request({ type_url: SDS, resource_names: ['cert'] }), ['cert']);
  await s.settle();
  return s;
}

/** Polls `cond` on the event loop (the server side of a disconnect is asynchronous). */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe('disconnect', () => {
  it('drops the stream state when the client cancels', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = await connected('n1');
    const other = await connected('n2');
    expect(h.server.streams).toBe(2);
    s.cancel();
    await eventually(() => h.server.streams === 1, 'the cancelled stream to be dropped');
    expect(h.server.status().map((p) => p.nodeId)).toEqual(['n2']);
    // Updates for the gone node go nowhere, and the server keeps serving the others.
    h.cache.setSnapshot('n1', snap('v2'));
    h.cache.setSnapshot('n2', snap('v2'));
    // n2 had no snapshot: its subscribed types (SDS, CDS) both changed.
    expect((await other.settle()).map((r) => r.type_url)).toEqual([SDS, CDS]);
  });

  it('ends the stream with OK when the client half-closes, and forgets it', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = await connected('n1');
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    await eventually(() => h.server.streams === 0, 'the half-closed stream to be dropped');
    expect(h.server.status()).toEqual([]);
  });

  it('survives clients that cancel in the middle of pushes', async () => {
    h.cache.setSnapshot('n1', snap());
    const streams = await Promise.all([1, 2, 3, 4, 5].map(() => connected('n1')));
    for (let i = 0; i < 20; i++) {
      if (i === 3) for (const s of streams.slice(0, 4)) s.cancel();
      h.cache.setSnapshot('n1', snap(`v${i + 2}`));
    }
    await eventually(() => h.server.streams === 1, 'cancelled streams to be dropped');
    const last = streams[4]!;
    const got = await last.settle();
    expect(got.at(-1)?.resources[0]?.object.tls_certificate.certificate_chain.inline_string).toBe('v21');
    // A new stream is served normally afterwards.
    const fresh = h.open();
    expect((await fresh.request({ node: { id: 'n1' }, type_url: CDS })).names).toEqual(['c1']);
  });
});

describe('back-pressure', () => {
  it('keeps only the latest pending response per type while the client does not read', async () => {
    const big = (i: number) => `${String(i).padStart(4, '0')}:${'x'.repeat(256 * 1024)}`;
    h.cache.setSnapshot('n1', snap(big(0)));
    const s = await connected('n1');
    s.pause();
    const updates = 60;
    for (let i = 1; i <= updates; i++) h.cache.setSnapshot('n1', snap(big(i)));
    const finalVersion = h.cache.getSnapshot('n1')!.version(SDS);
    s.resume();

    const got: DecodedResponse[] = [];
    while (got.at(-1)?.version_info !== finalVersion) got.push(await s.next(10_000));
    expect(got.every((r) => r.type_url === SDS)).toBe(true);
    // The writes that grpc-js buffered went out, then only the latest state: far fewer than 60.
    expect(got.length).toBeLessThan(updates / 2);
    expect(got.at(-1)?.resources[0]?.object.tls_certificate.certificate_chain.inline_string.slice(0, 4)).toBe('0060');
    expect(await s.settle()).toEqual([]);
    const sds = h.server.status()[0]?.types.find((t) => t.typeUrl === SDS);
    expect(sds?.versionSent).toBe(finalVersion);
  });
});

describe('close()', () => {
  it('ends every stream cleanly and refuses new ones', async () => {
    h.cache.setSnapshot('n1', snap());
    const a = await connected('n1');
    const b = await connected('n2');
    await h.server.close();
    expect((await a.status).code).toBe(grpc.status.OK);
    expect((await b.status).code).toBe(grpc.status.OK);
    expect(h.server.streams).toBe(0);
    // Updates after close are ignored without error.
    expect(() => h.cache.setSnapshot('n1', snap('v2'))).not.toThrow();
    const late = h.open();
    late.send({ node: { id: 'n1' }, type_url: CDS });
    expect((await late.status).code).not.toBe(grpc.status.OK);
  });
});
