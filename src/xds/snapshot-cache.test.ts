import { describe, expect, it, vi } from 'vitest';
import { EMPTY_VERSION, selectResources, type ResourceSet } from './snapshot.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { PUSH_ORDER, TYPE_URL, sortByPushOrder } from './type-urls.ts';

const cluster = (name: string, port = 1) => ({ name, type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] } });
const secret = (name: string, pem = 'pem') => ({ name, tls_certificate: { certificate_chain: { inline_string: pem } } });
const set = (entries: Record<string, object[]>): ResourceSet =>
  new Map(Object.entries(entries).map(([t, list]) => [t, list.map((r) => ({ name: (r as { name: string }).name, resource: r }))]));

describe('SnapshotCache', () => {
  it('versions by content: stable across caches (restarts), independent of order', () => {
    const a = new SnapshotCache();
    const b = new SnapshotCache();
    a.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x'), cluster('y')] }));
    b.setSnapshot('other', set({ [TYPE_URL.cluster]: [cluster('y'), cluster('x')] }));
    const va = a.getSnapshot('n')!.version(TYPE_URL.cluster);
    expect(va).toMatch(/^[0-9a-f]{16}$/);
    expect(b.getSnapshot('other')!.version(TYPE_URL.cluster)).toBe(va);
    expect(a.getSnapshot('n')!.version(TYPE_URL.listener)).toBe(EMPTY_VERSION);
    expect([...a.getSnapshot('n')!.get(TYPE_URL.cluster).resources.keys()]).toEqual(['x', 'y']);
  });

  it('returns the changed types in push order, and nothing for identical content', () => {
    const c = new SnapshotCache();
    expect(c.setSnapshot('n', set({ [TYPE_URL.listener]: [], [TYPE_URL.cluster]: [cluster('x')], [TYPE_URL.secret]: [secret('s')] }))).toEqual([
      TYPE_URL.secret,
      TYPE_URL.cluster,
    ]);
    expect(c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')], [TYPE_URL.secret]: [secret('s')] }))).toEqual([]);
    expect(c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x', 2)], [TYPE_URL.secret]: [secret('s')] }))).toEqual([TYPE_URL.cluster]);
    expect(c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x', 2)] }))).toEqual([TYPE_URL.secret]);
  });

  it('notifies listeners with the node and its changed types; unsubscribe stops it', () => {
    const c = new SnapshotCache();
    const seen = vi.fn();
    const off = c.onUpdate(seen);
    c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')] }));
    c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')] }));
    expect(seen.mock.calls).toEqual([['n', [TYPE_URL.cluster]]]);
    c.removeSnapshot('n');
    expect(seen).toHaveBeenLastCalledWith('n', [TYPE_URL.cluster]);
    expect(c.getSnapshot('n')).toBeUndefined();
    off();
    c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')] }));
    expect(seen).toHaveBeenCalledTimes(2);
  });

  it('rejects duplicate names within a type and keeps the previous snapshot', () => {
    const c = new SnapshotCache();
    c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')] }));
    const before = c.getSnapshot('n');
    expect(() => c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x'), cluster('x', 2)] }))).toThrow(/duplicate .*Cluster resource name "x"/);
    expect(c.getSnapshot('n')).toBe(before);
    // The same name in two types is fine.
    expect(() => c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')], [TYPE_URL.secret]: [secret('x')] }))).not.toThrow();
  });

  it('keeps the previous snapshot and leaks no encoded bytes when a resource cannot be encoded', () => {
    const c = new SnapshotCache();
    c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x')] }));
    const bad = { name: 'y', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/not.Loaded' } } };
    expect(() => c.setSnapshot('n', set({ [TYPE_URL.cluster]: [cluster('x'), cluster('z'), bad] }))).toThrow(/Cluster "y"/);
    expect([...c.getSnapshot('n')!.get(TYPE_URL.cluster).resources.keys()]).toEqual(['x']);
    expect(c.encoder.size).toBe(1);
  });

  it('lists node ids', () => {
    const c = new SnapshotCache();
    c.setSnapshot('b', new Map());
    c.setSnapshot('a', new Map());
    expect(c.nodeIds()).toEqual(['a', 'b']);
  });
});

describe('selectResources', () => {
  it('picks the requested names that exist, with a version over that subset', () => {
    const c = new SnapshotCache();
    c.setSnapshot('n', set({ [TYPE_URL.secret]: [secret('a'), secret('b'), secret('c')] }));
    const t = c.getSnapshot('n')!.get(TYPE_URL.secret);
    const ab = selectResources(t, ['b', 'missing', 'a']);
    expect(ab.resources).toHaveLength(2);
    expect(selectResources(t, ['a', 'b']).version).toBe(ab.version);
    expect(selectResources(t, ['a']).version).not.toBe(ab.version);
    expect(selectResources(t, ['a', 'b', 'c']).version).toBe(t.version);
    expect(selectResources(t, '*').resources).toHaveLength(3);
    expect(selectResources(t, ['missing']).version).toBe(EMPTY_VERSION);
  });
});

describe('PUSH_ORDER', () => {
  it('is secret, cluster, endpoint, listener, route; unknown types go last', () => {
    expect(PUSH_ORDER).toEqual([TYPE_URL.secret, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]);
    expect(sortByPushOrder(['type.googleapis.com/x.Y', TYPE_URL.listener, TYPE_URL.secret])).toEqual([TYPE_URL.secret, TYPE_URL.listener, 'type.googleapis.com/x.Y']);
  });
});
