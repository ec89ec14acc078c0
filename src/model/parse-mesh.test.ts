import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, violationLines } from './model-test-helpers.ts';

const mesh = (spec: string) =>
  parseTestYaml(`apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
${spec}
`, { withMesh: false });

describe('Mesh', () => {
  it('applies defaults when spec is omitted', () => {
    const result = mesh('');
    expect(result.violations).toEqual([]);
    expect(result.model!.mesh).toMatchObject({
      trustDomain: 'cluster.local',
      rootNamespace: 'mesh-system',
      ca: { keyAlgorithm: 'ECDSA_P256', workloadCertTtlSeconds: 86400, rotationRatio: 0.5, rootCertTtlSeconds: 315360000 },
    });
  });

  it('reads every field, converting Go durations to seconds', () => {
    const result = mesh(`spec:
  trustDomain: example.org
  rootNamespace: istio-system
  ca: {keyAlgorithm: RSA_2048, workloadCertTTL: 1h30m, rotationRatio: 0.8, rootCertTTL: 8760h}`);
    expect(result.violations).toEqual([]);
    expect(result.model!.mesh).toMatchObject({
      trustDomain: 'example.org',
      rootNamespace: 'istio-system',
      ca: { keyAlgorithm: 'RSA_2048', workloadCertTtlSeconds: 5400, rotationRatio: 0.8, rootCertTtlSeconds: 8760 * 3600 },
    });
    expect(mesh('spec: {ca: {workloadCertTTL: 3600s}}').model!.mesh.ca.workloadCertTtlSeconds).toBe(3600);
    expect(mesh('spec: {ca: {workloadCertTTL: 90m}}').model!.mesh.ca.workloadCertTtlSeconds).toBe(5400);
    expect(mesh('spec: {ca: {workloadCertTTL: 1m}}').model!.mesh.ca.workloadCertTtlSeconds).toBe(60);
    expect(mesh('spec: {ca: {workloadCertTTL: 2160h}}').model!.mesh.ca.workloadCertTtlSeconds).toBe(90 * 86400);
  });

  it('rejects bad values with the field path and a fix', () => {
    const result = mesh(`spec:
  trustDomain: Cluster.Local
  rootNamespace: Mesh_System
  ca: {keyAlgorithm: ecdsa_p256, workloadCertTTL: 1d, rotationRatio: 1, rootCertTTL: 3600}`);
    expect(errorLines(result)).toEqual([
      'test.yaml: spec.trustDomain: "Cluster.Local" is not a valid SPIFFE trust domain: use lowercase DNS-like labels (letters, digits, \'-\', \'_\') separated by dots, e.g. "cluster.local"',
      'test.yaml: spec.rootNamespace: "Mesh_System" is not a valid name: use at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit (RFC 1123 label), e.g. "mesh-system"',
      'test.yaml: spec.ca.keyAlgorithm: must be one of ECDSA_P256, RSA_2048, got "ecdsa_p256" (did you mean "ECDSA_P256"?)',
      'test.yaml: spec.ca.workloadCertTTL: "1d" is not a duration: use a number with a unit h, m, s (or ms, us, ns), e.g. "24h", "90m", "1h30m"',
      'test.yaml: spec.ca.rootCertTTL: must be a duration string such as "24h", "90m" or "3600s": write it with a unit, e.g. "3600s"',
      "test.yaml: spec.ca.rotationRatio: must be greater than 0 and less than 1 (the fraction of a certificate's lifetime after which it is renewed, e.g. 0.5), got 1",
    ]);
  });

  it('bounds the workload certificate TTL to 5s..90 days and below the root TTL; under 10 minutes is a warning', () => {
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 4s}}'))).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: "4s" is out of range: use between 5s and 2160h',
    ]);
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 2161h}}'))).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: "2161h" is out of range: use between 5s and 2160h',
    ]);
    const short = mesh('spec: {ca: {workloadCertTTL: 6s}}');
    expect(short.model!.mesh.ca.workloadCertTtlSeconds).toBe(6);
    expect(violationLines(short)).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: warning: 6s is very short: every proxy gets a new certificate and key every 3s or so; fine for trying rotation out, use hours in production (Istio: 24h)',
    ]);
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: -24h}}'))[0]).toContain('out of range');
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 1500ms}}'))).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: "1500ms" is not a whole number of seconds: round it, e.g. "2s"',
    ]);
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 48h, rootCertTTL: 24h}}'))).toEqual([
      'test.yaml: spec.ca.rootCertTTL: rootCertTTL (24h) must be longer than workloadCertTTL (48h): a workload certificate cannot outlive its root',
    ]);
    expect(errorLines(mesh('spec: {ca: {rotationRatio: 0}}'))[0]).toContain('spec.ca.rotationRatio: must be greater than 0');
  });

  it('rejects unknown fields in spec and ca', () => {
    expect(errorLines(mesh('spec: {trustdomain: a, ca: {ttl: 1h}}'))).toEqual([
      'test.yaml: spec.trustdomain: unknown field "trustdomain"; did you mean "trustDomain"?',
      'test.yaml: spec.ca.ttl: unknown field "ttl": remove it (supported fields here: keyAlgorithm, workloadCertTTL, rotationRatio, rootCertTTL, intermediate)',
    ]);
  });
});

describe('Mesh spec.ca.intermediate', () => {
  it('is absent by default: the self-made root signs', () => {
    expect(mesh('').model!.mesh.ca.intermediate).toBeUndefined();
    expect(mesh('spec: {ca: {keyAlgorithm: RSA_2048}}').model!.mesh.ca).not.toHaveProperty('intermediate');
  });

  it('keeps the paths exactly as written (relative or absolute), with chainFile optional', () => {
    const result = mesh(`spec:
  ca:
    keyAlgorithm: RSA_2048
    intermediate:
      certFile: ca/ca-cert.pem
      keyFile: /etc/meshplane/ca-key.pem
      rootCertFile: ../root-cert.pem
      chainFile: ca/cert-chain.pem`);
    expect(result.violations).toEqual([]);
    expect(result.model!.mesh.ca).toEqual({
      keyAlgorithm: 'RSA_2048', // still the workload keys' algorithm
      workloadCertTtlSeconds: 86400,
      rotationRatio: 0.5,
      rootCertTtlSeconds: 315360000,
      intermediate: { certFile: 'ca/ca-cert.pem', keyFile: '/etc/meshplane/ca-key.pem', rootCertFile: '../root-cert.pem', chainFile: 'ca/cert-chain.pem' },
    });

    const noChain = mesh('spec: {ca: {intermediate: {certFile: c.pem, keyFile: k.pem, rootCertFile: r.pem}}}');
    expect(noChain.violations).toEqual([]);
    expect(noChain.model!.mesh.ca.intermediate).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', rootCertFile: 'r.pem' });
  });

  it('requires certFile, keyFile and rootCertFile, saying what each is', () => {
    expect(errorLines(mesh('spec: {ca: {intermediate: {chainFile: chain.pem}}}'))).toEqual([
      'test.yaml: spec.ca.intermediate.certFile: "certFile" is required: the path of the intermediate CA certificate (PEM), relative to the config directory, or absolute, e.g. "ca/ca-cert.pem"',
      'test.yaml: spec.ca.intermediate.keyFile: "keyFile" is required: the path of the intermediate CA\'s unencrypted private key (PEM, mode 0600), relative to the config directory, or absolute, e.g. "ca/ca-key.pem"',
      'test.yaml: spec.ca.intermediate.rootCertFile: "rootCertFile" is required: the path of the root certificate(s) peers trust (PEM), relative to the config directory, or absolute, e.g. "ca/root-cert.pem"',
    ]);
    expect(errorLines(mesh('spec: {ca: {intermediate: {}}}'))).toHaveLength(3);
  });

  it('rejects unknown fields, non-strings, empty paths and a non-mapping', () => {
    expect(errorLines(mesh('spec: {ca: {intermediate: {certFile: c.pem, keyfile: k.pem, rootCertFile: r.pem, keyFile: k.pem, caCert: x}}}'))).toEqual([
      'test.yaml: spec.ca.intermediate.keyfile: unknown field "keyfile"; did you mean "keyFile"?',
      'test.yaml: spec.ca.intermediate.caCert: unknown field "caCert": remove it (supported fields here: certFile, keyFile, rootCertFile, chainFile)',
    ]);
    expect(errorLines(mesh('spec: {ca: {intermediate: {certFile: 12, keyFile: "", rootCertFile: [r.pem], chainFile: ""}}}'))).toEqual([
      'test.yaml: spec.ca.intermediate.certFile: must be a string, got the number 12: quote it if it is meant as text',
      'test.yaml: spec.ca.intermediate.keyFile: must not be empty: the path of the intermediate CA\'s unencrypted private key (PEM, mode 0600), relative to the config directory, or absolute, e.g. "ca/ca-key.pem"',
      'test.yaml: spec.ca.intermediate.rootCertFile: must be a string, got a list',
      'test.yaml: spec.ca.intermediate.chainFile: must not be empty: set the path of the intermediates between certFile and the root, or remove the field if the root signed certFile',
    ]);
    expect(errorLines(mesh('spec: {ca: {intermediate: ca/ca-cert.pem}}'))).toEqual([
      'test.yaml: spec.ca.intermediate: must be a mapping, got the string "ca/ca-cert.pem"',
    ]);
  });

  it('warns that rootCertTTL does not apply, and drops the root-vs-workload TTL check', () => {
    const result = mesh('spec: {ca: {workloadCertTTL: 48h, rootCertTTL: 24h, intermediate: {certFile: c.pem, keyFile: k.pem, rootCertFile: r.pem}}}');
    expect(errorLines(result)).toEqual([]);
    expect(result.violations.map((v) => `${v.path}: ${v.severity}: ${v.message}`)).toEqual([
      'spec.ca.rootCertTTL: warning: does not apply with "intermediate": the provided CA files set their own lifetimes; remove it, or keep it for a later switch back to the self-made root',
    ]);
    expect(result.model!.mesh.ca.workloadCertTtlSeconds).toBe(48 * 3600);
    // The TTL check is dropped even when the intermediate itself is invalid: its errors say what is wrong.
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 48h, rootCertTTL: 24h, intermediate: {certFile: c.pem}}}'))).toEqual([
      expect.stringContaining('spec.ca.intermediate.keyFile: "keyFile" is required'),
      expect.stringContaining('spec.ca.intermediate.rootCertFile: "rootCertFile" is required'),
    ]);
  });
});
