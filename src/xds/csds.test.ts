import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import type { NodeMessage } from './ads-service.ts';
import { CsdsServer } from './csds-server.ts';
import {
  buildClientStatusResponse,
  csdsServiceDefinition,
  type ClientStatusRequestMessage,
  type ClientStatusResponseMessage,
  type GenericXdsConfigMessage,
} from './csds-service.ts';
import type { ProxyConfigView, SentResource, SyncState, TypeStatus } from './proxy-status.ts';
import { REDACTED, redactionCount } from './redact-sensitive.ts';
import { ResourceEncoder } from './resource-encoder.ts';
import { TYPE_URL } from './type-urls.ts';

const KEY_MATERIAL = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETkeyMATERIAL';
const KEY_PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_MATERIAL}\n-----END PRIVATE KEY-----\n`;
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBcertCHAINmaterialPUBLIC\n-----END CERTIFICATE-----\n';
const SENT_AT = '2024-05-06T07:08:09.250Z';
const NACK_AT = '2024-05-06T07:09:00.500Z';

const encoder = new ResourceEncoder();
const resource = (typeUrl: string, name: string, obj: object): SentResource => ({
  name,
  version: `v-${name}`,
  any: encoder.acquire(typeUrl, name, obj).any,
  sentAt: SENT_AT,
});

const secret = resource(TYPE_URL.secret, 'default', {
  name: 'default',
  tls_certificate: { certificate_chain: { inline_string: CERT_PEM }, private_key: { inline_string: KEY_PEM } },
});
const bytesKeySecret = resource(TYPE_URL.secret, 'bytes-key', {
  name: 'bytes-key',
  tls_certificate: { certificate_chain: { inline_string: CERT_PEM }, private_key: { inline_bytes: Buffer.from(KEY_PEM).toString('base64') } },
});
const fileKeySecret = resource(TYPE_URL.secret, 'file-key', {
  name: 'file-key',
  tls_certificate: { certificate_chain: { filename: '/etc/certs/chain.pem' }, private_key: { filename: '/etc/certs/key-SECRETPATH.pem' } },
});
const rootSecret = resource(TYPE_URL.secret, 'ROOTCA', { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: CERT_PEM } } });
const cluster = resource(TYPE_URL.cluster, 'outbound|http|backend', { name: 'outbound|http|backend', connect_timeout: { seconds: 1 } });
// A plugin could inline a key in a cluster's TLS context: it must be redacted there too (inside a nested Any).
const inlineKeyCluster = resource(TYPE_URL.cluster, 'inline-key', {
  name: 'inline-key',
  transport_socket: {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: CERT_PEM }, private_key: { inline_string: KEY_PEM } }] },
    },
  },
});
const listener = resource(TYPE_URL.listener, 'inbound', {
  name: 'inbound',
  address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
  filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' } }] }],
});

/** A node as the ADS codec decodes it (Struct metadata in protobufjs's camelCase). */
function node(id: string, labels: Record<string, string> = {}): NodeMessage {
  const Node = protoType('envoy.config.core.v3.Node');
  const fields = { labels: { structValue: { fields: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { stringValue: v }])) } } };
  const bytes = Node.encode(Node.fromObject({ id, cluster: 'mesh', metadata: { fields } })).finish();
  return Node.toObject(Node.decode(bytes), { longs: String, enums: String, arrays: true, defaults: false }) as NodeMessage;
}

function type(typeUrl: string, state: SyncState, resources: number, subscribed: TypeStatus['subscribed'] = '*'): TypeStatus {
  return {
    typeUrl,
    state,
    subscribed,
    resources,
    ...(state !== 'NOT SENT' && { versionSent: `${state}-version`, sentAt: SENT_AT }),
    ...(state === 'NACKED' && { lastNack: { version: 'rejected-v2', nonce: '7', message: 'Proto constraint validation failed: bad port', at: NACK_AT } }),
  };
}

function view(id: string, labels: Record<string, string>, types: [TypeStatus, SentResource[]][]): ProxyConfigView {
  const sent = new Map(types.map(([t, r]) => [t.typeUrl, r]));
  return {
    status: { nodeId: id, streamId: 1, transport: 'sotw', connectedAt: SENT_AT, peer: '127.0.0.1:5000', queued: 0, types: types.map(([t]) => t) },
    node: node(id, labels),
    sent: (typeUrl) => sent.get(typeUrl) ?? [],
  };
}

const VIEWS: ProxyConfigView[] = [
  view('frontend-1.shop', { app: 'frontend' }, [
    [type(TYPE_URL.secret, 'SYNCED', 4), [secret, bytesKeySecret, fileKeySecret, rootSecret]],
    [type(TYPE_URL.cluster, 'STALE', 2), [cluster, inlineKeyCluster]],
    [type(TYPE_URL.listener, 'NACKED', 1), [listener]],
    [type(TYPE_URL.route, 'NOT SENT', 0, ['local-route']), []],
    [type(TYPE_URL.endpoint, 'NOT SENT', 0), []],
  ]),
  view('backend-1.shop', { app: 'backend' }, [[type(TYPE_URL.cluster, 'SYNCED', 1), [cluster]]]),
  view('backend-2.prod', { app: 'backend' }, [[type(TYPE_URL.cluster, 'SYNCED', 1), [cluster]]]),
];

const definition = csdsServiceDefinition();
const Client = grpc.makeGenericClientConstructor(definition, 'ClientStatusDiscoveryService');
// Same service, responses left as the raw bytes on the wire.
const RawClient = grpc.makeGenericClientConstructor(
  { ...definition, FetchClientStatus: { ...definition.FetchClientStatus!, responseDeserialize: (b: Buffer) => b } },
  'ClientStatusDiscoveryService',
);

let server: CsdsServer;
let client: InstanceType<typeof Client>;
let raw: InstanceType<typeof RawClient>;

beforeAll(async () => {
  server = new CsdsServer(() => VIEWS);
  const port = await server.listen('127.0.0.1:0');
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  raw = new RawClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  raw?.close();
  await server?.close();
});

function fetch(request: ClientStatusRequestMessage): Promise<ClientStatusResponseMessage> {
  return new Promise((resolve, reject) => client.FetchClientStatus!(request, (err: Error | null, res: ClientStatusResponseMessage) => (err ? reject(err) : resolve(res))));
}
function fetchRaw(request: ClientStatusRequestMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => raw.FetchClientStatus!(request, (err: Error | null, res: Buffer) => (err ? reject(err) : resolve(res))));
}
const ids = (res: ClientStatusResponseMessage) => (res.config ?? []).map((c) => c.node.id);
const entry = (res: ClientStatusResponseMessage, typeUrl: string, name: string): GenericXdsConfigMessage => {
  const found = res.config[0]!.generic_xds_configs.find((g) => g.type_url === typeUrl && g.name === name);
  if (!found) throw new Error(`no ${typeUrl} ${name}`);
  return found;
};
const decodeAny = (any: { type_url: string; value: Uint8Array }) => {
  const t = protoType(any.type_url.split('/')[1]!);
  return t.toObject(t.decode(any.value), { json: true }) as Record<string, any>;
};

describe('CSDS node matchers', () => {
  it.each([
    ['no matcher: every proxy', [], ['frontend-1.shop', 'backend-1.shop', 'backend-2.prod']],
    ['exact node_id', [{ node_id: { exact: 'backend-1.shop' } }], ['backend-1.shop']],
    ['prefix', [{ node_id: { prefix: 'backend-' } }], ['backend-1.shop', 'backend-2.prod']],
    ['suffix, ignore_case', [{ node_id: { suffix: '.SHOP', ignore_case: true } }], ['frontend-1.shop', 'backend-1.shop']],
    ['contains', [{ node_id: { contains: 'end-2' } }], ['backend-2.prod']],
    ['safe_regex matches the full id', [{ node_id: { safe_regex: { regex: 'backend-[0-9]+\\.shop' } } }], ['backend-1.shop']],
    ['safe_regex is not a partial match', [{ node_id: { safe_regex: { regex: 'backend' } } }], []],
    ['non-matching', [{ node_id: { exact: 'nobody.nowhere' } }], []],
    ['matchers are ORed', [{ node_id: { exact: 'backend-2.prod' } }, { node_id: { prefix: 'frontend' } }], ['frontend-1.shop', 'backend-2.prod']],
    [
      'node_metadatas, ANDed with node_id',
      [{ node_id: { suffix: '.shop' }, node_metadatas: [{ path: [{ key: 'labels' }, { key: 'app' }], value: { string_match: { exact: 'backend' } } }] }],
      ['backend-1.shop'],
    ],
    ['node_metadatas present_match', [{ node_metadatas: [{ path: [{ key: 'labels' }, { key: 'version' }], value: { present_match: true } }] }], []],
  ] as [string, ClientStatusRequestMessage['node_matchers'], string[]][])('FetchClientStatus: %s', async (_, node_matchers, expected) => {
    expect(ids(await fetch({ node_matchers }))).toEqual(expected);
  });

  it('rejects an invalid matcher with INVALID_ARGUMENT naming the field', async () => {
    await expect(fetch({ node_matchers: [{ node_id: { safe_regex: { regex: '(' } } }] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('node_matchers[0].node_id.safe_regex.regex'),
    });
    await expect(fetch({ node_matchers: [{ node_id: {} }] })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});

describe('CSDS StreamClientStatus', () => {
  it('answers each request on one stream, in order', async () => {
    const call = client.StreamClientStatus!() as grpc.ClientDuplexStream<ClientStatusRequestMessage, ClientStatusResponseMessage>;
    const responses: ClientStatusResponseMessage[] = [];
    const two = new Promise<void>((resolve, reject) => {
      call.on('data', (r: ClientStatusResponseMessage) => responses.push(r) === 2 && resolve());
      call.on('error', reject);
    });
    call.write({ node_matchers: [{ node_id: { exact: 'backend-2.prod' } }] });
    call.write({ node_matchers: [{ node_id: { prefix: 'frontend' } }], exclude_resource_contents: true });
    await two;
    call.end();
    expect(responses.map(ids)).toEqual([['backend-2.prod'], ['frontend-1.shop']]);
    expect(responses[1]!.config[0]!.generic_xds_configs.every((g) => g.xds_config === undefined)).toBe(true);
  }, 5000);
});

describe('CSDS ClientConfig contents', () => {
  const frontend = { node_matchers: [{ node_id: { exact: 'frontend-1.shop' } }] };

  it('reports the announced node and one entry per resource sent, with contents and times', async () => {
    const res = await fetch(frontend);
    expect(res.config[0]!.node).toMatchObject({ id: 'frontend-1.shop', cluster: 'mesh' });
    const l = entry(res, TYPE_URL.listener, 'inbound');
    expect(l.version_info).toBe('v-inbound');
    expect(l.last_updated).toEqual({ seconds: String(Math.floor(Date.parse(SENT_AT) / 1000)), nanos: 250_000_000 });
    expect(decodeAny(l.xds_config!)).toMatchObject({ name: 'inbound', address: { socket_address: { port_value: 10000 } } });
    expect(res.config[0]!.generic_xds_configs.map((g) => g.name)).toEqual([
      'default', 'bytes-key', 'file-key', 'ROOTCA', 'outbound|http|backend', 'inline-key', 'inbound', 'local-route', '',
    ]);
  });

  it('exclude_resource_contents drops xds_config but keeps names, versions and status', async () => {
    const res = await fetch({ ...frontend, exclude_resource_contents: true });
    const configs = res.config[0]!.generic_xds_configs;
    expect(configs).toHaveLength(9);
    expect(configs.every((g) => g.xds_config === undefined)).toBe(true);
    expect(entry(res, TYPE_URL.secret, 'default')).toMatchObject({ version_info: 'v-default', config_status: 'SYNCED' });
  });

  it('maps the 4 sync states to config_status and client_status', async () => {
    const res = await fetch(frontend);
    const status = (t: string, n: string) => ({ config_status: entry(res, t, n).config_status, client_status: entry(res, t, n).client_status });
    expect(status(TYPE_URL.secret, 'default')).toEqual({ config_status: 'SYNCED', client_status: 'ACKED' });
    expect(status(TYPE_URL.cluster, 'outbound|http|backend')).toEqual({ config_status: 'STALE', client_status: 'UNKNOWN' });
    expect(status(TYPE_URL.listener, 'inbound')).toEqual({ config_status: 'ERROR', client_status: 'NACKED' });
    // NOT SENT: a requested name, and a wildcard type holding nothing (one nameless per-type entry).
    expect(status(TYPE_URL.route, 'local-route')).toEqual({ config_status: 'NOT_SENT', client_status: 'REQUESTED' });
    expect(status(TYPE_URL.endpoint, '')).toEqual({ config_status: 'NOT_SENT', client_status: 'REQUESTED' });
    expect(entry(res, TYPE_URL.route, 'local-route').xds_config).toBeUndefined();
  });

  it('error_state carries the NACK of a NACKED type, and only there', async () => {
    const res = await fetch(frontend);
    expect(entry(res, TYPE_URL.listener, 'inbound').error_state).toEqual({
      details: 'Proto constraint validation failed: bad port',
      last_update_attempt: { seconds: String(Math.floor(Date.parse(NACK_AT) / 1000)), nanos: 500_000_000 },
      version_info: 'rejected-v2',
    });
    expect(entry(res, TYPE_URL.secret, 'default').error_state).toBeUndefined();
    expect(entry(res, TYPE_URL.cluster, 'inline-key').error_state).toBeUndefined();
  });
});

describe('CSDS never returns a private key', () => {
  it('redacts every private key on the wire; certificate chains and trust bundles stay', async () => {
    const bytes = await fetchRaw({});
    const text = bytes.toString('latin1');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(KEY_MATERIAL);
    expect(text).not.toContain(Buffer.from(KEY_PEM).toString('base64').slice(0, 40));
    expect(text).not.toContain('SECRETPATH');
    expect(text).toContain('MIIBcertCHAINmaterialPUBLIC');
    expect(text).toContain(REDACTED);
  });

  it('replaces each private_key DataSource by {inline_string: "[redacted]"}, in Secrets and inside nested Anys', async () => {
    const res = await fetch({ node_matchers: [{ node_id: { prefix: 'frontend' } }] });
    for (const name of ['default', 'bytes-key', 'file-key']) {
      const s = decodeAny(entry(res, TYPE_URL.secret, name).xds_config!);
      expect(s.tls_certificate.private_key).toEqual({ inline_string: REDACTED });
      expect(s.tls_certificate.certificate_chain).toBeDefined();
    }
    expect(decodeAny(entry(res, TYPE_URL.secret, 'ROOTCA').xds_config!).validation_context.trusted_ca.inline_string).toBe(CERT_PEM);
    const c = decodeAny(entry(res, TYPE_URL.cluster, 'inline-key').xds_config!);
    expect(c.transport_socket.typed_config.common_tls_context.tls_certificates[0]).toEqual({
      certificate_chain: { inline_string: CERT_PEM },
      private_key: { inline_string: REDACTED },
    });
  });

  it('redacts once per resource version and never touches the shared bytes', () => {
    const first = buildClientStatusResponse(VIEWS, {});
    const before = redactionCount();
    const second = buildClientStatusResponse(VIEWS, {});
    expect(redactionCount()).toBe(before);
    const any = (r: ClientStatusResponseMessage, n: string) => r.config[0]!.generic_xds_configs.find((g) => g.name === n)!.xds_config;
    expect(any(second, 'default')).toBe(any(first, 'default'));
    // Nothing to redact: the snapshot's own bytes are returned as they are.
    expect(any(first, 'inbound')).toBe(listener.any);
    expect(secret.any.value.toString('latin1')).toContain(KEY_MATERIAL);
  });
});
