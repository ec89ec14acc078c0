import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, violationLines } from './model-test-helpers.ts';

const external = (spec: string) =>
  parseTestYaml(`apiVersion: meshplane.dev/v1alpha1
kind: ExternalService
metadata: {name: api, namespace: shop}
spec: ${spec}
`);

/** A real certificate (its key was thrown away): caCertificates must parse. `\\n` for a YAML double-quoted string. */
const PEM = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBoTCCAUegAwIBAgIUdm9ZPXSFPknxQl0yDFfc2Zd/W/owCgYIKoZIzj0EAwIw',
  'JTEjMCEGA1UEAwwabWVzaHBsYW5lIGZ1enogZXh0ZXJuYWwgQ0EwIBcNMjYxMTI5',
  'MTI1ODM5WhgPMjEyNjExMDUxMjU4MzlaMCUxIzAhBgNVBAMMGm1lc2hwbGFuZSBm',
  'dXp6IGV4dGVybmFsIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzh4KICMS',
  '1eBsgVRt8cuOjqvCIDfwY0U6y0OnHhxcdRk5+9ZA+9cVvjSZLxOkttKBw7tFwdlE',
  'k5QNTDjCmVBKpqNTMFEwHQYDVR0OBBYEFLxfQxn+H2ZfJRa9lWMw0ne/ZO4DMB8G',
  'A1UdIwQYMBaAFLxfQxn+H2ZfJRa9lWMw0ne/ZO4DMA8GA1UdEwEB/wQFMAMBAf8w',
  'CgYIKoZIzj0EAwIDSAAwRQIhAI2uwHKYKwg3YT0JkX9hk5MZolp0vRt11Gjt/X+S',
  'vn36AiAk9GQGeho/mxmGx4Vasq85hX5fkIEYQExcDX1wfrvFbg==',
  '-----END CERTIFICATE-----',
].join('\\n') + '\\n';

describe('ExternalService', () => {
  it('parses plaintext and TLS destinations', () => {
    const plain = external('{address: 127.0.0.1, port: 4317, protocol: tcp}');
    expect(plain.violations).toEqual([]);
    expect(plain.model!.externalServices[0]).toMatchObject({ address: '127.0.0.1', port: 4317, protocol: 'TCP', tls: 'DISABLE' });

    const tls = external(`{address: API.Example.com, port: 443, protocol: HTTP, tls: SIMPLE, sni: api.example.com, caCertificates: "${PEM}"}`);
    expect(tls.violations).toEqual([]);
    expect(tls.model!.externalServices[0]).toMatchObject({
      address: 'API.Example.com',
      port: 443,
      protocol: 'HTTP',
      tls: 'SIMPLE',
      sni: 'api.example.com',
      caCertificates: PEM.replaceAll('\\n', '\n'),
    });
  });

  it('requires address, port and protocol', () => {
    expect(errorLines(external('{}'))).toEqual([
      'test.yaml: spec.address: "address" is required: set the IPv4 address or hostname of the external service',
      'test.yaml: spec.port: "port" is required: set the port number, e.g. 443',
      'test.yaml: spec.protocol: "protocol" is required: set one of HTTP, HTTP2, GRPC, TCP',
    ]);
  });

  it('rejects bad addresses, ports, protocols and TLS modes', () => {
    expect(errorLines(external('{address: "https://api.example.com", port: 0, protocol: UDP, tls: MUTUAL}'))).toEqual([
      'test.yaml: spec.address: "https://api.example.com" is neither an IPv4 address nor a hostname: use e.g. 10.0.0.5 or api.example.com (no scheme, no port)',
      'test.yaml: spec.port: must be between 1 and 65535, got 0',
      'test.yaml: spec.protocol: protocol "UDP" is not supported: use one of HTTP, HTTP2, GRPC, TCP',
      'test.yaml: spec.tls: must be one of DISABLE, SIMPLE, got "MUTUAL"',
    ]);
  });

  it('allows sni and caCertificates only with tls: SIMPLE', () => {
    expect(errorLines(external(`{address: 10.0.0.5, port: 443, protocol: HTTP, sni: api.example.com, caCertificates: "${PEM}"}`))).toEqual([
      'test.yaml: spec.sni: sni is only used with tls: SIMPLE: set tls: SIMPLE or remove sni',
      'test.yaml: spec.caCertificates: caCertificates is only used with tls: SIMPLE: set tls: SIMPLE or remove caCertificates',
    ]);
    expect(errorLines(external('{address: 10.0.0.5, port: 8443, protocol: HTTP, tls: SIMPLE, caCertificates: /etc/ssl/ca.pem}'))).toEqual([
      'test.yaml: spec.caCertificates: must be a PEM bundle (-----BEGIN CERTIFICATE----- ...): paste the certificates with a block scalar, "caCertificates: |"',
    ]);
  });

  it('warns when port 443 is left in plaintext by default', () => {
    expect(violationLines(external('{address: api.example.com, port: 443, protocol: HTTP}'))).toEqual([
      'test.yaml: spec.tls: warning: port 443 usually means TLS, but tls defaults to DISABLE (plaintext): use tls: DISABLE or tls: SIMPLE explicitly',
    ]);
  });

  it('points Istio ServiceEntry habits at the right fields', () => {
    expect(errorLines(external('{hosts: [api.example.com], ports: [{number: 443}], address: a.example.com, port: 443, protocol: TCP, tls: SIMPLE}'))).toEqual([
      'test.yaml: spec.hosts: field "hosts" is not supported: use address (one IPv4 address or hostname)',
      'test.yaml: spec.ports: field "ports" is not supported: an ExternalService has one port: use port (a number) and protocol',
    ]);
  });
});
