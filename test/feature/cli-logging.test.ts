/**
 * The logs of the long-running commands: JSON lines with the level as a word, an ISO time, a fixed
 * `msg` and structured fields; `--log-level` picks the level, and a bad one is a usage error.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel } from '../../src/cli/logger.ts';
import { MeshplaneError } from '../../src/errors.ts';
import { startNodeProcess, type NodeProcess } from '../helpers/child-process.ts';

const MESHPLANE = join(import.meta.dirname, '../../bin/meshplane');
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const dir = mkdtempSync(join(tmpdir(), 'meshplane-logging-'));
let proc: NodeProcess | undefined;
afterAll(async () => {
  await proc?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MESHPLANE, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('--log-level', () => {
  it('an unknown level is a usage error (exit 2) listing the levels, before anything starts', async () => {
    const { code, stderr } = await run('serve', '--config', dir, '--state-dir', join(dir, 'never-made'), '--log-level', 'bogus');
    expect(code).toBe(2);
    expect(stderr).toContain('meshplane serve: --log-level must be one of trace, debug, info, warn, error, got "bogus"');
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
  });

  it('takes trace|debug|info|warn|error (any case), info by default', () => {
    expect(LOG_LEVELS_ACCEPTED.map((l) => parseLogLevel(l))).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'warn']);
    expect(parseLogLevel(undefined)).toBe('info');
    expect(() => parseLogLevel('silent')).toThrow(MeshplaneError);
  });
});
const LOG_LEVELS_ACCEPTED = ['trace', 'debug', 'info', 'warn', 'error', 'WARN'];

describe('log lines', () => {
  it('are JSON with a string level, an ISO time, the fields apart from a fixed msg; below the level nothing', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.debug('not shown');
    logger.child({ component: 'ads' }).warn({ nodeId: 'backend-1.shop', type: 'LDS', version: 'abc' }, 'proxy rejected (NACKed) an xDS response');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toEqual({
      level: 'warn',
      time: expect.stringMatching(ISO_TIME),
      component: 'ads',
      nodeId: 'backend-1.shop',
      type: 'LDS',
      version: 'abc',
      msg: 'proxy rejected (NACKed) an xDS response',
    });
    expect(Object.keys(line).slice(0, 2)).toEqual(['level', 'time']); // readable as it scrolls by
  });

  it('`meshplane serve` writes only such lines, at the level asked for', { timeout: 60_000 }, async () => {
    const configDir = join(dir, 'config');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'mesh.yaml'), 'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\nspec: {trustDomain: cluster.local}\n');
    proc = await startNodeProcess({
      name: 'meshplane serve',
      args: [
        MESHPLANE, 'serve', '--config', configDir, '--state-dir', join(dir, 'state'), '--log-level', 'info',
        '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--csds-address', '127.0.0.1:0', '--insecure-xds',
      ],
      readyLine: /meshplane serving/,
      timeoutMs: 30_000,
    });
    expect((await proc.stop('SIGTERM')).code).toBe(0);
    const lines = proc.logTail(500).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.level).toMatch(/^(info|warn|error)$/); // nothing below info
      expect(l.time).toMatch(ISO_TIME);
      expect(typeof l.msg).toBe('string');
    }
    expect(lines.find((l) => l.msg === 'meshplane serving')).toMatchObject({ level: 'info', xds: expect.stringMatching(/^127\.0\.0\.1:\d+$/), proxies: 0 });
    expect(lines.find((l) => String(l.msg).startsWith('--insecure-xds'))).toMatchObject({ level: 'warn' });
    expect(lines.find((l) => l.msg === 'ADS server stopped')).toMatchObject({ level: 'info', component: 'ads' });
  });
});
