import { describe, expect, it } from 'vitest';
import { keepRemovedClustersOnce } from './make-before-break.ts';
import type { ProxyResources } from './translate-proxy.ts';

const res = (clusters: string[], listener = 'l1'): ProxyResources => ({
  listeners: [{ name: listener }],
  clusters: clusters.map((name) => ({ name, type: 'STATIC' })),
  secrets: [],
});
const names = (r: ProxyResources) => r.clusters.map((c) => c.name);

describe('keepRemovedClustersOnce', () => {
  it('serves a removed cluster once more, beside the new listeners, then drops it', () => {
    const first = keepRemovedClustersOnce(res(['b', 'c'], 'l2'), res(['a', 'b']), new Set());
    expect(names(first.resources)).toEqual(['a', 'b', 'c']);
    expect(first.resources.listeners).toEqual([{ name: 'l2' }]);
    expect([...first.lingering]).toEqual(['a']);

    const second = keepRemovedClustersOnce(res(['b', 'c'], 'l2'), first.resources, first.lingering);
    expect(names(second.resources)).toEqual(['b', 'c']);
    expect(second.lingering.size).toBe(0);
  });

  it('changes nothing when no cluster is removed, or on the first config', () => {
    const next = res(['a', 'b']);
    expect(keepRemovedClustersOnce(next, res(['a']), new Set()).resources).toBe(next);
    expect(keepRemovedClustersOnce(next, undefined, new Set()).resources).toBe(next);
  });

  it('a cluster that comes back while lingering is simply served again', () => {
    const first = keepRemovedClustersOnce(res(['b']), res(['a', 'b']), new Set());
    const back = keepRemovedClustersOnce(res(['a', 'b']), first.resources, first.lingering);
    expect(names(back.resources)).toEqual(['a', 'b']);
    expect(back.lingering.size).toBe(0);
  });
});
