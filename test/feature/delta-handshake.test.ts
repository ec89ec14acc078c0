/**
 * Delta ADS (DeltaAggregatedResources) stream opening: the response shape, first responses, node,
 * type_url and authentication (docs/delta-ads.md; reference/xds-protocol.md 1.2, 1.7, 1.9; bug 17).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';
import { sorted, streamStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start({ authenticate: (nodeId, md) => md.get('x-token')[0] === `token-of-${nodeId}` || nodeId.startsWith('open.') });
});
afterEach(async () => {
  await h.close();
});

const snap = () => resources({ secrets: [secret('a'), secret('b')], clusters: [cluster('c1', 9001), cluster('c2', 9002)], listeners: [listener('l1', 10001, 'c1')] });

describe('DeltaDiscoveryResponse', () => {
  it('carries name, per-resource version and an Any of the response type_url; system_version_info = the SotW version', async () => {
    h.cache.setSnapshot('open.a', snap());
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'open.a' }, type_url: CDS });
    expect(r.type_url).toBe(CDS);
    expect(sorted(r.names)).toEqual(['c1', 'c2']);
    expect(r.removed).toEqual([]);
    for (const res of r.resources) {
      expect(res.type_url).toBe(CDS); // checklist 17: response type_url == each Any's
      expect(res.innerName).toBe(res.name);
      expect(res.version).not.toBe('');
    }
    expect(r.resources.find((x) => x.name === 'c1')?.object).toMatchObject({ type: 'STATIC', connect_timeout: { seconds: '1' } });
    expect(r.versions.c1).not.toBe(r.versions.c2);
    expect(r.nonce).not.toBe('');
    expect(r.control_plane?.identifier).toBe('meshplane-test');
    expect(r.system_version_info).toBe(h.cache.getSnapshot('open.a')!.version(CDS));
    const sotw = h.open();
    expect((await sotw.request({ node: { id: 'open.a' }, type_url: CDS })).version_info).toBe(r.system_version_info);
  });

  it('every type: the Any type_urls equal the response type_url, and each name appears once', async () => {
    h.cache.setSnapshot('open.a', snap());
    const d = h.deltaOpen();
    d.send({ node: { id: 'open.a' }, type_url: CDS });
    const got = [await d.next(), await d.request({ type_url: LDS }), await d.request({ type_url: SDS, resource_names_subscribe: ['a', 'b', 'a'] })];
    expect(got.map((r) => [r.type_url, sorted(r.names)])).toEqual([
      [CDS, ['c1', 'c2']],
      [LDS, ['l1']],
      [SDS, ['a', 'b']],
    ]);
    for (const r of got) for (const res of r.resources) expect(res.type_url).toBe(r.type_url);
    expect(new Set(got.map((r) => r.nonce)).size).toBe(3);
  });

  it('per-resource versions are content hashes: equal across nodes and across a control-plane restart', async () => {
    h.cache.setSnapshot('open.a', snap());
    h.cache.setSnapshot('open.b', resources({ clusters: [cluster('c1', 9001), cluster('c9', 9009)] }));
    const a = h.deltaOpen();
    const b = h.deltaOpen();
    const ra = await a.request({ node: { id: 'open.a' }, type_url: CDS });
    const rb = await b.request({ node: { id: 'open.b' }, type_url: CDS });
    expect(rb.versions.c1).toBe(ra.versions.c1);

    const h2 = await AdsHarness.start(); // a new process: new cache, new encoder, same content
    try {
      h2.cache.setSnapshot('open.a', snap());
      const r2 = await h2.deltaOpen().request({ node: { id: 'open.a' }, type_url: CDS });
      expect(r2.versions).toEqual(ra.versions);
      expect(r2.system_version_info).toBe(ra.system_version_info);
    } finally {
      await h2.close();
    }
  });
});

describe('first request of each type (bug 17, checklist 9)', () => {
  it('is answered when the node has no snapshot: empty wildcard responses, missing names in removed_resources', async () => {
    const d = h.deltaOpen();
    const cds = await d.request({ node: { id: 'open.a' }, type_url: CDS });
    expect(cds).toMatchObject({ type_url: CDS, names: [], removed: [] });
    expect(cds.nonce).not.toBe('');
    const lds = await d.request({ type_url: LDS, resource_names_subscribe: ['*'] });
    expect(lds).toMatchObject({ type_url: LDS, names: [], removed: [] });
    const sds = await d.request({ type_url: SDS, resource_names_subscribe: ['missing'] });
    expect(sds).toMatchObject({ type_url: SDS, names: [], removed: ['missing'] });
  });

  it('then pushes the resources once a snapshot arrives', async () => {
    const d = h.deltaOpen();
    const empty = await d.request({ node: { id: 'open.a' }, type_url: CDS });
    d.ack(empty);
    expect(await d.settle()).toEqual([]);
    h.cache.setSnapshot('open.a', snap());
    const pushed = await d.next();
    expect(sorted(pushed.names)).toEqual(['c1', 'c2']);
    expect(pushed.system_version_info).not.toBe(empty.system_version_info);
  });
});

describe('types meshplane does not serve (bug 18: an RTDS layer must not break delta ADS)', () => {
  it('a Runtime subscription is answered with its name in removed_resources and the stream keeps working', async () => {
    h.cache.setSnapshot('open.a', snap());
    const d = h.deltaOpen();
    const rtds = 'type.googleapis.com/envoy.service.runtime.v3.Runtime';
    const r = await d.request({ node: { id: 'open.a' }, type_url: rtds, resource_names_subscribe: ['rtds-layer'] });
    expect(r).toMatchObject({ type_url: rtds, names: [], removed: ['rtds-layer'] });
    d.ack(r);
    expect(sorted((await d.request({ type_url: CDS })).names)).toEqual(['c1', 'c2']);
  });
});

describe('node', () => {
  it('is kept from the first message; later messages omit it (set_node_on_first_message_only)', async () => {
    h.cache.setSnapshot('open.a', snap());
    const d = h.deltaOpen();
    await d.request({ node: { id: 'open.a', cluster: 'shop', user_agent_name: 'envoy' }, type_url: CDS });
    expect((await d.request({ type_url: LDS })).names).toEqual(['l1']);
    expect(h.server.status().map((p) => [p.nodeId, p.transport])).toEqual([['open.a', 'delta']]);
  });

  it('missing on the first message: INVALID_ARGUMENT, nothing sent', async () => {
    const d = h.deltaOpen();
    d.send({ type_url: CDS });
    const status = await d.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/node/);
    expect(d.received).toEqual([]);
  });

  it('a later message claiming another node.id: INVALID_ARGUMENT', async () => {
    const d = h.deltaOpen();
    await d.request({ node: { id: 'open.a' }, type_url: CDS });
    d.send({ node: { id: 'open.b' }, type_url: LDS });
    expect((await d.status).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('type_url', () => {
  it('is required on the first request: INVALID_ARGUMENT', async () => {
    const d = h.deltaOpen();
    d.send({ node: { id: 'open.a' } });
    const status = await d.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/type_url/);
    expect(d.received).toEqual([]);
  });

  it('is required on every later request too', async () => {
    const d = h.deltaOpen();
    const cds = await d.request({ node: { id: 'open.a' }, type_url: CDS });
    d.send({ response_nonce: cds.nonce });
    expect((await d.status).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('authentication (as SotW)', () => {
  it('accepts a stream whose token matches its node', async () => {
    h.cache.setSnapshot('shop.backend', snap());
    const d = h.deltaOpen({ 'x-token': 'token-of-shop.backend' });
    expect((await d.request({ node: { id: 'shop.backend' }, type_url: SDS, resource_names_subscribe: ['a'] })).names).toEqual(['a']);
    expect(streamStatus(h, 'shop.backend')?.transport).toBe('delta');
  });

  it('closes a stream that fails it with PERMISSION_DENIED, sends nothing, never logs the token', async () => {
    h.cache.setSnapshot('shop.backend', snap());
    const d = h.deltaOpen({ 'x-token': 'token-of-shop.frontend-SECRET' });
    d.send({ node: { id: 'shop.backend' }, type_url: SDS, resource_names_subscribe: ['a'] });
    d.send({ type_url: CDS });
    const status = await d.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(d.received).toEqual([]);
    expect(h.server.pushes).toBe(0);
    expect(h.server.status()).toEqual([]);
    expect(JSON.stringify(h.logs)).not.toContain('SECRET');
    h.cache.setSnapshot('shop.backend', resources({ secrets: [secret('a', 'rotated')] }));
    expect(h.server.pushes).toBe(0);
  });

  it('treats an authenticate callback that throws as a denial', async () => {
    await h.close();
    h = await AdsHarness.start({
      authenticate: () => {
        throw new Error('token store down');
      },
    });
    const d = h.deltaOpen();
    d.send({ node: { id: 'open.a' }, type_url: CDS });
    expect((await d.status).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(d.received).toEqual([]);
  });
});
