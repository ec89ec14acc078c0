/**
 * Where the time of one workload-certificate issuance goes, phase by phase, on one thread (what
 * an issuer worker does per certificate): the @peculiar/x509 + WebCrypto path meshplane used
 * before leaf-builder.ts, and leaf-builder.ts's node:crypto + hand-written DER path.
 * Prints the figures and writes them to bench/results/cert-phases.json.
 *
 *   npx tsx bench/cert-phases.ts [certificates=1000]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadOrCreateAuthority, type Authority } from '../src/ca/authority.ts';
import { issueWorkloadCert, leafExtensions } from '../src/ca/issue.ts';
import { generateKeyPair, pemBlock, privateKeyPem, randomSerialHex } from '../src/ca/key-algorithms.ts';
import { encodeLeafTbs, generateLeafKey, leafSignerOf, pem, signTbs } from '../src/ca/leaf-builder.ts';
import { subtle, x509 } from '../src/ca/x509.ts';

const N = Number(process.argv[2] ?? 1000);
const ID = 'spiffe://cluster.local/ns/shop/sa/backend';
const round = (n: number) => Math.round(n * 1000) / 1000;

/** Mean ms per certificate of each phase, over N sequential issuances. */
async function phases(names: string[], one: (mark: (name: string) => void) => Promise<void>): Promise<Record<string, number>> {
  const totals = Object.fromEntries(names.map((n) => [n, 0])) as Record<string, number>;
  for (let i = 0; i < N + 50; i++) {
    let t = performance.now();
    const warm = i < 50; // JIT warm-up, not counted
    await one((name) => {
      const now = performance.now();
      if (!warm) totals[name]! += now - t;
      t = now;
    });
  }
  const perCert = Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, round(v / N)]));
  return { ...perCert, total: round(Object.values(totals).reduce((a, b) => a + b, 0) / N) };
}

const stateDir = mkdtempSync(join(tmpdir(), 'meshplane-bench-'));
try {
  const results: Record<string, Record<string, number>> = {};
  for (const rootAlg of ['ECDSA_P256', 'RSA_2048'] as const) {
    const { authority } = await loadOrCreateAuthority(join(stateDir, rootAlg), { keyAlgorithm: rootAlg, rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local' });
    const extensions = await leafExtensions(authority);
    const signer = leafSignerOf(authority, extensions);
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
    const notAfter = new Date(notBefore.getTime() + 86_400_000);

    results[`peculiar ${rootAlg} root`] = await phases(['webcryptoKeygen', 'spkiExport', 'sanExtension', 'x509Create', 'certPem', 'pkcs8ExportPem'], async (mark) => {
      const keys = await generateKeyPair('ECDSA_P256');
      mark('webcryptoKeygen');
      const spki = await subtle.exportKey('spki', keys.publicKey);
      mark('spkiExport');
      const san = new x509.SubjectAlternativeNameExtension([{ type: 'url', value: ID }], true);
      mark('sanExtension');
      // encode TBS, sign (WebCrypto), encode certificate, re-parse it into an X509Certificate
      const cert = await x509.X509CertificateGenerator.create({ serialNumber: randomSerialHex(), issuer: authority.caCert.subjectName, notBefore, notAfter, publicKey: spki, signingKey: authority.caKeys.privateKey, extensions: [...extensions, san] });
      mark('x509Create');
      pemBlock(cert.rawData, 'CERTIFICATE');
      mark('certPem');
      await privateKeyPem(keys.privateKey);
      mark('pkcs8ExportPem');
    });

    results[`leaf-builder ${rootAlg} root`] = await phases(['keygenAndKeyDer', 'tbsEncode', 'sign', 'certPem'], async (mark) => {
      const key = await generateLeafKey('ECDSA_P256');
      mark('keygenAndKeyDer');
      const tbs = encodeLeafTbs(signer, { keyAlgorithm: 'ECDSA_P256', serialNumber: randomSerialHex(), notBefore, notAfter, uris: [ID], dnsNames: [], ipAddresses: [] }, key.spki);
      mark('tbsEncode');
      const der = signTbs(signer, tbs);
      mark('sign');
      pem(der, 'CERTIFICATE');
      mark('certPem');
    });

    results[`issueWorkloadCert ${rootAlg} root (sequential)`] = await phases(['issueWorkloadCert'], async (mark) => {
      await issueWorkloadCert(authority, { spiffeId: ID, ttlSeconds: 86_400, keyAlgorithm: 'ECDSA_P256' });
      mark('issueWorkloadCert');
    });
  }

  const figures = {
    date: new Date().toISOString(),
    command: `npx tsx bench/cert-phases.ts ${N}`,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
    note: 'ms per ECDSA P-256 leaf, mean over sequential issuances on one thread (awaits included)',
    msPerCert: results,
  };
  console.log(JSON.stringify(figures, null, 2));
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'cert-phases.json'), `${JSON.stringify(figures, null, 2)}\n`);
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
