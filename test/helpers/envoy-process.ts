/**
 * Starts a real Envoy on loopback for e2e tests and wraps its admin API. Every start is bounded
 * (ready, early exit, or timeout, each failing with the log tail) and every process is stopped by
 * `stop()`, `stopAll()`, or at the latest when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from './clients.ts';
import { envoyBinary } from './envoy-binary.ts';
import { OutputTail } from './output-tail.ts';
import { trackChild } from './process-registry.ts';
import { waitFor } from './wait-for.ts';

const READY_TIMEOUT_MS = 20_000;
const TERM_GRACE_MS = 3000;
const ADMIN_TIMEOUT_MS = 5000;

export interface StartEnvoyOptions {
  /** Used in file names and error messages. */
  name: string;
  bootstrapYaml: string;
  /** Must match the admin port inside `bootstrapYaml`; readiness is polled there. */
  adminPort: number;
  /** Keep the log (`<logDir>/<name>.log`) here; by default it lives in the temp dir removed on stop. */
  logDir?: string;
  /** Extra Envoy flags, appended after the defaults. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** `ready` (default): wait for /ready = 200, i.e. initial xDS done. `admin`: only for the admin port to answer. */
  waitFor?: 'ready' | 'admin';
}

/** Loose shape of `/config_dump`; tests dig into `configs[i]` by `@type`. */
export interface ConfigDump {
  configs: Array<{ '@type': string } & Record<string, any>>;
}

export interface CertDetail {
  path: string;
  serial_number: string;
  subject_alt_names: Array<Record<string, string>>;
  days_until_expiration: string;
  valid_from: string;
  expiration_time: string;
}

/** `/certs`: one entry per TLS context. */
export interface CertsDump {
  certificates: Array<{ ca_cert?: CertDetail[]; cert_chain?: CertDetail[] }>;
}

export interface EnvoyProcess {
  readonly name: string;
  readonly adminPort: number;
  readonly pid: number;
  readonly bootstrapPath: string;
  readonly logFile: string;
  /** False once the process has exited. */
  readonly running: boolean;
  /** GET an admin path (e.g. `/clusters`); rejects on a non-2xx status. */
  admin(path: string): Promise<string>;
  adminJson<T = unknown>(path: string): Promise<T>;
  /** Numeric counters and gauges from `/stats?filter=<regex>`; histograms and text readouts are skipped. */
  stats(filterRegex?: string): Promise<Map<string, number>>;
  /** One stat by exact name; undefined when Envoy does not have it (yet). */
  stat(name: string): Promise<number | undefined>;
  configDump<T = ConfigDump>(resource?: string, params?: Record<string, string>): Promise<T>;
  certs(): Promise<CertsDump>;
  /** Polls `stat(name)` until `predicate(value)` holds (a missing stat never matches); returns the value. */
  waitForStat(name: string, predicate: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  logTail(lines?: number): string;
  /** SIGTERM, SIGKILL after 3 s; idempotent; resolves once the process is gone. */
  stop(): Promise<void>;
}

const started = new Set<EnvoyProcess>();

/** Stops every Envoy this test process started and has not stopped yet. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((e) => e.stop()));
}

export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const envoy = new EnvoyProcessImpl(opts);
  started.add(envoy);
  try {
    await envoy.waitReady(opts.readyTimeoutMs ?? READY_TIMEOUT_MS, opts.waitFor ?? 'ready');
  } catch (err) {
    envoy.keepFiles = true; // the error names the log file; keep it for reading
    await envoy.stop();
    throw err;
  }
  return envoy;
}

class EnvoyProcessImpl implements EnvoyProcess {
  readonly name: string;
  readonly adminPort: number;
  readonly pid: number;
  readonly bootstrapPath: string;
  readonly logFile: string;
  private readonly workDir: string;
  private readonly child: ChildProcess;
  private readonly output: OutputTail;
  private readonly closed: Promise<void>;
  private exitDescription: string | undefined;
  private spawnError: Error | undefined;
  private stopping: Promise<void> | undefined;
  keepFiles = false;

  constructor({ name, bootstrapYaml, adminPort, logDir, extraArgs = [] }: StartEnvoyOptions) {
    const binary = envoyBinary(); // first, so a missing Envoy throws before any temp file exists
    this.name = name;
    this.adminPort = adminPort;
    this.workDir = mkdtempSync(join(tmpdir(), `meshplane-envoy-${safeName(name)}-`));
    this.bootstrapPath = join(this.workDir, 'bootstrap.yaml');
    writeFileSync(this.bootstrapPath, bootstrapYaml);
    if (logDir) mkdirSync(logDir, { recursive: true });
    this.logFile = join(logDir ?? this.workDir, `${safeName(name)}.log`);
    this.output = new OutputTail(this.logFile);

    const args = ['-c', this.bootstrapPath, '--concurrency', '1', '--use-dynamic-base-id', '--drain-time-s', '1', '--log-level', 'warn', ...extraArgs];
    this.child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.child, () => this.removeWorkDir());
    this.output.attach(this.child.stdout);
    this.output.attach(this.child.stderr);
    // 'close' (not 'exit') so the stdio streams are drained and the tail is complete.
    this.closed = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.spawnError = err;
        this.exitDescription = `failed to spawn: ${err.message}`;
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.exitDescription ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
    });
    this.pid = this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitDescription === undefined;
  }

  async waitReady(timeoutMs: number, until: 'ready' | 'admin'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        await this.closed;
        throw this.failure(`exited before becoming ready (${this.exitDescription})`);
      }
      if (Date.now() >= deadline) throw this.failure(`not ready after ${timeoutMs} ms`);
      try {
        const res = await httpGet(this.adminUrl('/ready'), { timeoutMs: Math.max(200, Math.min(1000, deadline - Date.now())) });
        if (res.status === 200 || until === 'admin') return;
      } catch {
        // admin listener not up yet
      }
      await Promise.race([sleep(100), this.closed]);
    }
  }

  async admin(path: string): Promise<string> {
    const res = await httpGet(this.adminUrl(path), { timeoutMs: ADMIN_TIMEOUT_MS });
    if (res.status < 200 || res.status > 299) {
      throw new Error(`envoy ${this.name}: admin GET ${path} answered ${res.status}: ${res.body.slice(0, 500)}`);
    }
    return res.body;
  }

  async adminJson<T = unknown>(path: string): Promise<T> {
    const body = await this.admin(path);
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new Error(`envoy ${this.name}: admin GET ${path} is not JSON: ${body.slice(0, 200)}`);
    }
  }

  async stats(filterRegex?: string): Promise<Map<string, number>> {
    const body = await this.admin(filterRegex === undefined ? '/stats' : `/stats?filter=${encodeURIComponent(filterRegex)}`);
    const out = new Map<string, number>();
    for (const line of body.split('\n')) {
      // Counters/gauges are `name: 123`; histograms (`P0(...)`) and text readouts (`"..."`) do not match.
      const m = /^(\S+): (-?\d+(?:\.\d+)?)$/.exec(line.trim());
      if (m) out.set(m[1]!, Number(m[2]));
    }
    return out;
  }

  async stat(name: string): Promise<number | undefined> {
    return (await this.stats(`^${escapeRegex(name)}$`)).get(name);
  }

  configDump<T = ConfigDump>(resource?: string, params: Record<string, string> = {}): Promise<T> {
    const query = new URLSearchParams(resource === undefined ? params : { resource, ...params }).toString();
    return this.adminJson<T>(`/config_dump${query ? `?${query}` : ''}`);
  }

  certs(): Promise<CertsDump> {
    return this.adminJson<CertsDump>('/certs');
  }

  async waitForStat(name: string, predicate: (value: number) => boolean, timeoutMs = 15_000): Promise<number> {
    let last: number | undefined;
    return waitFor(
      async () => {
        last = await this.stat(name);
        return last !== undefined && predicate(last) ? { value: last } : undefined;
      },
      { what: `envoy ${this.name} stat ${name} to match`, timeoutMs, intervalMs: 100 },
    )
      .then((r) => r.value)
      .catch((err: Error) => {
        throw new Error(`${err.message} (last value ${String(last)})\n--- ${this.name} log tail ---\n${this.logTail()}`);
      });
  }

  logTail(lines = 60): string {
    return this.output.text(lines);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.running && !this.spawnError) {
      this.child.kill('SIGTERM');
      const exited = await Promise.race([this.closed.then(() => true), sleep(TERM_GRACE_MS, false)]);
      if (!exited) {
        this.child.kill('SIGKILL');
        const killed = await Promise.race([this.closed.then(() => true), sleep(5000, false)]);
        if (!killed) throw new Error(`envoy ${this.name} (pid ${this.pid}) survived SIGKILL for 5 s`);
      }
    }
    await this.output.close();
    started.delete(this);
    if (!this.keepFiles) this.removeWorkDir();
  }

  /** Sync so the process-exit safety net can call it too. */
  private removeWorkDir(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private adminUrl(path: string): string {
    return `http://127.0.0.1:${this.adminPort}${path.startsWith('/') ? path : `/${path}`}`;
  }

  private failure(what: string): Error {
    return new Error(`envoy ${this.name} ${what}; log: ${this.logFile}\n--- log tail ---\n${this.logTail()}`);
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
