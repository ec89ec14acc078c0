import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { loadOrCreateAuthority, type Authority } from './authority.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { WorkloadCertificates } from './workload-certs.ts';

const T0 = new Date('2030-06-01T00:00:00Z').getTime();
const HOUR = 3600_000;
const A = 'spiffe://cluster.local/ns/shop/sa/backend';
const B = 'spiffe://cluster.local/ns/shop/sa/other';
const settings = { keyAlgorithm: 'ECDSA_P256' as const, workloadCertTtlSeconds: 24 * 3600, rotationRatio: 0.5 };

let authority: Authority;
beforeAll(async () => {
  ({ authority } = await loadOrCreateAuthority(`${tempDir()}/state`, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 20 * 365 * 24 * 3600, trustDomain: 'cluster.local', now: new Date(T0 - HOUR) }));
});
afterAll(cleanupTempDirs);

/** A WorkloadCertificates on a clock the test moves. */
function withClock(): { certs: WorkloadCertificates; set: (ms: number) => void } {
  let now = T0;
  return { certs: new WorkloadCertificates(authority, settings, () => new Date(now)), set: (ms) => (now = ms) };
}

describe('WorkloadCertificates', () => {
  it('reuses a cert until the rotation point, then reissues', async () => {
    const { certs, set } = withClock();
    expect(certs.nextRotationAt()).toBeUndefined();
    const first = await certs.ensure('backend-1.shop', A);
    expect(first.notAfter.getTime()).toBe(T0 + 24 * HOUR);
    expect(certs.nextRotationAt()?.getTime()).toBe(T0 + 12 * HOUR);

    set(T0 + 12 * HOUR - 1);
    expect(await certs.ensure('backend-1.shop', A)).toBe(first);
    set(T0 + 12 * HOUR);
    const second = await certs.ensure('backend-1.shop', A);
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(second.notAfter.getTime()).toBe(T0 + 36 * HOUR);
    expect(certs.nextRotationAt()?.getTime()).toBe(T0 + 24 * HOUR);
    expect(certs.peek('backend-1.shop')).toBe(second);
  });

  it('reissues when the identity changes', async () => {
    const { certs } = withClock();
    const first = await certs.ensure('backend-1.shop', A);
    const moved = await certs.ensure('backend-1.shop', B);
    expect(moved.serialNumber).not.toBe(first.serialNumber);
    expect(moved.uriSans).toEqual([B]);
    expect(new X509Certificate(moved.certChainPem).subjectAltName).toBe(`URI:${B}`);
    expect(await certs.ensure('backend-1.shop', B)).toBe(moved);
  });

  it('shares one issuance between concurrent callers', async () => {
    const { certs } = withClock();
    const p1 = certs.ensure('backend-1.shop', A);
    const p2 = certs.ensure('backend-1.shop', A);
    expect(p2).toBe(p1);
    const other = certs.ensure('backend-2.shop', A);
    expect(other).not.toBe(p1);
    expect((await p1).serialNumber).not.toBe((await other).serialNumber);
  });

  it('tracks the earliest rotation across nodes', async () => {
    const { certs, set } = withClock();
    await certs.ensure('a.shop', A);
    set(T0 + HOUR);
    await certs.ensure('b.shop', A);
    expect(certs.nextRotationAt()?.getTime()).toBe(T0 + 12 * HOUR);
    certs.forget('a.shop');
    expect(certs.nextRotationAt()?.getTime()).toBe(T0 + 13 * HOUR);
  });

  it('forget and retain drop certs, so the next ensure issues anew', async () => {
    const { certs } = withClock();
    const a = await certs.ensure('a.shop', A);
    const b = await certs.ensure('b.shop', A);
    await certs.ensure('c.shop', A);
    certs.retain(new Set(['b.shop']));
    expect(certs.peek('a.shop')).toBeUndefined();
    expect(certs.peek('c.shop')).toBeUndefined();
    expect(await certs.ensure('b.shop', A)).toBe(b);
    certs.forget('b.shop');
    expect(certs.nextRotationAt()).toBeUndefined();
    expect((await certs.ensure('a.shop', A)).serialNumber).not.toBe(a.serialNumber);
  });

  it('does not store an issuance that finished after its node was forgotten', async () => {
    const { certs } = withClock();
    const inFlight = certs.ensure('a.shop', A);
    certs.forget('a.shop');
    await inFlight;
    expect(certs.peek('a.shop')).toBeUndefined();
    expect(certs.nextRotationAt()).toBeUndefined();
  });

  it('does not let an older identity overwrite a newer one', async () => {
    const { certs } = withClock();
    const old = certs.ensure('a.shop', A);
    const fresh = certs.ensure('a.shop', B);
    await Promise.all([old, fresh]);
    expect(certs.peek('a.shop')?.uriSans).toEqual([B]);
  });

  it('rejects a rotation ratio outside (0, 1]', () => {
    expect(() => new WorkloadCertificates(authority, { ...settings, rotationRatio: 0 })).toThrow(MeshplaneError);
    expect(() => new WorkloadCertificates(authority, { ...settings, rotationRatio: 1.5 })).toThrow(/rotationRatio/);
  });
});
