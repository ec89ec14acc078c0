import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** ENVOY_BIN, or the pinned Envoy that scripts/install-envoy.sh installs (installing it if missing). */
export function localEnvoyBinary(): string {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const out = execFileSync(join(projectRoot, 'scripts/install-envoy.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/**
 * Starts one Envoy for a local mesh: one worker thread and a dynamic base id, so several share a
 * machine; its log goes to `<dir>/<name>.log`.
 */
export function spawnLocalEnvoy(o: { envoy: string; name: string; bootstrapYaml: string; dir: string }): ChildProcess {
  const config = join(o.dir, `${o.name}.bootstrap.yaml`);
  writeFileSync(config, o.bootstrapYaml, { mode: 0o600 });
  const log = createWriteStream(join(o.dir, `${o.name}.log`));
  const child = spawn(o.envoy, ['-c', config, '--concurrency', '1', '--use-dynamic-base-id', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}
