import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, makeTestHierarchy, writeTestHierarchy, type TestHierarchy } from '../../src/ca/ca-test-helpers.ts';
import { normalizeSerial } from '../helpers/certs.ts';
import { httpGet } from '../helpers/clients.ts';
import { TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';

/**
 * Bring your own CA: the mesh's workload certificates signed by an operator's intermediate
 * (root -> intermediate -> intermediate here), served as leaf + intermediates, with the
 * operator's root as the trust bundle. Real Envoys must accept all of it and talk mTLS.
 */
let mesh: LocalMesh;
let hierarchy: TestHierarchy;

beforeAll(async () => {
  hierarchy = await makeTestHierarchy({ depth: 2 });
  const { dir, files } = writeTestHierarchy(hierarchy);
  const abs = (f: string) => join(dir, f);
  const intermediate = `{certFile: ${abs(files.certFile)}, keyFile: ${abs(files.keyFile)}, rootCertFile: ${abs(files.rootCertFile)}, chainFile: ${abs(files.chainFile!)}}`;
  mesh = await startLocalMesh('STRICT', { meshCa: `{intermediate: ${intermediate}}` });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
  cleanupTempDirs();
});

describe('a provided intermediate CA', () => {
  it('client -> server over mTLS with certificates from the provided CA', async () => {
    const res = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/byo`);
    expect(res.status).toBe(200);
    expect(res.json?.headers?.['x-forwarded-client-cert']).toContain(`URI=spiffe://${TRUST_DOMAIN}/ns/shop/sa/client`);
  });

  it("the server sidecar presents leaf + both intermediates and trusts the operator's root", async () => {
    const dump = await mesh.server.configDump('dynamic_active_secrets');
    const secret = (name: string) => dump.configs.map((c) => c.secret as Record<string, any>).find((s) => s.name === name)!;
    const chain = (secret('default').tls_certificate.certificate_chain.inline_string as string).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
    const [leaf, signer, upper] = chain.map((p) => new X509Certificate(p));
    const [signerCa, upperCa] = hierarchy.intermediates.map((c) => new X509Certificate(c.pem));
    const root = new X509Certificate(hierarchy.root.pem);
    expect(chain).toHaveLength(3);
    expect(leaf!.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/shop/sa/server`);
    expect(leaf!.checkIssued(signerCa!) && leaf!.verify(signerCa!.publicKey)).toBe(true);
    expect(signer!.fingerprint256).toBe(signerCa!.fingerprint256);
    expect(upper!.fingerprint256).toBe(upperCa!.fingerprint256);
    expect(secret('ROOTCA').validation_context.trusted_ca.inline_string.trim()).toBe(hierarchy.root.pem.trim());
    // Envoy's own view (/certs details the leaf of a chain, and each CA): the leaf and the provided root.
    const contexts = (await mesh.server.certs()).certificates;
    expect(contexts.flatMap((c) => c.cert_chain ?? []).map((l) => normalizeSerial(l.serial_number))).toContain(normalizeSerial(leaf!.serialNumber));
    expect(contexts.flatMap((c) => c.ca_cert ?? []).map((c) => normalizeSerial(c.serial_number))).toContain(normalizeSerial(root.serialNumber));
  });

  it('`meshplane ca status` data says the CA is the provided one', async () => {
    const ca = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/ca`)).json as { mode: string; phase: string };
    expect(ca).toMatchObject({ mode: 'provided', phase: 'stable' });
  });
});
