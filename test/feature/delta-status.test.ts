/**
 * Delta stream status: transport, per-type state (NOT SENT / STALE / SYNCED / NACKED), pendingNonce,
 * versionSent, resources, initialResourceVersions, lastNack (docs/delta-ads.md "Status";
 * src/xds/proxy-status.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';
import { eventually, streamStatus, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const snap = (pem = 'v1', withC2 = true) =>
  resources({
    secrets: [secret('a', pem), secret('b')],
    clusters: [cluster('c1', 9001), ...(withC2 ? [cluster('c2', 9002)] : [])],
    listeners: [listener('l1', 10001, 'c1')],
  });

const withoutProbes = <T extends { typeUrl: string }>(types: T[]) => types.filter((t) => !t.typeUrl.includes('Probe'));

describe('status() of a delta stream', () => {
  it('reports transport, node, peer, connection time, queue and the types in push order with their subscriptions', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1', cluster: 'shop' }, type_url: LDS }));
    d.ack(await d.request({ type_url: CDS, resource_names_subscribe: ['*', 'c1'] }));
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['b', 'a'] }));
    await d.settle();
    const p = streamStatus(h, 'n1')!;
    expect(p).toMatchObject({ nodeId: 'n1', transport: 'delta', queued: 0 });
    expect(p.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(p.connectedAt)).not.toBeNaN();
    expect(typeof p.streamId).toBe('number');
    expect(withoutProbes(p.types).map((t) => [t.typeUrl, t.subscribed])).toEqual([
      [SDS, ['a', 'b']],
      [CDS, '*'], // '*' plus names is reported as '*'
      [LDS, '*'],
    ]);
  });

  it('STALE with pendingNonce until the ACK, then SYNCED; versionSent = system_version_info; resources = names held', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS });
    expect(typeStatus(h, 'n1', CDS)).toMatchObject({ state: 'STALE', pendingNonce: r.nonce, nonceSent: r.nonce, versionSent: r.system_version_info, resources: 2 });
    d.ack(r);
    await d.settle();
    const st = typeStatus(h, 'n1', CDS)!;
    expect(st).toMatchObject({ state: 'SYNCED', versionSent: r.system_version_info, resources: 2 });
    expect(st.pendingNonce).toBeUndefined();
    expect(st.lastNack).toBeUndefined();
    expect(typeof st.sentAt).toBe('string');
    expect(typeof st.ackedAt).toBe('string');
    expect(st.initialResourceVersions ?? 0).toBe(0);

    h.cache.setSnapshot('n1', snap('v1', false));
    const removal = await d.next();
    expect(typeStatus(h, 'n1', CDS)).toMatchObject({ state: 'STALE', pendingNonce: removal.nonce, versionSent: removal.system_version_info, resources: 1 });
  });

  it('NACKED with lastNack after a NACK; SYNCED again when the next version is ACKed', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a'] }));
    h.cache.setSnapshot('n1', snap('bad'));
    const bad = await d.next();
    d.nack(bad, 'bad certificate');
    await d.settle();
    expect(typeStatus(h, 'n1', SDS)).toMatchObject({
      state: 'NACKED',
      versionSent: bad.system_version_info,
      lastNack: { version: bad.system_version_info, nonce: bad.nonce, message: 'bad certificate' },
    });
    expect(typeStatus(h, 'n1', SDS)?.pendingNonce).toBeUndefined();
    expect(h.server.nacks).toBe(1);

    h.cache.setSnapshot('n1', snap('good'));
    const good = await d.next();
    expect(typeStatus(h, 'n1', SDS)?.state).toBe('STALE');
    d.ack(good);
    await d.settle();
    expect(typeStatus(h, 'n1', SDS)).toMatchObject({ state: 'SYNCED', versionSent: good.system_version_info, lastNack: { nonce: bad.nonce } });
  });

  it('NOT SENT for a type whose first response is still queued behind back-pressure (nothing of it was sent yet)', async () => {
    const big = (i: number) => resources({ secrets: [secret('a', `${i}:${'x'.repeat(256 * 1024)}`)] });
    h.cache.setSnapshot('n1', big(0));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: SDS, resource_names_subscribe: ['a'] }));
    await d.settle();
    d.pause();
    for (let i = 1; i <= 60; i++) h.cache.setSnapshot('n1', big(i));
    await eventually(() => streamStatus(h, 'n1')?.queued === 1, 'the SDS response to be queued');
    d.send({ type_url: CDS });
    await eventually(() => streamStatus(h, 'n1')?.queued === 2, 'the CDS response to be queued');
    const cds = typeStatus(h, 'n1', CDS);
    expect(cds?.nonceSent).toBeUndefined();
    expect(cds?.state).toBe('NOT SENT'); // proxy-status.ts: "NOT SENT: nothing of this type was sent on this stream yet"
    d.resume();
    await d.settle();
  });

  it('initialResourceVersions counts what the client announced when it reconnected', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS, initial_resource_versions: { c1: 'x', c2: 'y', c9: 'z' } }));
    await d.settle();
    // c9 does not exist: removed and forgotten; c1 and c2 were re-sent.
    expect(typeStatus(h, 'n1', CDS)).toMatchObject({ initialResourceVersions: 3, resources: 2, state: 'SYNCED' });
  });

  it('SotW and Delta streams of one node are listed side by side; a closed stream disappears', async () => {
    h.cache.setSnapshot('n1', snap());
    const s = h.open();
    s.ack(await s.request({ node: { id: 'n1' }, type_url: CDS }));
    const d = h.deltaOpen();
    d.ack(await d.request({ node: { id: 'n1' }, type_url: CDS }));
    await s.settle();
    await d.settle();
    expect(h.server.status().map((p) => [p.nodeId, p.transport]).sort()).toEqual([
      ['n1', 'delta'],
      ['n1', 'sotw'],
    ]);
    expect(typeStatus(h, 'n1', CDS, 'sotw')?.versionSent).toBe(typeStatus(h, 'n1', CDS, 'delta')?.versionSent);
    d.cancel();
    await eventually(() => h.server.status().length === 1, 'the delta stream to disappear');
    expect(h.server.status()[0]?.transport).toBe('sotw');
  });

  it('counts delta responses and NACKs in the server totals', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    const before = h.server.pushes;
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS });
    expect(h.server.pushes).toBe(before + 1);
    d.nack(r, 'no');
    await d.settle();
    expect(h.server.nacks).toBe(1);
    expect(h.server.pushes).toBe(before + 2); // + the probe's answer
  });
});
