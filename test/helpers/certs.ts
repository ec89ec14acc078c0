import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvoyProcess } from './envoy-process.ts';

/** Serial numbers as hex without separators or leading zeros: Envoy and node:crypto print them differently. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '');
}

/** The serial of the certificate with this URI SAN that Envoy holds now (from /certs), if any. */
export async function certSerialFor(envoy: EnvoyProcess, spiffeId: string): Promise<string | undefined> {
  const leafs = (await envoy.certs()).certificates.flatMap((c) => c.cert_chain ?? []);
  return leafs.find((l) => l.subject_alt_names.some((san) => san.uri === spiffeId))?.serial_number;
}

/** The workload root that signs now, as the state dir records it (ca/workload-roots.json). */
export function currentWorkloadRoot(stateDir: string): X509Certificate {
  const { signer } = JSON.parse(readFileSync(join(stateDir, 'ca/workload-roots.json'), 'utf8')) as { signer: string };
  return new X509Certificate(readFileSync(join(stateDir, 'ca/workload-roots', signer, 'root-cert.pem')));
}
