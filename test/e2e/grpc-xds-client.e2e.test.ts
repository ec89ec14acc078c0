import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import type { ProxyStatus } from '../../src/xds/proxy-status.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * An independent xDS client, written by the gRPC team: @grpc/grpc-js-xds (1.14.1) resolves
 * `xds:///grpc.echo.shop` against meshplane and calls a proxyless gRPC server (its XdsServer),
 * through the API listener, route, EDS cluster and endpoints meshplane serves; the server enforces
 * the RBAC filter meshplane translates from an AuthorizationPolicy. No Envoy anywhere.
 *
 *   echo-client.shop (proxyless) --plaintext--> echo-server.shop (proxyless XdsServer, 127.0.0.1:PORT)
 */

// grpc-js-xds registers its RBAC HTTP filter only with this set, read once when it loads
// (src/environment.ts EXPERIMENTAL_RBAC); without it a Listener carrying RBAC is NACKed.
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
type GrpcXds = typeof import('@grpc/grpc-js-xds');

const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config'; // per-instance bootstrap (resolver-xds.ts, server.ts)
const TARGET = 'xds:///grpc.echo.shop';

/** A tiny Echo service, hand-built: JSON messages, so no .proto is needed. */
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const method = (name: string) => ({
  path: `/meshplane.test.Echo/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const ECHO = { Say: method('Say'), Forbidden: method('Forbidden') } satisfies grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo');

const policy = (path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-deny, namespace: shop}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules: [{to: [{operation: {paths: [${path}]}}]}]
`;

let dir: string;
let cp: ControlPlane;
let server: grpc.Server | undefined;
let client: grpc.Client | undefined;
let port: number;

/** The bootstrap `meshplane bootstrap --format grpc` prints for a workload. */
async function bootstrapFor(workload: string): Promise<string> {
  const out = join(dir, `${workload.replace('/', '_')}.json`);
  const args = ['--config', join(dir, 'config'), '--workload', workload, '--format', 'grpc', '--insecure-xds'];
  const code = await main(['bootstrap', ...args, '--xds-address', `127.0.0.1:${cp.xdsPort}`, '--output', out]);
  expect(code).toBe(0);
  return readFileSync(out, 'utf8');
}

function call(name: 'Say' | 'Forbidden'): Promise<{ code: grpc.status; details: string; reply?: unknown }> {
  return new Promise((resolve) => {
    type Unary = (req: unknown, opts: grpc.CallOptions, cb: grpc.requestCallback<unknown>) => void;
    const fn = (client as unknown as Record<string, Unary>)[name]!.bind(client);
    fn({ text: `hello ${name}` }, { deadline: Date.now() + 5000 }, (err, reply) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', reply }),
    );
  });
}

beforeAll(async () => {
  const xds: GrpcXds = await import('@grpc/grpc-js-xds');
  xds.register();
  dir = mkdtempSync(join(tmpdir(), 'meshplane-grpc-xds-'));
  port = await freePort('0.0.0.0'); // grpc-js-xds binds the port on every address
  const config = join(dir, 'config');
  mkdirSync(config);
  writeFileSync(
    join(config, 'mesh.yaml'),
    `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: shop}
spec: {ports: [{name: grpc, protocol: GRPC}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: echo-server, namespace: shop, labels: {app: echo}}
spec:
  serviceAccount: echo
  address: 127.0.0.1
  proxyless: true
  inbound: [{service: echo, port: grpc, listenPort: ${port}}]
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: echo-client, namespace: shop, labels: {app: client}}
spec:
  serviceAccount: client
  address: 127.0.0.2
  proxyless: true
  outbound: [{service: echo, port: grpc}]
`,
  );
  writeFileSync(join(config, 'policy.yaml'), policy('/meshplane.test.Echo/Forbidden'));
  cp = await ControlPlane.start({
    configDir: config,
    stateDir: join(dir, 'state'),
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    csdsAddress: '127.0.0.1:0',
    insecureXds: true, // grpc-js-xds has no TLS channel credentials (see translate/grpc-bootstrap.ts)
    logger: pino({ level: 'silent' }),
  });

  const xdsServer = new xds.XdsServer({ [BOOTSTRAP_OPTION]: await bootstrapFor('shop/echo-server'), drainGraceTimeMs: 100 });
  server = xdsServer;
  xdsServer.addService(ECHO, {
    Say: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { echo: call.request.text }),
    Forbidden: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { echo: 'reached Forbidden' }),
  });
  // The callback fires once the server Listener arrived and the port is serving.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`XdsServer on 127.0.0.1:${port} did not start serving: no valid server Listener`)), 15_000);
    xdsServer.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
  client = new EchoClient(TARGET, grpc.credentials.createInsecure(), { [BOOTSTRAP_OPTION]: await bootstrapFor('shop/echo-client') });
});

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('grpc-js-xds against meshplane', () => {
  it('resolves xds:///grpc.echo.shop and calls the XdsServer: Say is allowed', async () => {
    // The first call waits for LDS -> RDS -> CDS -> EDS and the connection; wait-for-ready is off, so retry.
    const r = await waitFor(async () => {
      const result = await call('Say');
      return result.code === grpc.status.OK && result;
    }, { what: 'Echo/Say to succeed' });
    expect(r).toEqual({ code: grpc.status.OK, details: '', reply: { echo: 'hello Say' } });
  });

  it("the server's RBAC filter denies Echo/Forbidden (DENY policy on its path)", async () => {
    expect(await call('Forbidden')).toEqual({ code: grpc.status.PERMISSION_DENIED, details: 'Unauthorized RPC rejected' });
  });

  it('a policy edit flips the decisions live', async () => {
    writeFileSync(join(dir, 'config', 'policy.yaml'), policy('/meshplane.test.Echo/Say'));
    await waitFor(async () => (await call('Say')).code === grpc.status.PERMISSION_DENIED, { what: 'Echo/Say to be denied after the edit' });
    expect(await call('Forbidden')).toEqual({ code: grpc.status.OK, details: '', reply: { echo: 'reached Forbidden' } });
  });

  it('/debug/proxies lists both apps with every type they asked for ACKed', async () => {
    const proxies = await waitFor(
      async () => {
        const list = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/debug/proxies`)).json()) as ProxyStatus[];
        const synced = (node: string) => {
          const p = list.find((s) => s.nodeId === node);
          return p !== undefined && p.types.length > 0 && p.types.every((t) => t.state === 'SYNCED' && t.versionAcked === t.versionSent);
        };
        return synced('echo-client.shop') && synced('echo-server.shop') && list;
      },
      { what: 'both proxyless nodes SYNCED on /debug/proxies' },
    );
    const types = (node: string) => proxies.find((s) => s.nodeId === node)!.types.map((t) => t.typeUrl).sort();
    // The client walks LDS -> RDS -> CDS -> EDS; the server's route is inline in its Listener.
    expect(types('echo-client.shop')).toEqual([TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route].sort());
    expect(types('echo-server.shop')).toEqual([TYPE_URL.listener]);
    expect(proxies.find((s) => s.nodeId === 'echo-client.shop')!.types.find((t) => t.typeUrl === TYPE_URL.listener)!.subscribed).toEqual(['grpc.echo.shop']);
    expect(proxies.find((s) => s.nodeId === 'echo-server.shop')!.types[0]!.subscribed).toEqual([`meshplane.dev/grpc/lds/inbound/127.0.0.1:${port}`]);
  });
});
