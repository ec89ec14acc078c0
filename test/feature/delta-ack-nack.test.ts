/**
 * Delta ACK/NACK: ACKs are not answered, only changed resources are sent, a NACKed version is never
 * resent, the next version is (docs/delta-ads.md; reference/xds-protocol.md 1.3, 1.7 "Delta NACK",
 * checklist 1-3; bugs 1-3).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-client.ts';
import { CDS, LDS, SDS, cluster, listener, resources, secret } from './ads-fixtures.ts';
import { type DeltaTestStream, sorted, typeStatus } from './delta-client.ts';

let h: AdsHarness;
beforeEach(async () => {
  h = await AdsHarness.start();
});
afterEach(async () => {
  await h.close();
});

const snap = (o: { lport?: number; c2port?: number; pem?: string } = {}) =>
  resources({
    secrets: [secret('a', o.pem ?? 'a1'), secret('b')],
    clusters: [cluster('c1', 9001), cluster('c2', o.c2port ?? 9002)],
    listeners: [listener('l1', o.lport ?? 10001, 'c1'), listener('l2', 10002, 'c2')],
  });

async function lds(): Promise<{ d: DeltaTestStream; good: Awaited<ReturnType<DeltaTestStream['next']>> }> {
  const d = h.deltaOpen();
  const good = await d.request({ node: { id: 'n1' }, type_url: LDS });
  d.ack(good);
  expect(await d.settle()).toEqual([]);
  return { d, good };
}

describe('ACK (checklist 1)', () => {
  it('gets no response, and only the probe is counted as a push', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    const r = await d.request({ node: { id: 'n1' }, type_url: CDS });
    const before = h.server.pushes;
    d.ack(r);
    expect(await d.settle()).toEqual([]);
    expect(h.server.pushes).toBe(before + 1);
  });

  it('an identical snapshot set again pushes nothing', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d } = await lds();
    expect(h.cache.setSnapshot('n1', snap())).toEqual([]);
    expect(await d.settle()).toEqual([]);
  });

  it('an update carries only the changed resources, with their new versions; unchanged ones are kept by the client', async () => {
    h.cache.setSnapshot('n1', snap());
    const d = h.deltaOpen();
    const first = await d.request({ node: { id: 'n1' }, type_url: CDS });
    d.ack(first);
    h.cache.setSnapshot('n1', snap({ c2port: 9102 }));
    const upd = await d.next();
    expect(upd).toMatchObject({ names: ['c2'], removed: [] });
    expect(upd.versions.c2).not.toBe(first.versions.c2);
    expect(upd.system_version_info).not.toBe(first.system_version_info);
    expect(d.held(CDS)).toEqual({ c1: first.versions.c1, c2: upd.versions.c2 });
  });

  it('a change that touches another type does not resend this one (per-type, per-resource versions; checklist 12)', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d } = await lds();
    d.ack(await d.request({ type_url: SDS, resource_names_subscribe: ['a'] }));
    h.cache.setSnapshot('n1', snap({ pem: 'a2' }));
    expect((await d.settle()).map((r) => [r.type_url, r.names])).toEqual([[SDS, ['a']]]);
  });
});

describe('NACK', () => {
  it('is recorded (lastNack with the system_version_info and nonce, counter) and nothing is resent (checklist 2, bug 1)', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d, good } = await lds();
    h.cache.setSnapshot('n1', snap({ lport: 80 })); // pretend Envoy cannot bind port 80
    const bad = await d.next();
    expect(bad.names).toEqual(['l1']);
    d.nack(bad, 'Error adding/updating listener(s) l1: cannot bind 127.0.0.1:80: Permission denied');
    expect(await d.settle()).toEqual([]);
    expect(h.server.nacks).toBe(1);
    const st = typeStatus(h, 'n1', LDS);
    expect(st).toMatchObject({
      state: 'NACKED',
      versionSent: bad.system_version_info,
      lastNack: { version: bad.system_version_info, nonce: bad.nonce, message: expect.stringContaining('cannot bind') },
    });
    expect(Date.parse(st!.lastNack!.at)).not.toBeNaN();
    expect(bad.system_version_info).not.toBe(good.system_version_info);

    // The same bad content again: nothing changed, nothing sent.
    expect(h.cache.setSnapshot('n1', snap({ lport: 80 }))).toEqual([]);
    expect(await d.settle()).toEqual([]);
  });

  it('a rejected version is not resent when an unrelated resource of the type changes', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d } = await lds();
    h.cache.setSnapshot('n1', snap({ lport: 80 }));
    d.nack(await d.next(), 'cannot bind');
    await d.settle();
    h.cache.setSnapshot('n1', resources({ ...setsOf(snap({ lport: 80 })), listeners: [listener('l1', 80, 'c1'), listener('l2', 10102, 'c2')] }));
    expect((await d.settle()).map((r) => r.names)).toEqual([['l2']]);
  });

  it('does not stop the next version from being pushed, and the next ACK clears the NACKED state', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d } = await lds();
    h.cache.setSnapshot('n1', snap({ lport: 80 }));
    const bad = await d.next();
    d.nack(bad, 'cannot bind');
    await d.settle();
    h.cache.setSnapshot('n1', snap({ lport: 10003 }));
    const fixed = await d.next();
    expect(fixed.names).toEqual(['l1']);
    expect(fixed.resources[0]?.object.address.socket_address.port_value).toBe(10003);
    d.ack(fixed);
    await d.settle();
    const st = typeStatus(h, 'n1', LDS);
    expect(st?.state).toBe('SYNCED');
    expect(st?.lastNack?.nonce).toBe(bad.nonce); // the last NACK stays visible
  });

  it('going back to the last good content is sent (the client holds only that, but the server sent the bad one)', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d, good } = await lds();
    h.cache.setSnapshot('n1', snap({ lport: 80 }));
    d.nack(await d.next(), 'cannot bind');
    await d.settle();
    h.cache.setSnapshot('n1', snap());
    const back = await d.next();
    expect(back.names).toEqual(['l1']);
    expect(back.versions.l1).toBe(good.versions.l1);
  });

  it('is detected by error_detail: a NACK that also subscribes a name is answered with that name only (checklist 3)', async () => {
    h.cache.setSnapshot('n1', snap());
    const { d } = await lds();
    const a = await d.request({ type_url: SDS, resource_names_subscribe: ['a'] });
    d.nack(a, 'bad secret a', { subscribe: ['b'] });
    const b = await d.next();
    expect(b.names).toEqual(['b']);
    expect(h.server.nacks).toBe(1);
    expect(typeStatus(h, 'n1', SDS)?.lastNack).toMatchObject({ nonce: a.nonce, version: a.system_version_info, message: 'bad secret a' });
    expect(await d.settle()).toEqual([]);
    expect(sorted(Object.keys(d.held(SDS)))).toEqual(['a', 'b']);
  });
});

/** Back from a ResourceSet to fixture lists, to vary one type. */
function setsOf(set: ReturnType<typeof snap>) {
  const list = (t: string) => set.get(t)?.map((e) => e.resource) ?? [];
  return { secrets: list(SDS), clusters: list(CDS), listeners: list(LDS) };
}
