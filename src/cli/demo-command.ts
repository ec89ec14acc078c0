import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pino } from 'pino';
import { startHttpApp, startTcpEcho, type SampleApp } from '../../examples/local-mesh/apps.ts';
import { ControlPlane } from '../control-plane.ts';
import { loadModelDir } from '../model/load-model.ts';
import { qualifiedName } from '../model/types.ts';
import { hasEnvoy } from '../plan/build-proxy-plans.ts';
import { optional, type ArgValues } from './args.ts';
import { renderBootstrap } from './bootstrap-command.ts';
import { envoyBinary, projectRoot, spawnLocalEnvoy } from './local-envoy.ts';

const CONFIG_DIR = join(projectRoot, 'examples/local-mesh');
const XDS = { host: '127.0.0.1', port: 15012 };
const ADMIN = '127.0.0.1:15014';
const FIRST_ENVOY_ADMIN_PORT = 15000;

/**
 * The local mesh in one command: the control plane on examples/local-mesh, the sample apps, and
 * one Envoy per sidecar workload. Runs until Ctrl-C and then stops everything it started.
 */
export async function demoCommand(values: ArgValues): Promise<number> {
  const stateDir = optional(values, 'state-dir', join(projectRoot, '.state/demo'));
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const logger = pino({ level: 'info', base: undefined });
  const envoy = envoyBinary();

  // Whatever started is stopped again, also when a later step fails (say, a port already in use).
  const cleanups: (() => unknown)[] = [];
  try {
    const apps: SampleApp[] = await Promise.all([
      startHttpApp('backend', '127.0.0.1', 8080),
      startTcpEcho('backend-echo', '127.0.0.1', 9090),
      startHttpApp('frontend', '127.0.0.1', 8081),
    ]);
    cleanups.push(() => Promise.all(apps.map((a) => a.close())));
    const cp = await ControlPlane.start({
      configDir: CONFIG_DIR,
      stateDir,
      xdsAddress: `${XDS.host}:${XDS.port}`,
      adminAddress: ADMIN,
      insecureXds: false,
      logger,
    });
    cleanups.push(() => cp.stop());

    const { model } = await loadModelDir(CONFIG_DIR);
    const sidecars = model!.workloads.filter(hasEnvoy); // proxyless apps are their own xDS client
    const envoys = await Promise.all(
      sidecars.map(async (workload, i) => {
        const adminPort = FIRST_ENVOY_ADMIN_PORT + i;
        const bootstrapYaml = await renderBootstrap({ model: model!, workload, stateDir, xds: XDS, adminPort });
        const name = qualifiedName(workload.metadata);
        const child = spawnLocalEnvoy({ envoy, name, bootstrapYaml, dir: stateDir });
        cleanups.push(() => child.kill('SIGTERM'));
        child.on('exit', (code) => code !== null && code !== 0 && logger.error(`envoy ${name} exited with ${code}; see ${join(stateDir, `${name}.log`)}`));
        return { name, adminPort };
      }),
    );

    const rel = relative(process.cwd(), CONFIG_DIR) || '.';
    console.log(`
meshplane local mesh is up. Config: ${rel}/ (edit it live), state: ${relative(process.cwd(), stateDir)}/
  frontend sidecar -> backend (mTLS):  curl -s http://127.0.0.1:19001/
  TCP through the mesh:                echo hello | nc -q1 127.0.0.1 19002
  legacy-1, no sidecar (plaintext):    curl -s --interface 127.0.0.13 http://127.0.0.11:18080/   (refused while STRICT)
  denied by authorization-policy.yaml: curl -s -X DELETE http://127.0.0.1:19001/orders/1         (403 RBAC: access denied)
  why:                                 ./bin/meshplane explain --config ${rel} --from shop/frontend-1 --to shop/backend-1:8080 --method DELETE
  proxies:                             ./bin/meshplane status
  Envoy admin:                         ${envoys.map((e) => `${e.name} http://127.0.0.1:${e.adminPort}/`).join(', ')}
  control plane admin:                 http://${ADMIN}/debug/proxies
Ctrl-C stops everything.`);

    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
  return 0;
}
