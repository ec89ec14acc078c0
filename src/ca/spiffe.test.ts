import { describe, expect, it } from 'vitest';
import { MeshplaneError } from '../errors.ts';
import { checkSpiffeId, spiffeId } from './spiffe.ts';

describe('spiffeId', () => {
  it('builds spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    expect(spiffeId('cluster.local', 'shop', 'backend')).toBe('spiffe://cluster.local/ns/shop/sa/backend');
  });

  it('refuses parts that would make an invalid URI SAN', () => {
    expect(() => spiffeId('Cluster.Local', 'shop', 'backend')).toThrow(MeshplaneError);
    expect(() => spiffeId('cluster.local', 'a/b', 'backend')).toThrow(/path segment/);
    expect(() => spiffeId('cluster.local', 'shop', '')).toThrow(/path segment "" must be non-empty/);
  });
});

describe('checkSpiffeId', () => {
  it.each(['spiffe://td', 'spiffe://td/ns/a/sa/b', 'spiffe://a.b-c_d/x.y'])('accepts %s', (id) => {
    expect(checkSpiffeId(id)).toBeUndefined();
  });
  it.each(['spiffe://', 'spiffe:///ns/a', 'https://td/x', 'spiffe://td/', 'spiffe://td/a/../b', 'spiffe://td/a b'])('rejects %s', (id) => {
    expect(checkSpiffeId(id)).toBeTypeOf('string');
  });
  it('rejects an ID over 2048 bytes', () => {
    const id = `spiffe://td/${'a'.repeat(2100)}`;
    expect(checkSpiffeId(id)).toBeTypeOf('string');
  });
});
