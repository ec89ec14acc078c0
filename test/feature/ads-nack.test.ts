/**
 * NACK handling: recorded, never answered with the same version, and status() reporting.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const snapshot = (port: number, pem = 'v1') =>
  resources({ secrets: [secret('cert', pem)], clusters: [cluster('c1', 9001)], listeners: [listener('l1', port, 'c1')] });

describe('NACK', () => {
  it('is recorded (status, counter, warning) and the same version is not resent', async () => {
    h.cache.setSnapshot('n1', snapshot(10001));
    const s = h.open();
    const good = await s.request({ node: { id: 'n1' }, type_url: LDS });
    s.ack(good);
    await s.settle();

    h.cache.setSnapshot('n1', snapshot(80)); // pretend Envoy cannot bind port 80
    const bad = await s.next();
    s.nack(bad, 'Error adding/updating listener(s) l1: cannot bind 127.0.0.1:80: Permission denied', good.version_info);
    expect(await s.settle()).toEqual([]);

    expect(h.server.nacks).toBe(1);
    const lds = h.server.status()[0]?.types.find((t) => t.typeUrl === LDS);
    expect(lds).toMatchObject({
      versionSent: bad.version_info,
      nonceSent: bad.nonce,
      versionAcked: good.version_info,
      lastNack: { version: bad.version_info, nonce: bad.nonce, message: expect.stringContaining('cannot bind') },
    });
    expect(Date.parse(lds!.lastNack!.at)).not.toBeNaN();
    const warning = h.logs.find((l) => l.level === 40 && /NACK/.test(String(l.msg)));
    expect(warning).toMatchObject({ nodeId: 'n1', typeUrl: LDS, version: bad.version_info, error: expect.stringContaining('cannot bind') });

    // Setting the same bad content again changes nothing, so nothing is sent.
    expect(h.cache.setSnapshot('n1', snapshot(80))).toEqual([]);
    expect(await s.settle()).toEqual([]);
  });

  it('does not stop a new version from being pushed', async () => {
    h.cache.setSnapshot('n1', snapshot(10001));
    const s = h.open();
    const good = await s.request({ node: { id: 'n1' }, type_url: LDS });
    s.ack(good);
    await s.settle();
    h.cache.setSnapshot('n1', snapshot(80));
    const bad = await s.next();
    s.nack(bad, 'cannot bind', good.version_info);
    await s.settle();

    h.cache.setSnapshot('n1', snapshot(10002));
    const fixed = await s.next();
    expect(fixed.version_info).not.toBe(bad.version_info);
    expect(fixed.resources[0]?.object.address.socket_address.port_value).toBe(10002);
    s.ack(fixed);
    await s.settle();
    const lds = h.server.status()[0]?.types.find((t) => t.typeUrl === LDS);
    expect(lds?.versionAcked).toBe(fixed.version_info);
    expect(lds?.lastNack?.version).toBe(bad.version_info); // the last NACK stays visible
  });

  it('of a named type is answered when the subscription changes, not before', async () => {
    h.cache.setSnapshot('n1', resources({ secrets: [secret('a'), secret('b')] }));
    const s = h.open();
    const a = await s.request({ node: { id: 'n1' }, type_url: SDS, resource_names: ['a'] });
    s.nack(a, 'bad secret a', '', ['a']);
    expect(await s.settle()).toEqual([]);
    s.nack(a, 'bad secret a', '', ['a', 'b']);
    expect((await s.next()).names).toEqual(['a', 'b']);
  });

  it('is detected by error_detail, not by version: a NACK carrying the sent version is still a NACK', async () => {
    h.cache.setSnapshot('n1', snapshot(10001));
    const s = h.open();
    const cds = await s.request({ node: { id: 'n1' }, type_url: CDS });
    s.nack(cds, 'rejected', cds.version_info);
    await s.settle();
    expect(h.server.nacks).toBe(1);
    const st = h.server.status()[0]?.types.find((t) => t.typeUrl === CDS);
    expect(st?.lastNack?.nonce).toBe(cds.nonce);
    expect(st?.versionAcked).toBeUndefined();
  });
});

describe('status()', () => {
  it('reflects per stream and type what was sent, ACKed and NACKed', async () => {
    h.cache.setSnapshot('n1', snapshot(10001));
    h.cache.setSnapshot('n2', snapshot(10001));
    const s1 = h.open();
    const s2 = h.open();
    const cds = await s1.request({ node: { id: 'n1', cluster: 'shop' }, type_url: CDS });
    s1.ack(cds);
    const sds = await s1.request({ type_url: SDS, resource_names: ['cert'] });
    s1.nack(sds, 'bad key', '', ['cert']);
    await s1.settle();
    await s2.request({ node: { id: 'n2' }, type_url: LDS });

    const status = h.server.status().map((p) => ({ ...p, types: p.types.filter((t) => !t.typeUrl.includes('Probe')) }));
    expect(status.map((p) => p.nodeId)).toEqual(['n1', 'n2']);
    const [p1, p2] = status;
    expect(p1?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(p1!.connectedAt)).not.toBeNaN();
    expect(p1?.types.map((t) => t.typeUrl)).toEqual([SDS, CDS]); // push order
    expect(p1?.types[0]).toMatchObject({ subscribed: ['cert'], versionSent: sds.version_info, lastNack: { message: 'bad key' } });
    expect(p1?.types[0]?.versionAcked).toBeUndefined();
    expect(p1?.types[1]).toMatchObject({ subscribed: '*', versionSent: cds.version_info, versionAcked: cds.version_info });
    expect(p1?.types[1]?.lastNack).toBeUndefined();
    expect(typeof p1?.types[1]?.sentAt).toBe('string');
    expect(typeof p1?.types[1]?.ackedAt).toBe('string');
    expect(p2?.types).toHaveLength(1);
    expect(p2?.types[0]?.versionAcked).toBeUndefined();
    expect(h.server.streams).toBe(2);
  });
});
