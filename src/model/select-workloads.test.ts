import { describe, expect, it } from 'vitest';
import type { Metadata } from './types.ts';
import { authorizationPolicySelects, labelsMatch } from './select-workloads.ts';

const meta = (namespace: string, labels: Record<string, string> = {}): Metadata => ({ name: 'x', namespace, labels, annotations: {} });
const workload = (namespace: string, labels: Record<string, string> = {}) => ({ metadata: meta(namespace, labels) });
const policy = (namespace: string, selector?: Record<string, string>) => ({ metadata: meta(namespace), ...(selector && { selector }) });

describe('labelsMatch', () => {
  it('needs every selector pair among the labels', () => {
    expect(labelsMatch(undefined, {})).toBe(true);
    expect(labelsMatch({}, { app: 'a' })).toBe(true);
    expect(labelsMatch({ app: 'a' }, { app: 'a', version: 'v1' })).toBe(true);
    expect(labelsMatch({ app: 'a', version: 'v1' }, { app: 'a' })).toBe(false);
    expect(labelsMatch({ app: 'a' }, { app: 'b' })).toBe(false);
    expect(labelsMatch({ app: '' }, {})).toBe(false);
    expect(labelsMatch({ toString: 'x' }, {})).toBe(false); // no prototype lookups
  });
});

describe('authorizationPolicySelects', () => {
  const ROOT = 'mesh-system';
  it.each([
    // policy namespace, selector, workload namespace, labels, selected
    ['shop', undefined, 'shop', {}, true],
    ['shop', undefined, 'bank', {}, false],
    ['shop', { app: 'web' }, 'shop', { app: 'web', v: '1' }, true],
    ['shop', { app: 'web' }, 'shop', { app: 'api' }, false],
    ['shop', { app: 'web' }, 'bank', { app: 'web' }, false],
    // The root namespace reaches every namespace, with or without a selector (unlike PeerAuthentication).
    [ROOT, undefined, 'shop', {}, true],
    [ROOT, undefined, ROOT, {}, true],
    [ROOT, { app: 'web' }, 'shop', { app: 'web' }, true],
    [ROOT, { app: 'web' }, 'bank', { app: 'web' }, true],
    [ROOT, { app: 'web' }, 'shop', { app: 'api' }, false],
  ] as const)('a policy in %s with selector %j selects a workload in %s labelled %j: %s', (ns, selector, wns, labels, selected) => {
    expect(authorizationPolicySelects(policy(ns, selector), workload(wns, labels), ROOT)).toBe(selected);
  });

  it('takes the root namespace from the caller', () => {
    expect(authorizationPolicySelects(policy('istio-system'), workload('shop'), 'istio-system')).toBe(true);
    expect(authorizationPolicySelects(policy('istio-system'), workload('shop'), ROOT)).toBe(false);
  });
});
