import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml } from './model-test-helpers.ts';

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

  it('bounds the workload certificate TTL to 1m..90 days and below the root TTL', () => {
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 30s}}'))).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: "30s" is out of range: use between 1m and 2160h',
    ]);
    expect(errorLines(mesh('spec: {ca: {workloadCertTTL: 2161h}}'))).toEqual([
      'test.yaml: spec.ca.workloadCertTTL: "2161h" is out of range: use between 1m and 2160h',
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
      'test.yaml: spec.ca.ttl: unknown field "ttl": remove it (supported fields here: keyAlgorithm, workloadCertTTL, rotationRatio, rootCertTTL)',
    ]);
  });
});
