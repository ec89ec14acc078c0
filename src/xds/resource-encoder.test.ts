import { describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import { canonicalJson, contentHash } from './content-hash.ts';
import { ResourceEncoder } from './resource-encoder.ts';
import { TYPE_URL } from './type-urls.ts';

const tcpListener = (typedConfigType = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy') => ({
  name: 'l1',
  address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
  filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': typedConfigType, stat_prefix: 's', cluster: 'c1' } }] }],
});

describe('ResourceEncoder', () => {
  it('encodes to Any bytes that decode back, nested Any included', () => {
    const enc = new ResourceEncoder();
    const { any, hash } = enc.acquire(TYPE_URL.listener, 'l1', tcpListener());
    expect(any.type_url).toBe(TYPE_URL.listener);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const L = protoType('envoy.config.listener.v3.Listener');
    const back = L.toObject(L.decode(any.value), { json: true });
    expect(back.filter_chains[0].filters[0].typed_config).toMatchObject({ cluster: 'c1', '@type': expect.stringContaining('TcpProxy') });
  });

  it('throws naming the resource when a nested @type is not a loaded type (protobufjs would emit an empty Any)', () => {
    const enc = new ResourceEncoder();
    expect(() => enc.acquire(TYPE_URL.listener, 'l1', tcpListener('type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope'))).toThrow(
      /Listener "l1".*envoy\.extensions\.filters\.network\.nope\.v3\.Nope.*filter_chains\[0\]\.filters\[0\]\.typed_config.*PROTO_FILES/,
    );
    expect(() => enc.acquire(TYPE_URL.listener, 'l1', tcpListener('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'))).toThrow(/full type\.googleapis\.com/);
    expect(enc.size).toBe(0);
    expect(enc.encodes).toBe(0);
  });

  it('throws naming the resource for an unknown type URL, a mismatched @type or name, or a bad field shape', () => {
    const enc = new ResourceEncoder();
    expect(() => enc.acquire('type.googleapis.com/envoy.config.nope.v3.Nope', 'x', {})).toThrow(/"x".*not a loaded proto type/);
    expect(() => enc.acquire(TYPE_URL.cluster, 'c1', { '@type': TYPE_URL.listener, name: 'c1' })).toThrow(/does not match/);
    expect(() => enc.acquire(TYPE_URL.cluster, 'c1', { name: 'c2' })).toThrow(/Cluster "c1".*served under the name "c1"/);
    expect(() => enc.acquire(TYPE_URL.endpoint, 'c1', { cluster_name: 'c2' })).toThrow(/cluster_name/);
    // Wrappers need {value}: protobufjs throws; the error says which resource.
    expect(() => enc.acquire(TYPE_URL.cluster, 'c1', { name: 'c1', per_connection_buffer_limit_bytes: 5 })).toThrow(/Cluster "c1"/);
  });

  it('accepts a resource that carries its own matching @type', () => {
    const enc = new ResourceEncoder();
    const { any } = enc.acquire(TYPE_URL.cluster, 'c1', { '@type': TYPE_URL.cluster, name: 'c1' });
    expect(protoType('envoy.config.cluster.v3.Cluster').decode(any.value).toJSON()).toEqual({ name: 'c1' });
  });

  it('encodes identical content once and reference-counts it', () => {
    const enc = new ResourceEncoder();
    const a = enc.acquire(TYPE_URL.listener, 'l1', tcpListener());
    // Same content, keys in another order: same hash, same bytes object.
    const reordered = JSON.parse(JSON.stringify(tcpListener()), (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    );
    const b = enc.acquire(TYPE_URL.listener, 'l1', reordered);
    expect(b.hash).toBe(a.hash);
    expect(b.any).toBe(a.any);
    expect(enc.encodes).toBe(1);
    enc.release(a.hash);
    expect(enc.size).toBe(1);
    enc.release(a.hash);
    expect(enc.size).toBe(0);
    enc.acquire(TYPE_URL.listener, 'l1', tcpListener());
    expect(enc.encodes).toBe(2); // freed, so encoded again
  });

  it('hashes the same object differently under different type URLs', () => {
    expect(contentHash(TYPE_URL.cluster, { name: 'x' })).not.toBe(contentHash(TYPE_URL.listener, { name: 'x' }));
  });
});

describe('canonicalJson', () => {
  it('sorts keys, drops undefined and writes bytes as base64', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }], e: Buffer.from('hi'), f: null })).toBe(
      '{"a":[{"c":"x"}],"b":1,"e":{"$bytes":"aGk="},"f":null}',
    );
  });
});
