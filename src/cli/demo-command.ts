import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  startBackend,
  startBackendEcho,
  startFrontend,
  startLegacyClient,
  startTelemetrySink,
  type SampleApp,
} from '../../examples/demo/apps.ts';
import { ControlPlane } from '../control-plane.ts';
import { loadModelDir } from '../model/load-model.ts';
import { qualifiedName } from '../model/types.ts';
import { hasEnvoy } from '../plan/build-proxy-plans.ts';
import { optional, type ArgValues } from './args.ts';
import { renderBootstrap } from './bootstrap-command.ts';
import { envoyBinary, projectRoot, spawnLocalEnvoy } from './local-envoy.ts';
import { createLogger } from './logger.ts';

const CONFIG_DIR = join(projectRoot, 'examples/demo');
const XDS = { host: '127.0.0.1', port: 15012 };
const ADMIN = '127.0.0.1:15014';
const CSDS = '127.0.0.1:15010';
const FIRST_ENVOY_ADMIN_PORT = 15000;
/** How long an Envoy gets to exit after SIGTERM before it is killed. */
const ENVOY_STOP_MS = 5000;
const ENVOY_READY_MS = 60_000;

/**
 * The local mesh in one command: the control plane on examples/demo, the sample apps (a frontend,
 * a backend with an HTTP and a TCP port, an external telemetry collector, a sidecar-less legacy
 * client) and one Envoy per sidecar workload. Runs until Ctrl-C, then stops everything it started
 * and waits for it to be gone.
 */
export async function demoCommand(values: ArgValues): Promise<number> {
  const stateDir = optional(values, 'state-dir', join(projectRoot, '.state/demo'));
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const logger = createLogger(values['log-level']);
  const envoy = envoyBinary();

  // Whatever started is stopped again, also when a later step fails (say, a port already in use).
  const cleanups: (() => unknown)[] = [];
  try {
    const telemetry = await startTelemetrySink();
    cleanups.push(() => {
      console.log(`telemetry collector received ${telemetry.received()} event(s) from the frontend`);
      return telemetry.close();
    });
    const apps: SampleApp[] = await Promise.all([startBackend(), startBackendEcho(), startFrontend()]);
    cleanups.push(() => Promise.all(apps.map((a) => a.close())));
    const cp = await ControlPlane.start({ configDir: CONFIG_DIR, stateDir, xdsAddress: `${XDS.host}:${XDS.port}`, adminAddress: ADMIN, csdsAddress: CSDS, insecureXds: false, logger });
    cleanups.push(() => cp.stop());

    const { model } = await loadModelDir(CONFIG_DIR);
    const sidecars = model!.workloads.filter(hasEnvoy); // proxyless apps are their own xDS client
    const envoys = await Promise.all(
      sidecars.map(async (workload, i) => {
        const adminPort = FIRST_ENVOY_ADMIN_PORT + i;
        const bootstrapYaml = await renderBootstrap({ model: model!, workload, stateDir, xds: XDS, adminPort });
        const name = qualifiedName(workload.metadata);
        const child = spawnLocalEnvoy({ envoy, name, bootstrapYaml, dir: stateDir });
        cleanups.push(() => stopChild(child));
        child.on('exit', (code) => code !== null && code !== 0 && logger.error({ envoy: name, code, log: join(stateDir, `${name}.log`) }, 'envoy exited'));
        return { name, adminPort };
      }),
    );
    // What the banner offers must work when it shows: wait until every Envoy has its first config.
    await Promise.all(envoys.map((e) => waitUntilReady(e.name, e.adminPort)));
    const legacy = startLegacyClient((outcome) => logger.info({ app: 'legacy-1' }, outcome));
    cleanups.push(() => legacy.close());

    console.log(banner(relative(process.cwd(), CONFIG_DIR) || '.', relative(process.cwd(), stateDir) || '.', envoys));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
  return 0;
}

/** What to try: every command here is run by test/e2e/npm-start.e2e.test.ts from a fresh clone. */
function banner(config: string, state: string, envoys: { name: string; adminPort: number }[]): string {
  return `
meshplane demo is up: PERMISSIVE mesh, config ${config}/ (edit it live), state ${state}/

  frontend -> backend over mTLS (you are the frontend app, calling its sidecar):
    curl -s http://127.0.0.1:19001/api/orders
  denied by authorization-policy.yaml (DELETE is not allowed):
    curl -s -X DELETE http://127.0.0.1:19001/api/orders/1
  the frontend app itself, through its own sidecar (it calls the backend and the telemetry collector):
    curl -s http://127.0.0.12:18080/
  TCP through the mesh:
    node -e "const s=require('net').connect(19002,'127.0.0.1',()=>s.end('hello\\\\n'));s.pipe(process.stdout)"
  legacy-1 (no sidecar) calls the backend in plaintext every 2 s; its results are logged here.

  who would break under STRICT?   ./bin/meshplane advise strict --namespace shop
  then make it STRICT:            edit ${config}/peer-authentication.yaml (PERMISSIVE -> STRICT)
  why a call is allowed or not:   ./bin/meshplane explain --config ${config} --from shop/frontend-1 --to shop/backend-1:8080 --method DELETE
  proxies and their config:       ./bin/meshplane status
  control plane admin:            curl -s http://${ADMIN}/debug/edges   (also /debug/proxies, /debug/plugins, /metrics)
  Envoy admin:                    ${envoys.map((e) => `${e.name} http://127.0.0.1:${e.adminPort}/`).join('  ')}

Ctrl-C stops everything.`;
}

/** Envoy's /ready says LIVE once its listeners and clusters from the control plane are in place. */
async function waitUntilReady(name: string, adminPort: number): Promise<void> {
  const deadline = Date.now() + ENVOY_READY_MS;
  while (Date.now() < deadline) {
    const live = await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.ok, () => false);
    if (live) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`envoy ${name} was not ready within ${ENVOY_READY_MS / 1000} s; see its log in the state dir`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ENVOY_STOP_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
