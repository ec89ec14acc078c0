/**
 * Hostile or broken xDS clients, one at a time: who they claim to be (no token, a forged one, another
 * node's, a node.id that changes), what they ask for (no node, no type, unknown types, too many types,
 * another workload's secrets). Each is refused or bounded with a status naming why, a warn log line
 * naming the peer (and node), and a count by reason; and a well-behaved proxy on the same server still
 * receives and ACKs a new push afterwards. Broken bytes are in hostile-messages.test.ts, limits on
 * streams, rates and connections in hostile-limits.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { DEFAULT_XDS_LIMITS } from '../../src/xds/xds-limits.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { AdsHarness, PROBE_TYPE_PREFIX } from './ads-client.ts';
import { CDS, SDS, resources, secret } from './ads-fixtures.ts';
import { GoodProxy, rejectionLogs } from './hostile-fixtures.ts';

/** The test's token store: a token belongs to exactly one node. */
const TOKENS: Record<string, string> = { 'good.ns': 'tok-good-SECRET', 'a.ns': 'tok-a-SECRET', 'b.ns': 'tok-b-SECRET' };
const md = (nodeId: string) => ({ 'x-token': TOKENS[nodeId]! });

let h: AdsHarness;
let good: GoodProxy;
beforeEach(async () => {
  h = await AdsHarness.start({ authenticate: (nodeId, metadata) => metadata.get('x-token')[0] === TOKENS[nodeId] });
  good = await GoodProxy.connect(h, 'good.ns', md('good.ns'));
  h.cache.setSnapshot('a.ns', resources({ secrets: [secret('default', 'cert-of-a'), secret('ROOTCA', 'root')] }));
  h.cache.setSnapshot('b.ns', resources({ secrets: [secret('default', 'cert-of-b'), secret('ROOTCA', 'root')] }));
});
afterEach(async () => {
  await h.close();
});

/** The stream ended with `code` and details matching `details`, counted and logged under `reason`; the good proxy is still served. */
async function expectRejected(s: { status: Promise<grpc.StatusObject> }, code: grpc.status, reason: string, details: RegExp): Promise<Record<string, unknown>> {
  const status = await s.status;
  expect(`${grpc.status[status.code]}: ${status.details}`).toMatch(new RegExp(`^${grpc.status[code]}: .*${details.source}`));
  await waitFor(() => h.server.rejections()[reason as 'malformed'] === 1, { what: `one rejection counted as ${reason}`, intervalMs: 10 });
  const line = rejectionLogs(h, reason)[0];
  expect(line, `a warn line with reason ${reason}`).toBeDefined();
  expect(line).toMatchObject({ peer: expect.stringMatching(/127\.0\.0\.1/), code: grpc.status[code] });
  expect(JSON.stringify(h.logs)).not.toContain('SECRET'); // tokens are never logged
  await good.pushed();
  return line!;
}

describe('identity', () => {
  it('1. no token: PERMISSION_DENIED before anything is sent', async () => {
    const s = h.open();
    s.send({ node: { id: 'a.ns' }, type_url: SDS, resource_names: ['default'] });
    const line = await expectRejected(s, grpc.status.PERMISSION_DENIED, 'unauthenticated', /not authorized/);
    expect(line).toMatchObject({ nodeId: 'a.ns', msg: expect.stringMatching(/authentication failed/) });
    expect(s.received).toEqual([]);
  });

  it('2. a forged token', async () => {
    const s = h.open({ 'x-token': 'tok-a-forged' });
    s.send({ node: { id: 'a.ns' }, type_url: SDS, resource_names: ['default'] });
    await expectRejected(s, grpc.status.PERMISSION_DENIED, 'unauthenticated', /"a\.ns" is not authorized/);
    expect(s.received).toEqual([]);
  });

  it("3. b's valid token replayed with node.id a.ns", async () => {
    const s = h.open(md('b.ns'));
    s.send({ node: { id: 'a.ns' }, type_url: SDS, resource_names: ['default'] });
    await expectRejected(s, grpc.status.PERMISSION_DENIED, 'unauthenticated', /"a\.ns" is not authorized/);
    expect(s.received).toEqual([]);
  });

  it('4. node.id changes mid-stream (SotW): closed, nothing of the other node is sent', async () => {
    const s = h.open(md('a.ns'));
    expect((await s.request({ node: { id: 'a.ns' }, type_url: SDS, resource_names: ['default'] })).names).toEqual(['default']);
    s.send({ node: { id: 'b.ns' }, type_url: CDS });
    const line = await expectRejected(s, grpc.status.INVALID_ARGUMENT, 'node_changed', /node\.id changed from "a\.ns" to "b\.ns"/);
    expect(line).toMatchObject({ nodeId: 'a.ns', newNodeId: 'b.ns' });
    expect(s.received).toHaveLength(1);
  });

  it('5. node.id changes mid-stream (Delta)', async () => {
    const s = h.deltaOpen(md('a.ns'));
    expect((await s.request({ node: { id: 'a.ns' }, type_url: SDS, resource_names_subscribe: ['default'] })).names).toEqual(['default']);
    s.send({ node: { id: 'b.ns' }, type_url: SDS, resource_names_subscribe: ['default'] });
    await expectRejected(s, grpc.status.INVALID_ARGUMENT, 'node_changed', /node\.id changed/);
    expect(s.received).toHaveLength(1);
  });

  it('6. a first request without node.id', async () => {
    const s = h.open(md('a.ns'));
    s.send({ type_url: CDS });
    await expectRejected(s, grpc.status.INVALID_ARGUMENT, 'invalid_request', /must carry node\.id/);
  });

  it('7. a request without type_url', async () => {
    const s = h.deltaOpen(md('a.ns'));
    s.send({ node: { id: 'a.ns' } });
    await expectRejected(s, grpc.status.INVALID_ARGUMENT, 'invalid_request', /type_url is required/);
  });
});

describe('what a client asks for', () => {
  it("8. another workload's secrets, by any name (SotW): only its own node's snapshot is ever read", async () => {
    const s = h.open(md('a.ns'));
    const names = ['default', 'ROOTCA', 'b.ns', 'b.ns/default', 'default.b.ns', 'spiffe://cluster.local/ns/ns/sa/b', '*'];
    const r = await s.request({ node: { id: 'a.ns' }, type_url: SDS, resource_names: names });
    expect(r.names.sort()).toEqual(['ROOTCA', 'default']);
    expect(r.resources.find((x) => x.name === 'default')!.object.tls_certificate.certificate_chain.inline_string).toBe('cert-of-a');
    // b's certificate changes: nothing reaches a.
    h.cache.setSnapshot('b.ns', resources({ secrets: [secret('default', 'cert-of-b-2')] }));
    expect(await s.settle()).toEqual([]);
    await good.pushed();
  });

  it("9. another workload's secrets (Delta): named ones are reported absent, a wildcard gets only its own", async () => {
    const s = h.deltaOpen(md('a.ns'));
    const r = await s.request({ node: { id: 'a.ns' }, type_url: SDS, resource_names_subscribe: ['default', 'b.ns/default', 'default@b.ns'] });
    expect(r.names).toEqual(['default']);
    expect(r.resources[0]!.object.tls_certificate.certificate_chain.inline_string).toBe('cert-of-a');
    expect(r.removed.sort()).toEqual(['b.ns/default', 'default@b.ns']);
    s.ack(r, { subscribe: ['*'] });
    expect((await s.next()).names).toEqual(['ROOTCA']);
    await good.pushed();
  });

  it('10. unknown type URLs are answered empty, counted and logged at debug', async () => {
    const s = h.open(md('a.ns'));
    const r = await s.request({ node: { id: 'a.ns' }, type_url: 'type.googleapis.com/evil.Type' });
    expect(r).toMatchObject({ type_url: 'type.googleapis.com/evil.Type', names: [] });
    await s.request({ type_url: 'not even a url' });
    expect(h.server.unknownTypeRequests).toBe(2);
    expect(h.logs.filter((l) => l.level === 20 && /does not serve/.test(String(l.msg))).map((l) => l.typeUrl)).toEqual([
      'type.googleapis.com/evil.Type',
      'not even a url',
    ]);
    expect(h.server.rejections()).toEqual({});
    await good.pushed();
  });

  it(`11. more than ${DEFAULT_XDS_LIMITS.maxTypesPerStream} type URLs on one stream`, async () => {
    const s = h.open(md('a.ns'));
    s.ack(await s.request({ node: { id: 'a.ns' }, type_url: CDS })); // a type it already has is fine
    for (let i = 1; i < DEFAULT_XDS_LIMITS.maxTypesPerStream; i++) await s.request({ type_url: `${PROBE_TYPE_PREFIX}.many${i}` });
    s.send({ type_url: `${PROBE_TYPE_PREFIX}.oneTooMany` });
    const line = await expectRejected(s, grpc.status.RESOURCE_EXHAUSTED, 'too_many_types', /more than 32 distinct type URLs/);
    expect(line).toMatchObject({ nodeId: 'a.ns', typeUrl: `${PROBE_TYPE_PREFIX}.oneTooMany` });
  });

  it('12. /metrics counts every rejection by reason (0 for those not seen)', async () => {
    for (const token of [undefined, 'forged']) {
      const s = h.open(token ? { 'x-token': token } : undefined);
      s.send({ node: { id: 'a.ns' }, type_url: CDS });
      await s.status;
    }
    const { registry } = createMetrics({ ads: h.server, cache: h.cache, lastLoad: () => ({ ok: true, at: '' }), ca: () => ({ issued: 0, failed: 0, phase: 'stable', trustedRoots: 1, certs: [], roots: [], signerNotAfter: 0 }) });
    const m = await registry.metrics();
    expect(m).toMatch(/^meshplane_xds_rejected_total\{reason="unauthenticated"\} 2$/m);
    expect(m).toMatch(/^meshplane_xds_rejected_total\{reason="rate_limited"\} 0$/m);
    expect(m).toMatch(/^meshplane_xds_unknown_type_requests_total 0$/m);
    // A second scrape does not count them twice.
    expect(await registry.metrics()).toMatch(/^meshplane_xds_rejected_total\{reason="unauthenticated"\} 2$/m);
    await good.pushed();
  });
});
