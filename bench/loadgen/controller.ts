/**
 * The scenarios' handle on the load generator: a separate Node process (so its CPU is its own and
 * can be reported), started with tsx and driven over IPC. Every method is one command of protocol.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killOnExit } from '../lib/child-processes.ts';
import type { CommandName, Commands, ConnectOptions, ConnectResult, ConvergeQuery, ConvergeResult, LoadgenUsage, ReceivedSince, ReplyMessage, XdsType } from './protocol.ts';

export type { ConnectResult, ConvergeResult, LoadgenUsage, ReceivedSince, Transport, XdsType } from './protocol.ts';

export class LoadGenerator {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;
  #exited: string | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: ReplyMessage) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`load generator: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      this.#exited = `load generator exited (${signal ?? code})`;
      for (const p of this.#pending.values()) p.reject(new Error(this.#exited));
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  connect(opts: ConnectOptions): Promise<ConnectResult> {
    return this.#call('connect', opts);
  }
  reconnect(nodeIds?: string[], timeoutMs?: number): Promise<ConnectResult> {
    return this.#call('reconnect', { nodeIds, timeoutMs });
  }
  /** NACK the next response of `type` to each of `nodeIds`; resolves with how many were armed. */
  async nack(nodeIds: string[], type: XdsType): Promise<number> {
    return (await this.#call('nack', { nodeIds, type })).armed;
  }
  /** Per node: ms from `since` to the ACK of the last response of the push (see ConvergeQuery). */
  converged(q: ConvergeQuery): Promise<ConvergeResult> {
    return this.#call('converged', q);
  }
  received(since: number, nodeIds?: string[]): Promise<ReceivedSince> {
    return this.#call('received', { since, nodeIds });
  }
  async disconnect(timeoutMs?: number): Promise<number> {
    return (await this.#call('disconnect', { timeoutMs })).closed;
  }
  usage(): Promise<LoadgenUsage> {
    return this.#call('usage', {});
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.disconnect(); // the child exits when its IPC channel closes
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  #call<C extends CommandName>(command: C, arg: Commands[C][0]): Promise<Commands[C][1]> {
    if (this.#exited) return Promise.reject(new Error(this.#exited));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, command, arg });
    });
  }

  /** Forks the load generator and resolves once it is ready for commands. */
  static async start(): Promise<LoadGenerator> {
    const child = fork(join(import.meta.dirname, 'loadgen-main.ts'), [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    killOnExit(child);
    const lg = new LoadGenerator(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`load generator exited before it was ready (${code})`)));
    });
    return lg;
  }
}

/** Starts the load generator (the controller API the scenarios use). */
export const startLoadGenerator = (): Promise<LoadGenerator> => LoadGenerator.start();
