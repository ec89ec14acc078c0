/**
 * A test mesh on loopback, built the way a user builds one: a config directory, `meshplane serve`
 * as a child process, bootstraps from `meshplane bootstrap`, real Envoys, tiny apps.
 *
 *   client-1 (sidecar, 127.0.0.21) --outbound--> server-1 (sidecar, 127.0.0.22) --> HTTP app / TCP echo
 *   client-1 --outbound--> legacy-1 (no sidecar, 127.0.0.23, its own HTTP app)
 *   legacy-1 also calls server-1's sidecar port directly, in plaintext.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startHttpApp, startTcpEcho } from '../helpers/apps.ts';
import { startNodeProcess, type NodeProcess } from '../helpers/child-process.ts';
import { startEnvoy, type EnvoyProcess } from '../helpers/envoy-process.ts';
import { freePorts } from '../helpers/ports.ts';

export const MESHPLANE = join(import.meta.dirname, '../../bin/meshplane');
export const ADDR = { client: '127.0.0.21', server: '127.0.0.22', legacy: '127.0.0.23', intruder: '127.0.0.24' } as const;
export const TRUST_DOMAIN = 'e2e.local';

export type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface LocalMesh {
  dir: string;
  configDir: string;
  stateDir: string;
  ports: Record<PortName, number>;
  controlPlane: NodeProcess;
  client: EnvoyProcess;
  server: EnvoyProcess;
  /** A second meshed caller (service account `intruder`), only with `{intruder: true}`. */
  intruder?: EnvoyProcess;
  /** Rewrite the namespace PeerAuthentication (the file a user would edit). */
  setMode(mode: Mode): void;
  writeConfig(file: string, text: string): void;
  startControlPlane(): Promise<NodeProcess>;
  bootstrap(workload: string, extra?: string[]): Promise<string>;
  close(): Promise<void>;
}

const PORT_NAMES = ['xds', 'cpAdmin', 'serverHttp', 'serverTcp', 'appHttp', 'appTcp', 'legacyHttp', 'clientOutHttp', 'clientOutTcp', 'clientOutLegacy', 'clientAdmin', 'serverAdmin', 'spareAdmin', 'intruderOutHttp', 'intruderOutTcp', 'intruderAdmin', 'csds'] as const;
type PortName = (typeof PORT_NAMES)[number];

export interface LocalMeshOptions {
  /** Also run `intruder-1`: a meshed caller with its own sidecar and service account. */
  intruder?: boolean;
  /** Mesh `spec.ca` as YAML flow, e.g. `{workloadCertTTL: 6s}`. */
  meshCa?: string;
  /** Every bootstrap made with `--delta`: the Envoys speak Delta ADS. */
  delta?: boolean;
  /** Plugin module files, each passed to `meshplane serve --plugin`. */
  plugins?: string[];
  /** Mesh `spec.plugins` as YAML flow, e.g. `[{file: /abs/plugin.ts, options: {a: b}}]`. */
  meshPlugins?: string;
  /** `meshplane serve --log-level` (default: serve's own, info). */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

const intruderWorkload = (p: Record<PortName, number>) => `---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: intruder-1, namespace: shop, labels: {app: intruder}}
spec:
  serviceAccount: intruder
  address: ${ADDR.intruder}
  outbound:
    - {service: server, port: http-api, listenPort: ${p.intruderOutHttp}}
    - {service: server, port: tcp-echo, listenPort: ${p.intruderOutTcp}}
`;

function configFiles(p: Record<PortName, number>, options: LocalMeshOptions): Record<string, string> {
  return {
    'mesh.yaml': `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: ${TRUST_DOMAIN}, rootNamespace: mesh-system${options.meshCa ? `, ca: ${options.meshCa}` : ''}${options.meshPlugins ? `, plugins: ${options.meshPlugins}` : ''}}
`,
    'services.yaml': `apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: server, namespace: shop}
spec:
  ports: [{name: http-api}, {name: tcp-echo}]
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: legacy, namespace: shop}
spec:
  ports: [{name: http}]
`,
    'workloads.yaml': `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: server-1, namespace: shop, labels: {app: server}}
spec:
  serviceAccount: server
  address: ${ADDR.server}
  inbound:
    - {service: server, port: http-api, listenPort: ${p.serverHttp}, targetPort: ${p.appHttp}}
    - {service: server, port: tcp-echo, listenPort: ${p.serverTcp}, targetPort: ${p.appTcp}}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: client-1, namespace: shop, labels: {app: client}}
spec:
  serviceAccount: client
  address: ${ADDR.client}
  outbound:
    - {service: server, port: http-api, listenPort: ${p.clientOutHttp}}
    - {service: server, port: tcp-echo, listenPort: ${p.clientOutTcp}}
    - {service: legacy, port: http, listenPort: ${p.clientOutLegacy}}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: legacy-1, namespace: shop, labels: {app: legacy}}
spec:
  address: ${ADDR.legacy}
  sidecar: false
  inbound: [{service: legacy, port: http, listenPort: ${p.legacyHttp}}]
${options.intruder ? intruderWorkload(p) : ''}`,
  };
}

const peerAuthentication = (mode: Mode) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: ${mode}}
`;

export async function startLocalMesh(initialMode: Mode, options: LocalMeshOptions = {}): Promise<LocalMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'meshplane-e2e-'));
  const configDir = join(dir, 'config');
  const stateDir = join(dir, 'state');
  mkdirSync(configDir);
  const ports = Object.fromEntries(PORT_NAMES.map((n, i) => [n, 0] as const)) as Record<PortName, number>;
  (await freePorts(PORT_NAMES.length)).forEach((port, i) => (ports[PORT_NAMES[i]!] = port));

  const writeConfig = (file: string, text: string) => writeFileSync(join(configDir, file), text);
  for (const [file, text] of Object.entries(configFiles(ports, options))) writeConfig(file, text);
  writeConfig('peer-authentication.yaml', peerAuthentication(initialMode));

  const cleanups: (() => Promise<unknown>)[] = [];
  const apps = await Promise.all([
    startHttpApp({ host: '127.0.0.1', port: ports.appHttp, name: 'server' }),
    startTcpEcho({ host: '127.0.0.1', port: ports.appTcp }),
    startHttpApp({ host: ADDR.legacy, port: ports.legacyHttp, name: 'legacy' }),
  ]);
  cleanups.push(() => Promise.all(apps.map((a) => a.close())));

  const startControlPlane = () =>
    startNodeProcess({
      name: 'meshplane serve',
      args: [
        MESHPLANE, 'serve', '--config', configDir, '--state-dir', stateDir, '--xds-address', `127.0.0.1:${ports.xds}`, '--admin-address', `127.0.0.1:${ports.cpAdmin}`,
        // CSDS defaults to a fixed port: parallel test files would collide on it.
        '--csds-address', `127.0.0.1:${ports.csds}`,
        ...(options.plugins ?? []).flatMap((file) => ['--plugin', file]),
        ...(options.logLevel ? ['--log-level', options.logLevel] : []),
      ],
      readyLine: /meshplane serving/,
      logFile: join(dir, 'meshplane.log'),
      timeoutMs: 30_000,
    });
  const bootstrap = async (workload: string, extra: string[] = []) => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      MESHPLANE, 'bootstrap', '--config', configDir, '--state-dir', stateDir, '--workload', workload, '--xds-address', `127.0.0.1:${ports.xds}`,
      ...(options.delta ? ['--delta'] : []), ...extra,
    ]);
    return stdout;
  };

  const mesh: LocalMesh = {
    dir, configDir, stateDir, ports, writeConfig, startControlPlane, bootstrap,
    controlPlane: await startControlPlane(),
    client: undefined as unknown as EnvoyProcess,
    server: undefined as unknown as EnvoyProcess,
    setMode: (mode) => writeConfig('peer-authentication.yaml', peerAuthentication(mode)),
    close: async () => {
      await Promise.allSettled([mesh.client?.stop(), mesh.server?.stop(), mesh.intruder?.stop(), mesh.controlPlane.stop()]);
      for (const c of cleanups) await c();
      if (!process.env.KEEP_E2E) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    [mesh.server, mesh.client] = await Promise.all([
      startEnvoy({ name: 'server-1', adminPort: ports.serverAdmin, bootstrapYaml: await bootstrap('shop/server-1', ['--admin-port', String(ports.serverAdmin)]), logDir: dir }),
      startEnvoy({ name: 'client-1', adminPort: ports.clientAdmin, bootstrapYaml: await bootstrap('shop/client-1', ['--admin-port', String(ports.clientAdmin)]), logDir: dir }),
    ]);
    if (options.intruder) {
      mesh.intruder = await startEnvoy({
        name: 'intruder-1',
        adminPort: ports.intruderAdmin,
        bootstrapYaml: await bootstrap('shop/intruder-1', ['--admin-port', String(ports.intruderAdmin)]),
        logDir: dir,
      });
    }
  } catch (err) {
    await mesh.close();
    throw err;
  }
  return mesh;
}
