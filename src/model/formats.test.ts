import { describe, expect, it } from 'vitest';
import { dnsLabelProblem, formatDuration, isHostname, isIPv4, isRfc3339, labelKeyProblem, parseDuration } from './formats.ts';
import { suggest } from './did-you-mean.ts';
import { fieldPath, Issues, ObjectFields } from './fields.ts';

describe('formats', () => {
  it('parses Go durations to seconds', () => {
    expect(parseDuration('24h')).toBe(86400);
    expect(parseDuration('90m')).toBe(5400);
    expect(parseDuration('3600s')).toBe(3600);
    expect(parseDuration('1h30m10s')).toBe(5410);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('1500ms')).toBe(1.5);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-1h')).toBe(-3600);
    for (const bad of ['', '24', '1d', 'h', '1h 30m', '1H', '24hours']) expect(parseDuration(bad)).toBeUndefined();
    expect(formatDuration(5410)).toBe('1h30m10s');
  });

  it('checks IPv4 literals, hostnames, names, labels and timestamps', () => {
    expect(['127.0.0.1', '0.0.0.0', '255.255.255.255', '10.0.0.5'].every(isIPv4)).toBe(true);
    expect(['256.0.0.1', '127.0.0', '127.0.0.01', '::1', 'localhost', '1.2.3.4.5'].some(isIPv4)).toBe(false);
    expect(isHostname('api.example.com')).toBe(true);
    expect(isHostname('1.2.3.4')).toBe(false);
    expect(isHostname('https://x')).toBe(false);
    expect(dnsLabelProblem('backend-1')).toBeUndefined();
    expect(dnsLabelProblem('a'.repeat(64))).toContain('at most 63');
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined();
    expect(labelKeyProblem('Example.com/x')).toContain('invalid prefix');
    expect(isRfc3339('2024-05-01T12:00:00Z')).toBe(true);
    expect(isRfc3339('2024-05-01T12:00:00.123456789-07:00')).toBe(true);
    expect(isRfc3339('2024-02-30T12:00:00Z')).toBe(false);
    expect(isRfc3339('2024-05-01T12:00:00')).toBe(false);
    expect(isRfc3339('2024-05-01')).toBe(false);
  });
});

describe('fields', () => {
  it('suggests close or case-insensitive matches only', () => {
    expect(suggest('listenport', ['listenPort', 'targetPort'])).toBe('listenPort');
    expect(suggest('targtPort', ['listenPort', 'targetPort'])).toBe('targetPort');
    expect(suggest('xyz', ['listenPort', 'targetPort'])).toBeUndefined();
  });

  it('builds paths for odd keys', () => {
    expect(fieldPath('metadata.labels', 'app')).toBe('metadata.labels.app');
    expect(fieldPath('metadata.labels', 'app.kubernetes.io/name')).toBe('metadata.labels["app.kubernetes.io/name"]');
    expect(fieldPath('', 'spec')).toBe('spec');
  });

  it('reads plain objects as well as Maps, treating null as absent', () => {
    const issues = new Issues('x.yaml');
    const f = ObjectFields.read(issues, { a: null, b: 2 }, 'spec', ['a', 'b'] as const)!;
    expect(f.has('a')).toBe(false);
    expect(f.integer('a', { required: true })).toBeUndefined();
    expect(f.integer('b', { min: 3 })).toBeUndefined();
    expect(issues.violations.map((v) => `${v.path}: ${v.message}`)).toEqual([
      'spec.a: "a" is required: add it',
      'spec.b: must be at least 3, got 2',
    ]);
  });
});
