/**
 * Proves the e2e harness against a real Envoy with a static bootstrap (no control plane):
 * HTTP through HCM+router, TCP through tcp_proxy, admin stats, and clean process teardown.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpApp, startTcpEcho, type HttpApp, type TcpEcho } from './apps.ts';
import { startNodeProcess } from './child-process.ts';
import { expectHttpFails, httpGet, tcpEchoRoundTrip } from './clients.ts';
import { startEnvoy, stopAll, type EnvoyProcess } from './envoy-process.ts';
import { freePort, freePorts } from './ports.ts';
import { waitFor } from './wait-for.ts';

function staticBootstrap(p: { admin: number; http: number; tcp: number; app: number; echo: number }): string {
  const cluster = (name: string, port: number): string => `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${port}}}}}]}]`;
  return `
node: {id: harness, cluster: harness}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: ${p.admin}}}}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: ${p.http}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: ${p.tcp}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo_tcp
          cluster: echo
  clusters:${cluster('app', p.app)}${cluster('echo', p.echo)}
`;
}

describe('e2e harness with a static Envoy', () => {
  let app: HttpApp;
  let echo: TcpEcho;
  let envoy: EnvoyProcess;
  let ports: { admin: number; http: number; tcp: number };

  beforeAll(async () => {
    app = await startHttpApp({ host: '127.0.0.1', port: 0, name: 'app-a' });
    echo = await startTcpEcho({ host: '127.0.0.1', port: 0 });
    const [admin, http, tcp] = (await freePorts(3)) as [number, number, number];
    ports = { admin, http, tcp };
    envoy = await startEnvoy({
      name: 'static',
      adminPort: admin,
      bootstrapYaml: staticBootstrap({ ...ports, app: app.port, echo: echo.port }),
    });
  });

  afterAll(async () => {
    await stopAll();
    await app?.close();
    await echo?.close();
  });

  it('proxies HTTP to the app and forwards headers', async () => {
    const res = await httpGet(`http://127.0.0.1:${ports.http}/hello?x=1`, { headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ app: 'app-a', method: 'GET', path: '/hello?x=1', headers: { 'x-test': 'yes' } });
    expect(res.json.headers['x-forwarded-proto']).toBe('http');
    expect(app.requests).toBeGreaterThanOrEqual(1);
  });

  it('proxies TCP to the echo server', async () => {
    const payload = 'ping '.repeat(1000);
    expect(await tcpEchoRoundTrip({ host: '127.0.0.1', port: ports.tcp, payload, timeoutMs: 3000 })).toBe(payload);
  });

  it('reads admin stats, config dump and certs', async () => {
    expect(await envoy.stat('listener_manager.total_listeners_active')).toBe(2);
    const stats = await envoy.stats('^cluster\\.app\\.');
    expect(stats.get('cluster.app.upstream_rq_200')).toBeGreaterThanOrEqual(1);
    expect([...stats.keys()].every((k) => k.startsWith('cluster.app.'))).toBe(true);
    expect(await envoy.stat('no.such.stat')).toBeUndefined();
    expect(await envoy.waitForStat('cluster.echo.upstream_cx_total', (v) => v >= 1, 5000)).toBeGreaterThanOrEqual(1);

    const dump = await envoy.configDump('static_listeners');
    expect(dump.configs.map((c) => c.listener?.name).sort()).toEqual(['http', 'tcp']);
    expect(await envoy.certs()).toEqual({ certificates: [] });
    expect(await envoy.admin('/ready')).toMatch(/LIVE/);
  });

  it('names the stat and shows the log tail when waitForStat times out', async () => {
    await expect(envoy.waitForStat('listener_manager.total_listeners_active', (v) => v === 99, 300)).rejects.toThrow(
      /listener_manager\.total_listeners_active.*last value 2/s,
    );
  });

  it('reports connection failures and stops Envoy for good', async () => {
    const { pid } = envoy;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await envoy.stop();
    await envoy.stop(); // idempotent
    expect(envoy.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await expectHttpFails(`http://127.0.0.1:${ports.http}/`)).toMatch(/ECONNREFUSED/);
    await expect(tcpEchoRoundTrip({ host: '127.0.0.1', port: ports.tcp, payload: 'x', timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('harness failure modes', () => {
  it('rejects startEnvoy with the log tail when the bootstrap is invalid', async () => {
    const adminPort = await freePort();
    const bad = `admin: {address: {socket_address: {address: 127.0.0.1, port_value: ${adminPort}}}}\nstatic_resources: {clusters: [{name: x, type: NOPE}]}\n`;
    const err = await startEnvoy({ name: 'bad', adminPort, bootstrapYaml: bad }).then(
      () => expect.unreachable('startEnvoy should have failed'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/exited before becoming ready[\s\S]*log tail[\s\S]*NOPE/);
    // A failed start keeps its files for reading; this failure is expected, so tidy up.
    const logFile = /log: (\S+)/.exec(err.message)?.[1];
    expect(logFile && existsSync(logFile)).toBe(true);
    rmSync(dirname(logFile!), { recursive: true, force: true });
  });

  it('expectHttpFails rejects when the request succeeds, and accepts listed statuses', async () => {
    const app = await startHttpApp({ port: 0, name: 'ok' });
    try {
      await expect(expectHttpFails(`http://127.0.0.1:${app.port}/`)).rejects.toThrow(/expected GET .* to fail.*HTTP 200/);
      expect(await expectHttpFails(`http://127.0.0.1:${app.port}/`, { failStatuses: [200] })).toMatch(/^HTTP 200/);
    } finally {
      await app.close();
    }
  });

  it('times out a hanging HTTP request', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined); // accepts and never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      expect(await expectHttpFails(`http://127.0.0.1:${port}/`, { timeoutMs: 300 })).toMatch(/timed out after 300 ms/);
    } finally {
      silent.close();
    }
  });

  it('waitFor returns the first usable value and names what timed out', async () => {
    let n = 0;
    expect(await waitFor(async () => (++n >= 3 ? n : undefined), { what: 'three', intervalMs: 10 })).toBe(3);
    await expect(
      waitFor(() => Promise.reject(new Error('boom')), { what: 'the impossible', timeoutMs: 100, intervalMs: 10 }),
    ).rejects.toThrow(/waiting for the impossible; last: attempt \d+ failed: boom/);
    await expect(waitFor(() => new Promise(() => undefined), { what: 'a hang', timeoutMs: 100 })).rejects.toThrow(/a hang/);
  });

  it('starts a node child on its ready line, and stops it', async () => {
    const script = `console.log('booting'); setTimeout(() => console.error('listening on port 4242'), 50); setInterval(() => {}, 1000);`;
    const child = await startNodeProcess({ name: 'fake-serve', args: ['-e', script], readyLine: /listening on port (\d+)/, timeoutMs: 5000 });
    expect(child.ready?.[1]).toBe('4242');
    expect(child.logTail()).toContain('booting');
    expect(await child.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(() => process.kill(child.pid, 0)).toThrow();
  });

  it('rejects startNodeProcess with the tail when the child exits early', async () => {
    await expect(
      startNodeProcess({ name: 'crasher', args: ['-e', `console.error('bad config'); process.exit(3)`], readyLine: /ready/, timeoutMs: 5000 }),
    ).rejects.toThrow(/crasher exited \(code 3\)[\s\S]*bad config/);
  });

  // The safety net: an Envoy must not outlive the process that started it, however that process ends.
  for (const ending of ['process.exit', 'SIGTERM'] as const) {
    it(`kills Envoy when its owner ends by ${ending}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshplane-harness-'));
      try {
        const script = join(dir, 'owner.mts');
        const envoyProcessTs = fileURLToPath(new URL('./envoy-process.ts', import.meta.url));
        const portsTs = fileURLToPath(new URL('./ports.ts', import.meta.url));
        writeFileSync(
          script,
          `import { startEnvoy } from ${JSON.stringify(envoyProcessTs)};
import { freePort } from ${JSON.stringify(portsTs)};
const adminPort = await freePort();
const e = await startEnvoy({ name: 'owned', adminPort, bootstrapYaml: 'admin: {address: {socket_address: {address: 127.0.0.1, port_value: ' + adminPort + '}}}' });
console.log('envoy pid ' + e.pid);
${ending === 'process.exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
`,
        );
        const owner = await startNodeProcess({ name: 'owner', args: ['--import', 'tsx', script], readyLine: /envoy pid (\d+)/, timeoutMs: 20_000 });
        const envoyPid = Number(owner.ready?.[1]);
        expect(envoyPid).toBeGreaterThan(0);
        if (ending === 'SIGTERM') await owner.stop('SIGTERM');
        else await owner.exited;
        await waitFor(
          () => {
            try {
              process.kill(envoyPid, 0);
              return false;
            } catch {
              return true;
            }
          },
          { what: `orphaned envoy ${envoyPid} to be gone`, timeoutMs: 5000, intervalMs: 50 },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

