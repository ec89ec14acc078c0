/**
 * Small real Envoy resources for the ADS feature tests, as protobufjs fromObject inputs.
 */
import type { ResourceSet } from '../../src/xds/snapshot.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

export function listener(name: string, port: number, cluster: string): object {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
              stat_prefix: name,
              cluster,
            },
          },
        ],
      },
    ],
  };
}

export function cluster(name: string, port: number): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1 },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

export function secret(name: string, pem = `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`): object {
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_string: pem },
      private_key: { inline_string: `-----BEGIN PRIVATE KEY-----\nkey-of-${name}\n-----END PRIVATE KEY-----\n` },
    },
  };
}

export function endpoints(clusterName: string, port: number): object {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
  };
}

export function route(name: string, cluster: string): object {
  return {
    name,
    virtual_hosts: [{ name: `${name}-vh`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  };
}

type Named = { name?: string; cluster_name?: string };

/** A ResourceSet from lists of resource objects (names taken from the objects). */
export function resources(sets: { listeners?: object[]; clusters?: object[]; secrets?: object[]; endpoints?: object[]; routes?: object[] }): ResourceSet {
  const entries = (list: object[] = []) => list.map((resource) => ({ name: String((resource as Named).name ?? (resource as Named).cluster_name), resource }));
  const m = new Map<string, { name: string; resource: object }[]>();
  if (sets.secrets) m.set(TYPE_URL.secret, entries(sets.secrets));
  if (sets.clusters) m.set(TYPE_URL.cluster, entries(sets.clusters));
  if (sets.endpoints) m.set(TYPE_URL.endpoint, entries(sets.endpoints));
  if (sets.listeners) m.set(TYPE_URL.listener, entries(sets.listeners));
  if (sets.routes) m.set(TYPE_URL.route, entries(sets.routes));
  return m;
}

export const { listener: LDS, cluster: CDS, secret: SDS, endpoint: EDS, route: RDS } = TYPE_URL;
