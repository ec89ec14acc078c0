/**
 * Stream opening: first responses, node handling, argument errors, authentication (Delta: delta-handshake.test.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start({ authenticate: (nodeId, md) => md.get('x-token')[0] === `token-of-${nodeId}` || nodeId.startsWith('open.') });
});
afterEach(async () => {
  await h.close();
});

describe('first request of each type', () => {
  it('is answered with an empty response when the node has no snapshot yet', async () => {
    const s = h.open();
    const cds = await s.request({ node: { id: 'open.a' }, type_url: CDS });
    expect(cds).toMatchObject({ type_url: CDS, names: [], control_plane: { identifier: 'meshplane-test' } });
    expect(cds.version_info).not.toBe('');
    expect(cds.nonce).not.toBe('');
    const lds = await s.request({ type_url: LDS });
    expect(lds).toMatchObject({ type_url: LDS, names: [] });
    const sds = await s.request({ type_url: SDS, resource_names: ['missing'] });
    expect(sds).toMatchObject({ type_url: SDS, names: [] });
    expect(new Set([cds.nonce, lds.nonce, sds.nonce]).size).toBe(3);
  });

  it('is answered even when the snapshot holds nothing of that type', async () => {
    h.cache.setSnapshot('open.a', resources({ clusters: [cluster('c1', 9000)] }));
    const s = h.open();
    await s.request({ node: { id: 'open.a' }, type_url: CDS });
    expect((await s.request({ type_url: LDS })).names).toEqual([]);
  });

  it('pushes the resources once a snapshot arrives for a node that had none', async () => {
    const s = h.open();
    const empty = await s.request({ node: { id: 'open.a' }, type_url: CDS });
    s.ack(empty);
    expect(await s.settle()).toEqual([]);
    h.cache.setSnapshot('open.a', resources({ clusters: [cluster('c1', 9000)] }));
    const pushed = await s.next();
    expect(pushed.names).toEqual(['c1']);
    expect(pushed.version_info).not.toBe(empty.version_info);
  });
});

describe('node', () => {
  it('is kept from the first message; later messages omit it (set_node_on_first_message_only)', async () => {
    h.cache.setSnapshot('open.a', resources({ clusters: [cluster('c1', 9000)], listeners: [listener('l1', 10000, 'c1')] }));
    const s = h.open();
    await s.request({ node: { id: 'open.a', cluster: 'shop', user_agent_name: 'envoy' }, type_url: CDS });
    const lds = await s.request({ type_url: LDS });
    expect(lds.names).toEqual(['l1']);
    const [st] = h.server.status();
    expect(st?.nodeId).toBe('open.a');
    expect(h.server.status().map((x) => x.nodeId)).toEqual(['open.a']);
  });

  it('closes the stream with INVALID_ARGUMENT when the first message has no node.id', async () => {
    const s = h.open();
    s.send({ type_url: CDS });
    const status = await s.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/node\.id/);
    expect(s.received).toEqual([]);
  });

  it('closes the stream with INVALID_ARGUMENT when a later message claims another node.id', async () => {
    const s = h.open();
    await s.request({ node: { id: 'open.a' }, type_url: CDS });
    s.send({ node: { id: 'open.b' }, type_url: LDS });
    expect((await s.status).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('type_url', () => {
  it('is required on ADS: INVALID_ARGUMENT otherwise', async () => {
    const s = h.open();
    s.send({ node: { id: 'open.a' } });
    const status = await s.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/type_url/);
    expect(s.received).toEqual([]);
  });
});

describe('authentication', () => {
  it('accepts a stream whose token matches its node', async () => {
    h.cache.setSnapshot('shop.backend', resources({ secrets: [secret('cert')] }));
    const s = h.open({ 'x-token': 'token-of-shop.backend' });
    expect((await s.request({ node: { id: 'shop.backend' }, type_url: SDS, resource_names: ['cert'] })).names).toEqual(['cert']);
  });

  it('closes a stream that fails authentication with PERMISSION_DENIED, sends nothing, logs the node but never the token', async () => {
    h.cache.setSnapshot('shop.backend', resources({ secrets: [secret('cert')], clusters: [cluster('c1', 9000)] }));
    const s = h.open({ 'x-token': 'token-of-shop.frontend-SECRET' });
    s.send({ node: { id: 'shop.backend' }, type_url: SDS, resource_names: ['cert'] });
    s.send({ type_url: CDS });
    const status = await s.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(s.received).toEqual([]);
    expect(h.server.pushes).toBe(0);
    expect(h.server.status()).toEqual([]);
    const warning = h.logs.find((l) => l.level === 40 && l.nodeId === 'shop.backend');
    expect(warning?.msg).toMatch(/authentication failed/);
    expect(JSON.stringify(h.logs)).not.toContain('SECRET');
    // A later update for that node reaches nobody.
    h.cache.setSnapshot('shop.backend', resources({ secrets: [secret('cert', 'rotated')] }));
    expect(h.server.pushes).toBe(0);
  });

  it('treats an authenticate callback that throws as a denial', async () => {
    await h.close();
    h = await AdsHarness.start({
      authenticate: () => {
        throw new Error('token store down');
      },
    });
    const s = h.open();
    s.send({ node: { id: 'open.a' }, type_url: CDS });
    expect((await s.status).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(s.received).toEqual([]);
  });
});
