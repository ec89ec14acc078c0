/**
 * A slow or stuck proxy does not hold up pushes to the others, and costs bounded memory: while a
 * stream does not read, the server owes it at most one response per type, built from the latest
 * state when the stream drains (latest wins), instead of queueing every version.
 *
 * The stuck proxy pauses its stream (grpc-js stops reading, so HTTP/2 flow control fills on the first
 * ~256 KiB secret); a healthy proxy of another node on its own connection reads and ACKs each version.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import { AdsServer } from '../../src/xds/ads-server.ts';
import { SnapshotCache } from '../../src/xds/snapshot-cache.ts';
import { messageNameOf } from '../../src/xds/type-urls.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { adsChannel, quietLogger, RawStream, retainedBytes, type ResponseMeta } from './ads-raw-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

const TYPES = [SDS, CDS, LDS];
const PUSHES = 200;
const PAD = 'x'.repeat(256 * 1024);

/** Version `i` of a node's snapshot: every type changes; the secret is ~256 KiB and starts with `i`. */
function snap(i: number) {
  const tag = String(i).padStart(4, '0');
  return resources({
    secrets: [secret('cert', `${tag}:${PAD}`)],
    clusters: [{ ...cluster('c1', 9001), alt_stat_name: `c1-${tag}` }],
    listeners: [{ ...listener('l1', 10001, 'c1'), stat_prefix: `l1-${tag}` }],
  });
}

const { logger, records } = quietLogger();
const cache = new SnapshotCache();
// No request rate limit: the healthy proxy ACKs 200 undebounced pushes as fast as it can.
const limits = { requestsPerSecond: 1e6, requestBurst: 1e6 };
const server = new AdsServer({ cache, logger, controlPlaneId: 'meshplane-test', authenticate: () => true, limits });
const channels: grpc.Client[] = [];
let address = '';

beforeAll(async () => {
  address = `127.0.0.1:${await server.listen('127.0.0.1:0', grpc.ServerCredentials.createInsecure())}`;
});
afterAll(async () => {
  for (const c of channels) c.close();
  await server.close();
});

/** Opens a stream for `node` on its own connection, subscribes to every type, and ACKs the first responses. */
async function connect(node: string): Promise<RawStream> {
  const channel = adsChannel(address);
  channels.push(channel);
  // Keep the resources of secrets only: the payload tag tells which version arrived.
  const s = RawStream.sotw(channel, undefined, (r) => r.type_url === SDS);
  s.send({ node: { id: node }, type_url: SDS, resource_names: ['cert'] });
  s.send({ type_url: CDS, resource_names: [] });
  s.send({ type_url: LDS, resource_names: [] });
  await s.until(() => TYPES.every((t) => s.latest(t)), `${node}: the first response of every type`);
  for (const t of TYPES) s.ack(s.latest(t)!, t === SDS ? ['cert'] : []);
  return s;
}

function statusOf(node: string) {
  const st = server.status().find((p) => p.nodeId === node);
  if (!st) throw new Error(`${node} is not connected; status: ${JSON.stringify(server.status())}`);
  return st;
}

/** Responses written to the stream so far: its nonces count up from 1 per response. */
function written(node: string): number {
  return Math.max(0, ...statusOf(node).types.map((t) => Number(t.nonceSent ?? 0)));
}

function secretTag(r: ResponseMeta | undefined): string {
  const any = (r?.raw?.[0] ?? {}) as { type_url?: string; value?: Buffer };
  if (!any.type_url || !any.value) return '(none)';
  const type = protoType(messageNameOf(any.type_url));
  const obj = type.toObject(type.decode(any.value)) as any;
  return String(obj.tls_certificate?.certificate_chain?.inline_string ?? '').slice(0, 4);
}

describe('slow consumer', () => {
  it('pushes every version to a healthy proxy while another one is stuck, and keeps only the latest for the stuck one', async () => {
    cache.setSnapshot('stuck', snap(0));
    cache.setSnapshot('healthy', snap(0));
    const stuck = await connect('stuck');
    const healthy = await connect('healthy');
    const stuckBefore = written('stuck');
    expect(stuckBefore).toBe(3);

    stuck.pause();
    let maxQueued = 0;
    /** The stuck stream's write count once it was seen blocked (something queued): it must not move after that. */
    let writtenWhenBlocked: number | undefined;
    let blockedAt: number | undefined;
    let heapAtQuarter = 0;
    const healthyVersions: Record<string, Set<string>> = { [SDS]: new Set(), [CDS]: new Set(), [LDS]: new Set() };

    for (let i = 1; i <= PUSHES; i++) {
      cache.setSnapshot('stuck', snap(i));
      cache.setSnapshot('healthy', snap(i));
      const st = statusOf('stuck');
      maxQueued = Math.max(maxQueued, st.queued);
      if (st.queued > 0) {
        blockedAt ??= i;
        writtenWhenBlocked ??= written('stuck');
        expect(written('stuck'), `the blocked stream was written to at push ${i}`).toBe(writtenWhenBlocked);
      }

      // The healthy proxy gets version i of every type (reading and ACKing as Envoy does) before the next push.
      const want = Object.fromEntries(TYPES.map((t) => [t, cache.getSnapshot('healthy')!.version(t)]));
      let acked = healthy.received.length;
      await healthy.until(
        () => {
          for (; acked < healthy.received.length; acked++) {
            const r = healthy.received[acked]!;
            healthyVersions[r.type_url]?.add(r.version);
            healthy.ack(r, r.type_url === SDS ? ['cert'] : []);
          }
          return TYPES.every((t) => healthy.latest(t)?.version === want[t]);
        },
        `the healthy proxy to receive version ${i} of every type`,
      );
      if (i === PUSHES / 4) heapAtQuarter = await retainedBytes();
    }
    const heapAtEnd = await retainedBytes();

    // Healthy: every version of every type arrived (none was skipped for it), the last one is the latest.
    for (const t of TYPES) expect(healthyVersions[t]!.size, t).toBe(PUSHES);
    expect(secretTag(healthy.latest(SDS))).toBe(String(PUSHES).padStart(4, '0'));
    await waitFor(() => statusOf('healthy').types.every((t) => t.state === 'SYNCED'), { what: 'the healthy proxy to be SYNCED' });

    // Stuck: it really was blocked, with at most one owed response per type, and was not written to since.
    expect(writtenWhenBlocked, 'the stuck stream never reported a queued response').toBeDefined();
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(TYPES.length);
    expect(statusOf('stuck').queued).toBeLessThanOrEqual(TYPES.length);
    expect(statusOf('stuck').types.map((t) => t.state)).toContain('STALE');
    // It blocked once the client library's buffers and the HTTP/2 window were full (a few MiB at most),
    // long before the last push: what was written to it is bounded, not one response per push.
    expect(blockedAt!).toBeLessThan(PUSHES / 4);
    // Memory does not grow with the pushes: 150 more versions of a ~256 KiB secret queued for the stuck
    // proxy would retain >= 37 MiB; allow a quarter of that for noise.
    expect(heapAtEnd - heapAtQuarter, `retained memory grew from ${heapAtQuarter} to ${heapAtEnd} bytes`).toBeLessThan(10 * 1024 * 1024);

    // Resumed: what was in flight arrives, then one response per type with the latest state, nothing in between.
    stuck.resume();
    const latest = Object.fromEntries(TYPES.map((t) => [t, cache.getSnapshot('stuck')!.version(t)]));
    await stuck.until(() => TYPES.every((t) => stuck.latest(t)?.version === latest[t]), 'the resumed proxy to receive the latest version of every type');
    await waitFor(() => statusOf('stuck').queued === 0, { what: 'the owed responses to be written' });
    const total = written('stuck');
    await stuck.until(() => stuck.received.length === total, `all ${total} written responses to arrive`);
    expect(stuck.received.map((r) => Number(r.nonce))).toEqual(Array.from({ length: total }, (_, k) => k + 1));
    // After what was in flight when it blocked: exactly one response per type, the latest.
    const afterBlock = stuck.received.slice(writtenWhenBlocked);
    expect(afterBlock.map((r) => r.type_url)).toEqual(TYPES);
    expect(afterBlock.map((r) => r.version)).toEqual(TYPES.map((t) => latest[t]));
    expect(secretTag(stuck.latest(SDS))).toBe(String(PUSHES).padStart(4, '0'));
    console.log(`stuck stream: blocked at push ${blockedAt} after ${writtenWhenBlocked} responses; ${total} written in all for ${PUSHES} pushes; retained memory ${heapAtQuarter} -> ${heapAtEnd} bytes between push ${PUSHES / 4} and ${PUSHES}`);
    expect(records.filter((r) => (r.level as number) >= 50)).toEqual([]);
  });
});
