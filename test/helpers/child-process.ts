/**
 * A long-running child (e.g. `meshplane serve`) for e2e tests: output captured, readiness awaited
 * on a log line, every wait bounded, and the process killed at the latest when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutputTail } from './output-tail.ts';
import { trackChild } from './process-registry.ts';

const KILL_AFTER_MS = 5000;
const DRAIN_MS = 500;

export interface StartNodeProcessOptions {
  /** Used in error messages. */
  name: string;
  args: string[];
  /** Merged over the parent's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Resolve once a stdout/stderr line matches; without it, resolve as soon as the process spawned. */
  readyLine?: RegExp;
  /** Bound for reaching `readyLine` (default 20 s). */
  timeoutMs?: number;
  /** Executable; defaults to the running Node (`process.execPath`), so `args` starts with the script. */
  command?: string;
  cwd?: string;
  /** Tee output to this file as well. */
  logFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  /** The `readyLine` match, e.g. to read a port the child printed. */
  readonly ready: RegExpMatchArray | undefined;
  /** Settles when the process has exited and its output is drained. */
  readonly exited: Promise<ExitInfo>;
  logTail(lines?: number): string;
  /** Resolves with the first line (already printed or later) matching `re`; rejects on exit or timeout. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal`, SIGKILL after 5 s; idempotent; resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

export async function startNodeProcess(opts: StartNodeProcessOptions): Promise<NodeProcess> {
  const proc = new NodeProcessImpl(opts);
  try {
    await proc.spawned;
    if (opts.readyLine) proc.ready = await proc.waitForLine(opts.readyLine, opts.timeoutMs ?? 20_000);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return proc;
}

class NodeProcessImpl implements NodeProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  readonly spawned: Promise<void>;
  ready: RegExpMatchArray | undefined;
  private readonly child: ChildProcess;
  private readonly output: OutputTail;
  private exitInfo: ExitInfo | undefined;
  private stopping: Promise<ExitInfo> | undefined;

  constructor({ name, args, env, command = process.execPath, cwd, logFile }: StartNodeProcessOptions) {
    this.name = name;
    this.output = new OutputTail(logFile);
    this.child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.child);
    this.output.attach(this.child.stdout);
    this.output.attach(this.child.stderr);
    this.pid = this.child.pid ?? -1;
    this.spawned = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', (err) => reject(new Error(`${name}: cannot spawn ${command}: ${err.message}`, { cause: err })));
    });
    this.spawned.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      const done = (): void => {
        void this.output.close();
        resolve(this.exitInfo ?? { code: null, signal: null });
      };
      this.child.once('error', () => {
        this.exitInfo ??= { code: null, signal: null };
        done();
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo ??= { code, signal };
        // 'close' normally follows at once; a grandchild holding the pipes open must not block us.
        setTimeout(done, DRAIN_MS).unref();
      });
      this.child.once('close', done);
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  logTail(lines = 60): string {
    return this.output.text(lines);
  }

  waitForLine(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const seen = this.output.snapshot().map((l) => l.match(re)).find((m) => m !== null);
      if (seen) return resolve(seen);
      let settled = false;
      const finish = (err: Error | undefined, match?: RegExpMatchArray): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        if (err) reject(err);
        else resolve(match!);
      };
      const unsubscribe = this.output.onLine((line) => {
        const m = line.match(re);
        if (m) finish(undefined, m);
      });
      const timer = setTimeout(() => finish(this.failure(`printed no line matching ${re} within ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((info) => finish(this.failure(`exited (${describe(info)}) before printing a line matching ${re}`)));
    });
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> {
    this.stopping ??= this.doStop(signal);
    return this.stopping;
  }

  private async doStop(signal: NodeJS.Signals): Promise<ExitInfo> {
    if (this.running && this.pid > 0) {
      this.child.kill(signal);
      const exited = await Promise.race([this.exited.then(() => true), sleep(KILL_AFTER_MS, false)]);
      if (!exited) {
        this.child.kill('SIGKILL');
        const killed = await Promise.race([this.exited.then(() => true), sleep(5000, false)]);
        if (!killed) throw new Error(`${this.name} (pid ${this.pid}) survived SIGKILL for 5 s`);
      }
    }
    return this.exitInfo ?? { code: null, signal: null };
  }

  private failure(what: string): Error {
    return new Error(`${this.name} ${what}\n--- log tail ---\n${this.logTail()}`);
  }
}

function describe({ code, signal }: ExitInfo): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}
