import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir } from '../../src/model/load-model.ts';
import { explain, type ExplainCaller } from '../../src/plan/explain.ts';
import { httpGet, tcpEchoRoundTrip } from '../helpers/clients.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ADDR, MESHPLANE, TRUST_DOMAIN, startLocalMesh, type LocalMesh } from './local-mesh.ts';

/**
 * AuthorizationPolicy end to end: policy files in the config directory, real Envoys enforcing
 * the RBAC filters meshplane sends, real HTTP and TCP traffic; and `explain` asked the same
 * questions, so its answer is checked against what Envoy actually did.
 *
 *   client-1 (sa client)   --sidecar--> server-1 :http-api (HTTP app), :tcp-echo (TCP echo)
 *   intruder-1 (sa intruder) --sidecar--> server-1
 *   legacy-1 (no sidecar, 127.0.0.23) --plaintext--> server-1's sidecar
 */
let mesh: LocalMesh;
const principal = (sa: string) => `${TRUST_DOMAIN}/ns/shop/sa/${sa}`;

function allowPolicy(extraPrincipal = ''): string {
  const { appHttp, appTcp } = mesh.ports;
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: server-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules:
    - from: [{source: {principals: [${principal('client')}${extraPrincipal && `, ${extraPrincipal}`}]}}]
      to: [{operation: {methods: [GET], paths: ["/api/*"], ports: ["${appHttp}"]}}]
    - from: [{source: {principals: [${principal('client')}]}}]
      to: [{operation: {ports: ["${appTcp}"]}}]
    - from: [{source: {ipBlocks: [${ADDR.legacy}]}}]
      to: [{operation: {paths: [/public], ports: ["${appHttp}"]}}]
    - from: [{source: {principals: [${principal('intruder')}]}}]
      to: [{operation: {paths: ["/api/*"]}}]
      when: [{key: "request.headers[x-user]", values: [alice]}]
`;
}

function denyPolicies(): string {
  const { appHttp } = mesh.ports;
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: server-deny, namespace: shop}
spec:
  selector: {matchLabels: {app: server}}
  action: DENY
  rules:
    - to: [{operation: {paths: ["/api/secret*"], ports: ["${appHttp}"]}}]
    - from: [{source: {ipBlocks: [${ADDR.intruder}]}}]
      to: [{operation: {paths: [/api/by-ip], ports: ["${appHttp}"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: server-dry-run, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec:
  selector: {matchLabels: {app: server}}
  action: DENY
  rules: [{to: [{operation: {paths: [/api/dry], ports: ["${appHttp}"]}}]}]
`;
}

type Caller = 'client' | 'intruder' | 'legacy' | 'outsider';
interface Case {
  caller: Caller;
  port: 'http' | 'tcp';
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

/** What the real mesh did: ALLOW (200 / echo), DENY (403 / closed), or the connection failed. */
async function send(c: Case): Promise<'ALLOW' | 'DENY'> {
  if (c.port === 'tcp') {
    const port = c.caller === 'client' ? mesh.ports.clientOutTcp : mesh.ports.intruderOutTcp;
    try {
      await tcpEchoRoundTrip({ host: '127.0.0.1', port, payload: 'ping', timeoutMs: 3000 });
      return 'ALLOW';
    } catch {
      return 'DENY';
    }
  }
  const path = c.path ?? '/';
  const url =
    c.caller === 'client'
      ? `http://127.0.0.1:${mesh.ports.clientOutHttp}${path}`
      : c.caller === 'intruder'
        ? `http://127.0.0.1:${mesh.ports.intruderOutHttp}${path}`
        : `http://${ADDR.server}:${mesh.ports.serverHttp}${path}`;
  const localAddress = c.caller === 'legacy' ? ADDR.legacy : c.caller === 'outsider' ? '127.0.0.25' : undefined;
  try {
    const res = await httpGet(url, { method: c.method ?? 'GET', ...(c.headers && { headers: c.headers }), ...(localAddress && { localAddress }) });
    if (res.status === 403) expect(res.body).toContain('RBAC: access denied');
    else expect(res.status).toBe(200);
    return res.status === 200 ? 'ALLOW' : 'DENY';
  } catch {
    return 'DENY'; // refused before any HTTP: STRICT and a plaintext caller
  }
}

async function explained(c: Case) {
  const { model } = await loadModelDir(mesh.configDir);
  const from: ExplainCaller =
    c.caller === 'legacy' ? { plaintextIp: ADDR.legacy } : c.caller === 'outsider' ? { plaintextIp: '127.0.0.25' } : { workload: `shop/${c.caller}-1` };
  return explain(model!, {
    from,
    to: 'shop/server-1',
    port: c.port === 'http' ? 'http-api' : 'tcp-echo',
    ...(c.method && { method: c.method }),
    ...(c.path && { path: c.path }),
    ...(c.headers && { headers: c.headers }),
  });
}

beforeAll(async () => {
  mesh = await startLocalMesh('STRICT', { intruder: true });
  mesh.writeConfig('authz-allow.yaml', allowPolicy());
  mesh.writeConfig('authz-deny.yaml', denyPolicies());
  // Applied once the client's POST, allowed before, is refused.
  await waitFor(async () => (await send({ caller: 'client', port: 'http', method: 'POST', path: '/api/x' })) === 'DENY', { what: 'policies applied' });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
});

describe('ALLOW GET /api/* from one service account', () => {
  it('the allowed caller: 200 on GET /api/x; 403 on POST /api/x and GET /admin', async () => {
    expect(await send({ caller: 'client', port: 'http', path: '/api/x' })).toBe('ALLOW');
    expect(await send({ caller: 'client', port: 'http', method: 'POST', path: '/api/x' })).toBe('DENY');
    expect(await send({ caller: 'client', port: 'http', path: '/admin' })).toBe('DENY');
  });

  it('another meshed caller: 403', async () => {
    const res = await httpGet(`http://127.0.0.1:${mesh.ports.intruderOutHttp}/api/x`);
    expect(res.status).toBe(403);
    expect(res.body).toBe('RBAC: access denied');
  });

  it('a DENY policy overrides the ALLOW', async () => {
    expect(await send({ caller: 'client', port: 'http', path: '/api/secret' })).toBe('DENY');
  });

  it('TCP: the allowed principal gets its echo; another caller is cut off', async () => {
    expect(await tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.clientOutTcp, payload: 'hello', timeoutMs: 3000 })).toBe('hello');
    await expect(tcpEchoRoundTrip({ host: '127.0.0.1', port: mesh.ports.intruderOutTcp, payload: 'hello', timeoutMs: 3000 })).rejects.toThrow(/closed|reset|ECONNRESET/);
  });

  it("the server's Envoy carries the policies under their Istio names, on both filter chains' terms", async () => {
    const dump = await mesh.server.admin('/config_dump?resource=dynamic_listeners');
    expect(dump).toContain('ns[shop]-policy[server-allow]-rule[0]');
    expect(dump).toContain('ns[shop]-policy[server-deny]-rule[0]');
    expect(dump).toContain('envoy.filters.network.rbac');
  });
});

describe('dry run', () => {
  it('a dry-run DENY lets the request through and Envoy counts the would-be denial', async () => {
    const before = await shadowDenied();
    expect(await send({ caller: 'client', port: 'http', path: '/api/dry' })).toBe('ALLOW');
    await waitFor(async () => (await shadowDenied()) === before + 1, { what: 'istio_dry_run_deny_shadow_denied to count the request' });
  });
});

/** Sum of the dry-run DENY filter's shadow_denied counters on the server sidecar. */
async function shadowDenied(): Promise<number> {
  const stats = await mesh.server.stats('istio_dry_run_deny_.shadow_denied');
  expect(stats.size).toBeGreaterThan(0);
  return [...stats.values()].reduce((a, b) => a + b, 0);
}

describe('explain agrees with Envoy', () => {
  const STRICT_CASES: [string, Case][] = [
    ['client GET /api/x', { caller: 'client', port: 'http', path: '/api/x' }],
    ['client POST /api/x', { caller: 'client', port: 'http', method: 'POST', path: '/api/x' }],
    ['client GET /admin', { caller: 'client', port: 'http', path: '/admin' }],
    ['client GET /api/../admin (normalised to /admin)', { caller: 'client', port: 'http', path: '/api/../admin' }],
    ['client GET /api/secret (DENY)', { caller: 'client', port: 'http', path: '/api/secret' }],
    ['client GET /api/dry (dry-run DENY)', { caller: 'client', port: 'http', path: '/api/dry' }],
    ['client GET /api/by-ip', { caller: 'client', port: 'http', path: '/api/by-ip' }],
    ['intruder GET /api/x', { caller: 'intruder', port: 'http', path: '/api/x' }],
    ['intruder GET /api/x with x-user: alice', { caller: 'intruder', port: 'http', path: '/api/x', headers: { 'x-user': 'alice' } }],
    ['intruder GET /api/by-ip with x-user: alice (DENY on its source address)', { caller: 'intruder', port: 'http', path: '/api/by-ip', headers: { 'x-user': 'alice' } }],
    ['legacy plaintext GET /public under STRICT', { caller: 'legacy', port: 'http', path: '/public' }],
    ['client TCP', { caller: 'client', port: 'tcp' }],
    ['intruder TCP', { caller: 'intruder', port: 'tcp' }],
  ];
  const PERMISSIVE_CASES: [string, Case][] = [
    ['legacy plaintext GET /public (ipBlocks)', { caller: 'legacy', port: 'http', path: '/public' }],
    ['legacy plaintext GET /api/x (no identity)', { caller: 'legacy', port: 'http', path: '/api/x' }],
    ['another plaintext address GET /public', { caller: 'outsider', port: 'http', path: '/public' }],
    ['client GET /api/x still over mTLS', { caller: 'client', port: 'http', path: '/api/x' }],
  ];

  it.each(STRICT_CASES)('STRICT: %s', async (_name, c) => {
    const e = await explained(c);
    expect({ real: await send(c), explain: e.decision }).toEqual({ real: e.decision, explain: e.decision });
  });

  describe('PERMISSIVE', () => {
    beforeAll(async () => {
      mesh.setMode('PERMISSIVE');
      await waitFor(async () => (await send({ caller: 'legacy', port: 'http', path: '/public' })) === 'ALLOW', { what: 'PERMISSIVE applied' });
    });
    afterAll(async () => {
      mesh.setMode('STRICT');
      await waitFor(async () => (await send({ caller: 'legacy', port: 'http', path: '/public' })) === 'DENY', { what: 'STRICT back' });
    });

    it.each(PERMISSIVE_CASES)('%s', async (_name, c) => {
      const e = await explained(c);
      expect({ real: await send(c), explain: e.decision }).toEqual({ real: e.decision, explain: e.decision });
    });
  });

  it('the CLI prints the same decision with the deciding policy and rule', async () => {
    const args = ['explain', '--config', mesh.configDir, '--from', 'shop/client-1', '--to', `shop/server-1:${mesh.ports.appHttp}`, '--method', 'POST', '--path', '/api/x'];
    const text = (await promisify(execFile)(process.execPath, [MESHPLANE, ...args])).stdout;
    expect(text).toMatch(/^mTLS\s+STRICT on port \d+ \(namespace policy shop\/default\); caller sends mTLS/m);
    expect(text).toMatch(/^decision\s+DENY: ALLOW policies apply and none of their rules matched: denied$/m);
    const json = JSON.parse((await promisify(execFile)(process.execPath, [MESHPLANE, ...args, '--method', 'GET', '--output', 'json'])).stdout);
    expect(json).toMatchObject({ decision: 'ALLOW', decidedBy: { stage: 'authorization', action: 'ALLOW', policy: 'shop/server-allow', rule: 0, envoyPolicy: 'ns[shop]-policy[server-allow]-rule[0]' } });
  });
});

describe('live policy change', () => {
  it('allowing the intruder in the policy file takes effect without a restart', async () => {
    const pid = mesh.server.pid;
    expect(await send({ caller: 'intruder', port: 'http', path: '/api/x' })).toBe('DENY');
    const start = Date.now();
    mesh.writeConfig('authz-allow.yaml', allowPolicy(principal('intruder')));
    await waitFor(async () => (await send({ caller: 'intruder', port: 'http', path: '/api/x' })) === 'ALLOW', { what: 'the new ALLOW to apply', intervalMs: 50 });
    // The intruder's sidecar reuses its pooled connection, whose filter chain Envoy drains within
    // --drain-time-s (1 s here); a new connection gets the new policy as soon as LDS is applied.
    console.log(`policy file write -> new decision on a reused connection: ${Date.now() - start} ms`);
    expect(mesh.server.pid).toBe(pid);
  });
});

describe('across all of it', () => {
  it("no Envoy rejected an update (LDS, CDS, SDS)", async () => {
    for (const envoy of [mesh.client, mesh.server, mesh.intruder!]) {
      for (const [name, value] of await envoy.stats('update_rejected')) expect({ envoy: envoy.name, name, value }).toEqual({ envoy: envoy.name, name, value: 0 });
    }
  });
});
