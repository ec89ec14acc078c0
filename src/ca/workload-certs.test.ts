import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { loadOrCreateAuthority, type Authority } from './authority.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { ROTATION_JITTER, rotationPoint, WorkloadCertificates } from './workload-certs.ts';

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

/** A WorkloadCertificates on a clock the test moves; no jitter unless `random` says so. */
function withClock(random = () => 0): { certs: WorkloadCertificates; set: (ms: number) => void; clock: FakeClock } {
  const clock = new FakeClock(T0);
  const certs = new WorkloadCertificates(settings, { signer: () => authority, clock, random });
  return { certs, clock, set: (ms) => void clock.advance(ms - clock.now()) };
}

describe('WorkloadCertificates', () => {
  it('reuses a cert until the rotation point, then reissues', async () => {
    const { certs, set } = withClock();
    expect(certs.nextRotationAt()).toBeUndefined();
    const first = await certs.ensure('backend-1.shop', A);
    expect(first.notAfter.getTime()).toBe(T0 + 24 * HOUR);
    expect(certs.nextRotationAt()).toBe(T0 + 12 * HOUR);

    set(T0 + 12 * HOUR - 1);
    expect(await certs.ensure('backend-1.shop', A)).toBe(first);
    set(T0 + 12 * HOUR);
    const second = await certs.ensure('backend-1.shop', A);
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(second.notAfter.getTime()).toBe(T0 + 36 * HOUR);
    expect(certs.nextRotationAt()).toBe(T0 + 24 * HOUR);
    expect(certs.peek('backend-1.shop')?.cert).toBe(second);
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
    expect(certs.nextRotationAt()).toBe(T0 + 12 * HOUR);
    certs.forget('a.shop');
    expect(certs.nextRotationAt()).toBe(T0 + 13 * HOUR);
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
    expect(certs.peek('a.shop')?.cert.uriSans).toEqual([B]);
  });

  it('rejects a rotation ratio outside (0, 1]', () => {
    expect(() => new WorkloadCertificates({ ...settings, rotationRatio: 0 }, { signer: () => authority })).toThrow(MeshplaneError);
    expect(() => new WorkloadCertificates({ ...settings, rotationRatio: 1.5 }, { signer: () => authority })).toThrow(/rotationRatio/);
  });

  it('due() lists the nodes past their rotation point', async () => {
    const { certs, set } = withClock();
    await certs.ensure('a.shop', A);
    set(T0 + HOUR);
    await certs.ensure('b.shop', A);
    expect(certs.due()).toEqual([]);
    set(T0 + 12 * HOUR);
    expect(certs.due()).toEqual(['a.shop']);
    set(T0 + 13 * HOUR);
    expect(certs.due().sort()).toEqual(['a.shop', 'b.shop']);
  });

  it('due() and nextRotationAt() leave out the nodes held back (revoked xDS tokens); expire() makes one due now', async () => {
    const { certs, set } = withClock();
    await certs.ensure('a.shop', A);
    set(T0 + HOUR);
    await certs.ensure('b.shop', A);
    const held = new Set(['a.shop']);
    expect(certs.nextRotationAt(held)).toBe(T0 + 13 * HOUR);
    set(T0 + 12 * HOUR);
    expect(certs.due(held)).toEqual([]);
    certs.expire('b.shop');
    expect(certs.due(held)).toEqual(['b.shop']);
    expect(certs.due().sort()).toEqual(['a.shop', 'b.shop']);
  });

  it('expireAll makes every certificate due now (root rotation with --reissue)', async () => {
    const { certs } = withClock();
    await certs.ensure('a.shop', A);
    await certs.ensure('b.shop', B);
    certs.expireAll();
    expect(certs.due().sort()).toEqual(['a.shop', 'b.shop']);
  });

  it('a certificate whose root is no longer trusted is due and is replaced from the current signer', async () => {
    let trusted = true;
    const clock = new FakeClock(T0);
    const certs = new WorkloadCertificates(settings, { signer: () => authority, trusts: () => trusted, clock });
    const first = await certs.ensure('a.shop', A);
    expect(certs.peek('a.shop')?.rootFingerprint).toBe(authority.rootFingerprint);
    trusted = false;
    expect(certs.due()).toEqual(['a.shop']);
    const second = await certs.ensure('a.shop', A);
    expect(second.serialNumber).not.toBe(first.serialNumber);
  });

  it('counts issued and failed certificates', async () => {
    const clock = new FakeClock(T0);
    let fail = false;
    const certs = new WorkloadCertificates(settings, {
      signer: () => authority,
      clock,
      issue: async (a, req) => {
        if (fail) throw new MeshplaneError('CA_FAILED', 'test failure');
        const { issueWorkloadCert } = await import('./issue.ts');
        return issueWorkloadCert(a, req);
      },
    });
    await certs.ensure('a.shop', A);
    fail = true;
    await expect(certs.ensure('b.shop', A)).rejects.toThrow('test failure');
    expect({ issued: certs.issuedCount, failed: certs.failedCount }).toEqual({ issued: 1, failed: 1 });
  });
});

describe('rotation jitter', () => {
  const issued = T0;
  const notAfter = T0 + 24 * HOUR;

  it('rotates between ratio - 5% and ratio of the lifetime, never later', () => {
    expect(rotationPoint(issued, notAfter, 0.5, 0)).toBe(T0 + 12 * HOUR);
    expect(rotationPoint(issued, notAfter, 0.5, 0.999999)).toBeGreaterThan(T0 + (0.5 - ROTATION_JITTER) * 24 * HOUR);
    expect(rotationPoint(issued, notAfter, 0.5, 0.5)).toBe(T0 + 0.475 * 24 * HOUR);
  });

  it('spreads a thousand certificates issued at once over the jitter window', async () => {
    const points = Array.from({ length: 1000 }, () => rotationPoint(issued, notAfter, 0.5, Math.random()));
    const spread = Math.max(...points) - Math.min(...points);
    expect(spread).toBeGreaterThan(0.04 * 24 * HOUR);
    expect(Math.max(...points)).toBeLessThanOrEqual(T0 + 12 * HOUR);
  });

  it('a small ratio is never jittered below half of itself', () => {
    expect(rotationPoint(issued, notAfter, 0.02, 0.99)).toBe(T0 + 0.01 * 24 * HOUR);
  });

  it('the cache uses its random source: a jittered certificate is due earlier', async () => {
    const { certs, set } = withClock(() => 0.5);
    await certs.ensure('a.shop', A);
    expect(certs.nextRotationAt()).toBe(T0 + 0.475 * 24 * HOUR);
    set(T0 + 0.475 * 24 * HOUR);
    expect(certs.due()).toEqual(['a.shop']);
  });
});
