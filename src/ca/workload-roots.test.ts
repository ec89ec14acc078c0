import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateAuthority } from './authority.ts';
import { cleanupTempDirs, tempDir } from './ca-test-helpers.ts';
import { openStateDir } from './state-dir.ts';
import { ROOTS_FILE, WorkloadRoots } from './workload-roots.ts';

afterAll(cleanupTempDirs);

const OPTS = { keyAlgorithm: 'ECDSA_P256' as const, rootCertTtlSeconds: 10 * 365 * 24 * 3600, trustDomain: 'cluster.local' };
const certs = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c).fingerprint256);

async function fresh() {
  const stateDir = join(tempDir(), 'state');
  const { authority: control } = await loadOrCreateAuthority(stateDir, OPTS);
  return { stateDir, control, roots: await WorkloadRoots.open(stateDir, control) };
}

describe('WorkloadRoots: the root-rotation state machine', () => {
  it('a new state dir has its own workload root, apart from the xDS root bootstraps pin', async () => {
    const stateDir = join(tempDir(), 'state');
    const { authority: control } = await openStateDir(stateDir, { ...OPTS, create: true });
    const roots = await WorkloadRoots.open(stateDir, control);
    expect(roots.phase).toBe('stable');
    expect(roots.signer().rootFingerprint).not.toBe(control.rootFingerprint);
    expect(roots.trusts(control.rootFingerprint)).toBe(false);
    // Reopened, the same root.
    expect((await WorkloadRoots.open(stateDir, control)).signer().rootFingerprint).toBe(roots.signer().rootFingerprint);
  });

  it('without a state file: stable, the state dir root signs and is the only one trusted', async () => {
    const { control, roots } = await fresh();
    expect(roots.phase).toBe('stable');
    expect(roots.signer()).toBe(control);
    expect(roots.trustBundlePem).toBe(control.caCertPem);
    expect(roots.trusts(control.rootFingerprint)).toBe(true);
    expect(await roots.advance()).toBe('stable');
  });

  it('trust-both -> issue-next -> stable: trust before use, use before untrust', async () => {
    const { stateDir, control, roots } = await fresh();
    const { authority: next } = await WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: true });
    expect(next.rootFingerprint).not.toBe(control.rootFingerprint);
    expect(await roots.reload()).toBe(true);

    // 1. Both trusted, the old one still signs.
    expect(roots.phase).toBe('trust-both');
    expect(roots.reissue).toBe(true);
    expect(roots.signer().rootFingerprint).toBe(control.rootFingerprint);
    expect(certs(roots.trustBundlePem)).toEqual(certs(control.caCertPem + next.caCertPem));
    expect(roots.trusts(next.rootFingerprint) && roots.trusts(control.rootFingerprint)).toBe(true);

    // 2. The new one signs, both still trusted.
    expect(await roots.advance()).toBe('issue-next');
    expect(roots.signer().rootFingerprint).toBe(next.rootFingerprint);
    expect(certs(roots.trustBundlePem)).toEqual(certs(next.caCertPem + control.caCertPem));
    expect(roots.trusts(control.rootFingerprint)).toBe(true);

    // 3. The old one leaves the bundle.
    expect(await roots.advance()).toBe('stable');
    expect(certs(roots.trustBundlePem)).toEqual(certs(next.caCertPem));
    expect(roots.trusts(control.rootFingerprint)).toBe(false);
    expect(roots.info()).toEqual([expect.objectContaining({ fingerprint: next.rootFingerprint, signs: true })]);
  });

  it('each phase is persisted, so a restart resumes the rotation where it was', async () => {
    const { stateDir, control, roots } = await fresh();
    await WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: false });
    await roots.reload();
    await roots.advance();
    const reopened = await WorkloadRoots.open(stateDir, control);
    expect(reopened.phase).toBe('issue-next');
    expect(reopened.signer().rootFingerprint).toBe(roots.signer().rootFingerprint);
    expect(statSync(join(stateDir, 'ca', ROOTS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('a second rotation is refused while one is in progress, and allowed once stable', async () => {
    const { stateDir, roots } = await fresh();
    await WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: false });
    await expect(WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: false })).rejects.toThrow(/already in progress \(phase trust-both/);
    await roots.reload();
    await roots.advance();
    await roots.advance();
    const { authority: third } = await WorkloadRoots.startRotation(stateDir, { ...OPTS, reissue: false });
    await roots.reload();
    expect(roots.phase).toBe('trust-both');
    expect(roots.trusts(third.rootFingerprint)).toBe(true);
    expect(roots.info().map((r) => r.signs)).toEqual([true, false]);
  });

  it('a damaged state file or a missing root is a clear STATE_INVALID error, never a silent reset', async () => {
    const { stateDir, control } = await fresh();
    const file = join(stateDir, 'ca', ROOTS_FILE);
    writeFileSync(file, '{not json');
    await expect(WorkloadRoots.open(stateDir, control)).rejects.toThrow(/workload-roots\.json: not valid JSON/);
    writeFileSync(file, JSON.stringify({ phase: 'issue-next', signer: 'root-x', trusted: ['control', 'root-x'], next: 'root-x' }));
    await expect(WorkloadRoots.open(stateDir, control)).rejects.toThrow(/names root root-x, but .*root-x is missing/);
    writeFileSync(file, JSON.stringify({ phase: 'stable', signer: 'control', trusted: [] }));
    await expect(WorkloadRoots.open(stateDir, control)).rejects.toThrow(/signer control is not among the trusted roots/);
    expect(readFileSync(file, 'utf8')).toContain('"trusted":[]');
  });
});
