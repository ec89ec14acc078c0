import { describe, expect, it } from 'vitest';
import { encodeCheck } from '../../test/helpers/encode-check.ts';
import inboundAccessLog, { LOG_PREFIX, STDOUT_LOGGER } from './inbound-access-log.ts';
import { applyToProxy, filtersOf, translateTestdata } from './plugin-test-helpers.ts';

const HCM = 'HttpConnectionManager';
const TCP = 'TcpProxy';
type Log = { name: string; typed_config: { log_format: { text_format_source: { inline_string: string } } } };
const logsOf = (config: Record<string, unknown>) => (config.access_log ?? []) as Log[];

describe('examples/plugins/inbound-access-log', () => {
  const strict = translateTestdata('mesh-strict');

  it('adds a stdout access log to the HCM and tcp_proxy of every chain of every inbound listener', () => {
    const backend = strict.get('backend-1.shop')!;
    const { resources, touched } = applyToProxy([inboundAccessLog], backend);
    const inbound = resources.listeners.filter((l) => l.traffic_direction === 'INBOUND');
    expect(inbound.map((l) => l.name)).toEqual(['inbound:127.0.0.11:18080', 'inbound:127.0.0.11:18090']);
    const [http, tcp] = inbound;
    // Appended after whatever the translator put there (meshplane's own access log service entry).
    const before = (name: string, type: string) => filtersOf(backend.resources.listeners.find((l) => l.name === name)!, type).map((c) => logsOf(c).map((l) => l.name));
    expect(filtersOf(http!, HCM).map((c) => logsOf(c).map((l) => l.name))).toEqual(before(http!.name, HCM).map((names) => [...names, STDOUT_LOGGER]));
    expect(filtersOf(tcp!, TCP).map((c) => logsOf(c).map((l) => l.name))).toEqual(before(tcp!.name, TCP).map((names) => [...names, STDOUT_LOGGER]));
    const httpFormat = logsOf(filtersOf(http!, HCM)[0]!).at(-1)!.typed_config.log_format.text_format_source.inline_string;
    expect(httpFormat).toMatch(new RegExp(`^\\${LOG_PREFIX} listener=inbound:127\\.0\\.0\\.11:18080 chain=%FILTER_CHAIN_NAME% peer=%DOWNSTREAM_REMOTE_ADDRESS% peer_identity=%DOWNSTREAM_PEER_URI_SAN% tls=%DOWNSTREAM_TLS_VERSION% .*%RESPONSE_CODE%.*\\n$`));
    expect(logsOf(filtersOf(tcp!, TCP)[0]!).at(-1)!.typed_config.log_format.text_format_source.inline_string).toContain('bytes_in=%BYTES_RECEIVED%');
    // /debug/proxies names exactly these; clusters and secrets are untouched.
    expect(touched).toEqual(inbound.map((l) => ({ plugin: 'inbound-access-log', type: 'listeners', name: l.name })));
    for (const l of resources.listeners) encodeCheck('envoy.config.listener.v3.Listener', l);
  });

  it('PERMISSIVE: both the mtls and the plaintext chain log', () => {
    const portLevel = translateTestdata('port-level').get('backend-1.shop')!;
    const { resources } = applyToProxy([inboundAccessLog], portLevel);
    const permissive = resources.listeners.find((l) => (l.filter_chains as unknown[]).length === 2)!;
    const chains = permissive.filter_chains as { name: string; filters: { typed_config: Record<string, unknown> }[] }[];
    const stdoutLogs = (c: (typeof chains)[number]) => c.filters.flatMap((f) => logsOf(f.typed_config).map((l) => l.name)).filter((n) => n === STDOUT_LOGGER);
    expect(chains.map((c) => [c.name, stdoutLogs(c)])).toEqual([
      ['mtls', [STDOUT_LOGGER]],
      ['plaintext', [STDOUT_LOGGER]],
    ]);
  });

  it('appends to an access_log list already there, never replaces it', () => {
    const backend = strict.get('backend-1.shop')!;
    const als = { name: 'envoy.access_loggers.http_grpc', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig' } };
    const withAls = structuredClone(backend);
    for (const l of withAls.resources.listeners) for (const c of filtersOf(l, HCM)) c.access_log = [als];
    const { resources } = applyToProxy([inboundAccessLog], withAls);
    const http = resources.listeners.find((l) => l.name === 'inbound:127.0.0.11:18080')!;
    expect(logsOf(filtersOf(http, HCM)[0]!).map((l) => l.name)).toEqual(['envoy.access_loggers.http_grpc', STDOUT_LOGGER]);
  });

  it('leaves outbound listeners and proxyless gRPC apps alone', () => {
    const frontend = strict.get('frontend-1.shop')!;
    expect(applyToProxy([inboundAccessLog], frontend).touched).toEqual([]);
    const proxyless = translateTestdata('proxyless-grpc');
    const echo = proxyless.get('echo-1.shop')!;
    expect(echo.context.proxyless).toBe(true);
    expect(applyToProxy([inboundAccessLog], echo).touched).toEqual([]);
    // The sidecar next to it in the same mesh does get one.
    expect(applyToProxy([inboundAccessLog], proxyless.get('echo-3.shop')!).touched.length).toBe(1);
  });
});
