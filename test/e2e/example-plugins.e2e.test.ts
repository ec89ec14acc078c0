import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_PREFIX, STDOUT_LOGGER } from '../../examples/plugins/inbound-access-log.ts';
import { httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import type { EnvoyProcess } from '../helpers/envoy-process.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ADDR, TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';
import { debugProxies } from './mesh-probes.ts';

/**
 * The two example plugins (examples/plugins/), listed in the Mesh, with real Envoys: their effects
 * are in Envoy's /config_dump and in the traffic, /debug names them, and a Mesh edit that changes
 * their options reaches the Envoys while one that cannot load is rejected.
 */
const EXAMPLES = join(import.meta.dirname, '../../examples/plugins');
const meshPlugins = (header: string) =>
  `[{file: ${EXAMPLES}/inbound-access-log.ts, onError: skip-plugin}, {file: ${EXAMPLES}/outbound-request-header.ts, options: {header: ${header}}}]`;

type Filter = { name: string; typed_config: Record<string, any> };
type DumpedListener = { name: string; filter_chains: { name?: string; filters: Filter[] }[] };

/** The listeners Envoy is running (active_state), by name. */
async function activeListeners(envoy: EnvoyProcess): Promise<Map<string, DumpedListener>> {
  const dump = await envoy.configDump<{ configs: { name: string; active_state?: { listener: DumpedListener } }[] }>('dynamic_listeners');
  return new Map(dump.configs.filter((c) => c.active_state).map((c) => [c.name, c.active_state!.listener]));
}
const terminalFilters = (l: DumpedListener) => l.filter_chains.flatMap((c) => c.filters.filter((f) => /HttpConnectionManager|TcpProxy/.test(f.typed_config['@type'])));

describe('example plugins in the Mesh, end to end', () => {
  let mesh: LocalMesh;
  let meshYaml: string;
  beforeAll(async () => {
    mesh = await startLocalMesh('PERMISSIVE', { meshPlugins: meshPlugins('x-meshplane-source') });
    meshYaml = readFileSync(join(mesh.configDir, 'mesh.yaml'), 'utf8');
  }, 120_000);
  afterAll(async () => {
    await mesh?.close();
  });

  const serverInbound = () => [`inbound:${ADDR.server}:${mesh.ports.serverHttp}`, `inbound:${ADDR.server}:${mesh.ports.serverTcp}`];
  const clientOutHttp = () => `outbound:127.0.0.1:${mesh.ports.clientOutHttp}`;
  /** The client's HTTP outbounds (to the server and to legacy-1); its TCP one has no HTTP. */
  const clientOutbounds = () => [clientOutHttp(), `outbound:127.0.0.1:${mesh.ports.clientOutLegacy}`].sort();
  const viaClient = () => httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/hello`);

  it("Envoy's /config_dump: every chain of every inbound listener logs to stdout, after what was there", async () => {
    const listeners = await activeListeners(mesh.server);
    for (const name of serverInbound()) {
      const listener = listeners.get(name)!;
      expect(listener.filter_chains.map((c) => c.name)).toEqual(['mtls', 'plaintext']);
      for (const filter of terminalFilters(listener)) {
        const logs = filter.typed_config.access_log as Filter[];
        expect(logs.at(-1)).toMatchObject({ name: STDOUT_LOGGER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } });
        expect(logs.at(-1)!.typed_config.log_format.text_format_source.inline_string).toContain(`listener=${name} `);
      }
    }
    // Outbound listeners get none.
    for (const listener of (await activeListeners(mesh.client)).values()) {
      for (const filter of terminalFilters(listener)) expect((filter.typed_config.access_log ?? []).map((l: Filter) => l.name)).not.toContain(STDOUT_LOGGER);
    }
  });

  it("Envoy's /config_dump: the client's outbound HTTP route config adds the header; no inbound one does", async () => {
    const out = (await activeListeners(mesh.client)).get(clientOutHttp())!;
    expect(terminalFilters(out)[0]!.typed_config.route_config.request_headers_to_add).toEqual([
      { header: { key: 'x-meshplane-source', value: 'shop/client-1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
    for (const listener of (await activeListeners(mesh.server)).values()) {
      for (const filter of terminalFilters(listener)) expect(filter.typed_config.route_config?.request_headers_to_add).toBeUndefined();
    }
  });

  it('traffic: the server app gets the header from the client sidecar; the server sidecar logs mTLS and plaintext callers', async () => {
    const res = await viaClient();
    expect(res.status).toBe(200);
    expect(res.json.headers['x-meshplane-source']).toBe('shop/client-1');
    // The app cannot forge it: the sidecar overwrites what it sent.
    const forged = await httpGet(`http://127.0.0.1:${mesh.ports.clientOutHttp}/forged`, { headers: { 'x-meshplane-source': 'evil/app' } });
    expect(forged.json.headers['x-meshplane-source']).toBe('shop/client-1');
    // A sidecar-less caller in plaintext (PERMISSIVE): no header, and the log says so.
    const plain = await httpGet(`http://${ADDR.server}:${mesh.ports.serverHttp}/plain`, { localAddress: ADDR.legacy });
    expect(plain.json.headers['x-meshplane-source']).toBeUndefined();
    expect(await tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload: 'ping' })).toBe('ping');

    const lines = await waitFor(
      () => {
        const log = mesh.server.logTail(400).split('\n').filter((l) => l.startsWith(LOG_PREFIX));
        return log.some((l) => l.includes('/plain')) && log.some((l) => l.includes('bytes_in=4')) && log;
      },
      // Envoy flushes log files (stdout too) every 10 s by default (--file-flush-interval-msec).
      { what: 'access log lines in the server Envoy output', timeoutMs: 30_000 },
    );
    const http = `${LOG_PREFIX} listener=inbound:${ADDR.server}:${mesh.ports.serverHttp}`;
    expect(lines.find((l) => l.includes('/hello'))).toMatch(new RegExp(`^${esc(http)} chain=mtls peer=${esc(ADDR.client)}:\\d+ peer_identity=spiffe://${esc(TRUST_DOMAIN)}/ns/shop/sa/client tls=TLSv1\\.[23] "GET /hello HTTP/1\\.1" 200 `));
    expect(lines.find((l) => l.includes('/plain'))).toMatch(new RegExp(`^${esc(http)} chain=plaintext peer=${esc(ADDR.legacy)}:\\d+ peer_identity=- tls=- "GET /plain HTTP/1\\.1" 200 `));
    expect(lines.find((l) => l.includes('bytes_in=4'))).toMatch(new RegExp(`listener=inbound:${esc(ADDR.server)}:${mesh.ports.serverTcp} chain=mtls .*peer_identity=spiffe://${esc(TRUST_DOMAIN)}/ns/shop/sa/client tls=TLSv1\\.[23] bytes_in=4 bytes_out=4`));
  }, 45_000);

  it('/debug/proxies tags what each plugin added or changed; /debug/plugins lists them in order', async () => {
    const proxies = await debugProxies(mesh);
    const touched = (node: string) => (proxies.find((p) => p.nodeId === node) as unknown as { plugins: { touched: unknown[]; skipped: unknown[] } }).plugins;
    expect(touched('server-1.shop')).toEqual({ touched: serverInbound().sort().map((name) => ({ plugin: 'inbound-access-log', type: 'listeners', name })), skipped: [] });
    expect(touched('client-1.shop')).toEqual({ touched: clientOutbounds().map((name) => ({ plugin: 'outbound-request-header', type: 'listeners', name })), skipped: [] });
    const plugins = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/plugins`)).json;
    expect(plugins).toEqual([
      { name: 'inbound-access-log', file: `${EXAMPLES}/inbound-access-log.ts`, listedIn: 'mesh.yaml: spec.plugins[0]', onError: 'skip-plugin', stages: ['onListener'] },
      { name: 'outbound-request-header', file: `${EXAMPLES}/outbound-request-header.ts`, listedIn: 'mesh.yaml: spec.plugins[1]', onError: 'fail-closed', stages: ['onListener'] },
    ]);
  });

  it('a Mesh edit to the options reaches Envoy; an entry that cannot load is rejected and the last good plugins keep serving', async () => {
    mesh.writeConfig('mesh.yaml', meshYaml.replace(meshPlugins('x-meshplane-source'), meshPlugins('x-source-workload')));
    await waitFor(async () => (await viaClient()).json.headers['x-source-workload'] === 'shop/client-1', { what: 'the renamed header at the server app' });
    expect((await viaClient()).json.headers['x-meshplane-source']).toBeUndefined();

    const broken = meshPlugins('x-source-workload').replace('outbound-request-header.ts', 'no-such-plugin.ts');
    mesh.writeConfig('mesh.yaml', meshYaml.replace(meshPlugins('x-meshplane-source'), broken));
    const config = await waitFor(async () => {
      const c = (await httpGet(`http://127.0.0.1:${mesh.ports.cpAdmin}/debug/config`)).json;
      return c.lastLoad.ok === false && c;
    }, { what: 'the broken Mesh to be rejected' });
    expect(config.lastLoad.violations).toEqual([expect.stringMatching(/^mesh\.yaml: spec\.plugins\[1\]\.file: plugin module .*no-such-plugin\.ts does not exist: the path is relative to the config directory/)]);
    expect((await viaClient()).json.headers['x-source-workload']).toBe('shop/client-1');
    mesh.writeConfig('mesh.yaml', meshYaml);
    await waitFor(async () => (await viaClient()).json.headers['x-meshplane-source'] === 'shop/client-1', { what: 'the original header again' });
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
