/**
 * `kind: ExternalService` spec: a destination outside the mesh, reached in plaintext or plain TLS
 * (never mesh mTLS). One address, one port, one protocol.
 */
import { X509Certificate } from 'node:crypto';
import type { ExternalService, Metadata, Source } from './types.ts';
import { isHostname, isIPv4 } from './formats.ts';
import { type Issues, ObjectFields } from './fields.ts';
import { PROTOCOLS, parseProtocolValue } from './port-protocol.ts';

const TLS_MODES = ['DISABLE', 'SIMPLE'] as const;
const SPEC_HINTS: Readonly<Record<string, string>> = {
  ports: 'an ExternalService has one port: use port (a number) and protocol',
  hosts: 'use address (one IPv4 address or hostname)',
  mtls: 'an ExternalService is outside the mesh and never uses mesh mTLS: use tls: SIMPLE for plain TLS',
};
const TLS_MODE_HINT = 'use tls: DISABLE or tls: SIMPLE';

export function parseExternalService(
  spec: unknown,
  base: { source: Source; metadata: Metadata },
  issues: Issues,
): ExternalService {
  const svc: ExternalService = { kind: 'ExternalService', ...base, address: '', port: 0, protocol: 'TCP', tls: 'DISABLE' };
  if (spec === undefined || spec === null) {
    issues.error('spec', 'an ExternalService needs a spec: add spec: {address: api.example.com, port: 443, protocol: HTTP, tls: SIMPLE}');
    return svc;
  }
  const f = ObjectFields.read(issues, spec, 'spec', ['address', 'port', 'protocol', 'tls', 'sni', 'caCertificates'] as const, {
    hints: SPEC_HINTS,
  });
  if (!f) return svc;

  const address = f.string('address', { required: true, hint: 'set the IPv4 address or hostname of the external service' });
  if (address !== undefined) {
    if (!isIPv4(address) && !isHostname(address)) {
      f.error('address', `${JSON.stringify(address)} is neither an IPv4 address nor a hostname: use e.g. 10.0.0.5 or api.example.com (no scheme, no port)`);
    }
    svc.address = address;
  }
  svc.port = f.integer('port', { min: 1, max: 65535, required: true, hint: 'set the port number, e.g. 443' }) ?? 0;
  const rawProtocol = f.raw('protocol', { required: true, hint: `set one of ${PROTOCOLS.join(', ')}` });
  if (rawProtocol !== undefined) svc.protocol = parseProtocolValue(issues, rawProtocol, f.pathOf('protocol')) ?? 'TCP';

  svc.tls = f.enumValue('tls', TLS_MODES) ?? 'DISABLE';
  const sni = f.string('sni');
  if (sni !== undefined) {
    if (!isHostname(sni)) f.error('sni', `${JSON.stringify(sni)} is not a hostname: SNI must be a DNS name such as api.example.com`);
    if (svc.tls !== 'SIMPLE') f.error('sni', `sni is only used with tls: SIMPLE: set tls: SIMPLE or remove sni`);
    svc.sni = sni;
  }
  const ca = f.string('caCertificates');
  if (ca !== undefined) {
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      f.error('caCertificates', 'must be a PEM bundle (-----BEGIN CERTIFICATE----- ...): paste the certificates with a block scalar, "caCertificates: |"');
    } else {
      const problem = pemBundleProblem(ca);
      if (problem) f.error('caCertificates', problem);
    }
    if (svc.tls !== 'SIMPLE') f.error('caCertificates', 'caCertificates is only used with tls: SIMPLE: set tls: SIMPLE or remove caCertificates');
    svc.caCertificates = ca;
  }
  if (svc.tls === 'DISABLE' && f.has('tls') === false && svc.port === 443) {
    f.warning('tls', `port 443 usually means TLS, but tls defaults to DISABLE (plaintext): ${TLS_MODE_HINT} explicitly`);
  }
  return svc;
}

/**
 * Why Envoy would refuse `pem` as trusted CAs ("Failed to load trusted CA certificates", the whole
 * cluster NACKed), or undefined: every PEM block must be a complete, parseable CERTIFICATE.
 */
function pemBundleProblem(pem: string): string | undefined {
  const begins = pem.match(/-----BEGIN [^-\n]*-----/g) ?? [];
  const other = begins.find((b) => b !== '-----BEGIN CERTIFICATE-----');
  // Lower case: the message must not carry a PEM marker ('PRIVATE KEY') into logs that are searched for them.
  if (other) return `holds a ${other.slice(11, -5).toLowerCase()} block: only CA certificates belong here (never a private key); remove it`;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== begins.length) return 'has a certificate without its -----END CERTIFICATE----- line: paste each certificate whole';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `certificate ${i + 1} of ${blocks.length} is not a valid PEM certificate (${err instanceof Error ? err.message : String(err)}): paste it again from its source`;
    }
  }
  return undefined;
}
