/**
 * `meshplane serve` shuts down gracefully on SIGTERM: it logs 'shutting down', finishes the responses it
 * has already written (also one still stuck behind HTTP/2 flow control because the proxy was not reading),
 * ends every ADS stream with status OK (so Envoy reconnects without treating it as an error), and exits 0.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeProcess, type NodeProcess } from '../helpers/child-process.ts';
import { httpGet } from '../helpers/clients.ts';
import { freePorts } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { adsChannel, RawStream } from './ads-raw-client.ts';
import { CDS, LDS, SDS } from './ads-fixtures.ts';

const MESHPLANE = join(import.meta.dirname, '../../bin/meshplane');
/** Outbound services of the client: 400 listeners make an LDS response (~180 KB) well over the 64 KiB HTTP/2 window. */
const SERVICES = 400;
const NODE = 'client-1.shop';

const dir = mkdtempSync(join(tmpdir(), 'meshplane-sigterm-'));
let proc: NodeProcess | undefined;
let channel: grpc.Client | undefined;
afterAll(async () => {
  channel?.close();
  await proc?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(configDir: string): void {
  mkdirSync(configDir);
  writeFileSync(
    join(configDir, 'mesh.yaml'),
    'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\nspec: {trustDomain: cluster.local, rootNamespace: mesh-system}\n',
  );
  const services = Array.from(
    { length: SERVICES },
    (_, i) => `apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: svc-${i}, namespace: shop}\nspec:\n  ports: [{name: http-api}]\n`,
  );
  writeFileSync(join(configDir, 'services.yaml'), services.join('---\n'));
  const outbound = Array.from({ length: SERVICES }, (_, i) => `    - {service: svc-${i}, port: http-api, listenPort: ${20000 + i}}`).join('\n');
  writeFileSync(
    join(configDir, 'workloads.yaml'),
    `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: client-1, namespace: shop, labels: {app: client}}
spec:
  serviceAccount: client
  address: 127.0.0.21
  outbound:
${outbound}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: server-1, namespace: shop, labels: {app: server}}
spec:
  serviceAccount: server
  address: 127.0.0.22
  inbound:
    - {service: svc-0, port: http-api, listenPort: 18080, targetPort: 8080}
`,
  );
}

describe('meshplane serve on SIGTERM', () => {
  it('finishes in-flight writes, ends ADS streams with OK, logs "shutting down" and exits 0', async () => {
    const configDir = join(dir, 'config');
    writeConfig(configDir);
    const [xdsPort, adminPort] = await freePorts(2);
    proc = await startNodeProcess({
      name: 'meshplane serve',
      args: [
        MESHPLANE, 'serve', '--config', configDir, '--state-dir', join(dir, 'state'), '--insecure-xds',
        '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${adminPort}`, '--csds-address', '127.0.0.1:0',
      ],
      readyLine: /meshplane serving/,
      timeoutMs: 30_000,
    });
    const proxies = async () => (await httpGet(`http://127.0.0.1:${adminPort}/debug/proxies`)).json as { nodeId: string; types: { typeUrl: string; nonceSent?: string }[] }[];

    channel = adsChannel(`127.0.0.1:${xdsPort}`);
    const s = RawStream.sotw(channel);
    s.send({ node: { id: NODE }, type_url: CDS, resource_names: [] });
    s.send({ type_url: SDS, resource_names: [] });
    await s.until(() => s.latest(CDS) !== undefined && s.latest(SDS) !== undefined, 'the first CDS and SDS responses');
    s.ack(s.latest(CDS)!);
    s.ack(s.latest(SDS)!);

    // Stop reading, then ask for the listeners: the server writes the LDS response, which cannot all be delivered.
    s.pause();
    s.send({ type_url: LDS, resource_names: [] });
    const written = await waitFor(
      async () => {
        const me = (await proxies()).find((p) => p.nodeId === NODE);
        const lds = me?.types.find((t) => t.typeUrl === LDS);
        return lds?.nonceSent !== undefined && me!.types.map((t) => Number(t.nonceSent ?? 0));
      },
      { what: 'the server to report the LDS response as sent' },
    );
    const lastNonce = Math.max(...written);
    const receivedAtSignal = s.received.length;

    const signalledAt = Date.now();
    const exited = proc.stop('SIGTERM');
    s.resume();
    const status = await s.status;
    const exit = await exited;
    const shutdownMs = Date.now() - signalledAt;

    expect(exit, proc.logTail()).toEqual({ code: 0, signal: null });
    expect(proc.logTail(), 'the log').toMatch(/"msg":"shutting down"/);
    expect(status.code, `stream status: ${grpc.status[status.code]} ${status.details}`).toBe(grpc.status.OK);
    // Every response the server had written before the signal arrived, in order, the large one complete.
    expect(receivedAtSignal, 'the LDS response was already delivered before SIGTERM: nothing was in flight').toBeLessThan(lastNonce);
    expect(s.received.map((r) => Number(r.nonce))).toEqual(Array.from({ length: lastNonce }, (_, i) => i + 1));
    const lds = s.latest(LDS)!;
    expect(lds.bytes, 'LDS response size').toBeGreaterThan(64 * 1024);
    console.log(`LDS response: ${lds.bytes} bytes; ${s.received.length} responses received, ${receivedAtSignal} of them before SIGTERM; exited ${shutdownMs} ms after SIGTERM`);
  });
});
