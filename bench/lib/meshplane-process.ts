/**
 * meshplane as the benchmarks run it: `bin/meshplane serve --insecure-xds` in its own process on
 * free ports (port 0; the "meshplane serving" log line says which), its JSON log lines kept with
 * their times so a scenario can wait for "config change applied", and its RSS read from /proc.
 *
 * Extra Node flags for the server (e.g. --cpu-prof) come from MESHPLANE_NODE_ARGS.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { killOnExit, rssOf, stopChild } from './child-processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'meshplane');

export interface LogLine {
  /** Epoch ms from the line's ISO `time`. */
  at: number;
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

export interface MeshplaneProcess {
  pid: number;
  xdsAddress: string;
  adminAddress: string;
  rssBytes(): number;
  /** Log lines so far (info and above), in order. */
  readonly logs: LogLine[];
  /** The first line with `msg` logged at or after `since` (epoch ms); rejects after `timeoutMs`. */
  waitForLog(msg: string, since: number, timeoutMs: number): Promise<LogLine>;
  /** A Prometheus sample from /metrics (first line whose name and labels start with `series`). */
  metric(series: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startMeshplane(opts: { configDir: string; stateDir: string; logLevel?: string; timeoutMs?: number }): Promise<MeshplaneProcess> {
  const nodeArgs = (process.env.MESHPLANE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [
    ...nodeArgs,
    BIN,
    'serve',
    '--insecure-xds',
    ...['--config', opts.configDir, '--state-dir', opts.stateDir],
    ...['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--csds-address', '127.0.0.1:0'],
    ...['--log-level', opts.logLevel ?? 'info'],
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = parseLine(line);
    if (!parsed) return;
    logs.push(parsed);
    for (const w of waiters) w();
  });

  const waitForLog = (msg: string, since: number, timeoutMs: number): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const line = logs.find((l) => l.msg === msg && l.at >= since);
        if (line) {
          cleanup();
          resolve(line);
        } else if (child.exitCode !== null) {
          cleanup();
          reject(new Error(`meshplane exited (${child.exitCode}) before logging "${msg}": ${stderr.join('').slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`meshplane did not log "${msg}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = () => check();
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
      };
      waiters.add(check);
      child.on('exit', onExit);
      check();
    });

  try {
    const serving = await waitForLog('meshplane serving', 0, opts.timeoutMs ?? 600_000);
    const adminAddress = String(serving.fields.admin);
    return {
      pid: child.pid!,
      xdsAddress: String(serving.fields.xds),
      adminAddress,
      rssBytes: () => rssOf(child.pid!),
      logs,
      waitForLog,
      metric: (series) => scrape(adminAddress, series),
      stop: () => stopChild(child),
    };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

function parseLine(line: string): LogLine | undefined {
  try {
    const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
    return { at: Date.parse(String(time)), level: String(level), msg: String(msg), fields };
  } catch {
    return undefined;
  }
}

async function scrape(adminAddress: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${adminAddress}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
