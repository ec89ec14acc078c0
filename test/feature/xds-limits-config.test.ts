/**
 * The xDS limits are configurable: `meshplane serve` flags (validated before anything starts) and
 * ControlPlaneOptions.xdsLimits reach the ADS server, and its rejections show on the admin /metrics.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { httpGet } from '../helpers/clients.ts';
import { adsChannel, RawStream } from './ads-raw-client.ts';
import { CDS } from './ads-fixtures.ts';

const CONFIG = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: http}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: backend-1, namespace: shop}
spec:
  serviceAccount: backend
  address: 127.0.0.11
  inbound: [{service: backend, port: http, listenPort: 18080, targetPort: 8080}]
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

describe('meshplane serve flags', () => {
  it.each([
    ['--max-xds-streams', 'lots'],
    ['--max-xds-streams-per-node', '0'],
    ['--xds-request-rate', '-5'],
    ['--max-xds-message-bytes', '4MiB'],
  ])('%s %s is a usage error (exit 2) naming the flag, before anything starts', async (flag, value) => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    const code = await main(['serve', '--config', '/nonexistent', '--state-dir', '/nonexistent', `${flag}=${value}`]);
    expect(code).toBe(2);
    expect(errors.join('\n')).toContain(`meshplane serve: ${flag} must be a positive integer, got "${value}"`);
  });

  it('are listed in the usage text with their defaults', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    await main(['--help']);
    const usage = out.join('\n');
    expect(usage).toMatch(/--max-xds-streams\s+xDS streams open at once, all proxies \(default 20000\)/);
    expect(usage).toMatch(/--max-xds-streams-per-node\s+.*\(default 4\)/);
    expect(usage).toMatch(/--xds-request-rate\s+.*\(default 100\)/);
    expect(usage).toMatch(/--max-xds-message-bytes\s+.*\(default 4194304\)/);
  });
});

describe('ControlPlaneOptions.xdsLimits', () => {
  it('reach the ADS server; /metrics counts the rejections by reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshplane-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'mesh.yaml'), CONFIG);
    const cp = await ControlPlane.start({
      configDir: join(dir, 'config'),
      stateDir: join(dir, 'state'),
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      csdsAddress: '127.0.0.1:0',
      insecureXds: true,
      logger: pino({ level: 'silent' }),
      xdsLimits: { maxStreamsPerNode: 1 },
    });
    cleanups.push(() => cp.stop());
    const channel = adsChannel(`127.0.0.1:${cp.xdsPort}`);
    cleanups.push(() => channel.close());

    const first = RawStream.sotw(channel);
    first.send({ node: { id: 'backend-1.shop' }, type_url: CDS, resource_names: [] });
    await first.until(() => first.received.length === 1, 'the first stream to be served');
    const second = RawStream.sotw(channel);
    second.send({ node: { id: 'backend-1.shop' }, type_url: CDS, resource_names: [] });
    const status = await second.status;
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toBe('node "backend-1.shop" already has 1 xDS streams open (the most allowed per node)');

    const metrics = (await httpGet(`http://127.0.0.1:${cp.adminPort}/metrics`)).body;
    expect(metrics).toMatch(/^meshplane_xds_rejected_total\{reason="too_many_streams_for_node"\} 1$/m);
    expect(metrics).toMatch(/^meshplane_xds_rejected_total\{reason="oversized"\} 0$/m);
    expect(metrics).toMatch(/^# TYPE meshplane_xds_rejected_total counter$/m);
    first.cancel();
  });
});
