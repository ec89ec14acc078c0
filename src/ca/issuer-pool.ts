/**
 * Certificate issuance off the main thread. A leaf costs ~0.3 ms (leaf-builder.ts; ~5 ms with
 * @peculiar/x509 before it), all of it synchronous: 10,000 due at once would hold the event loop
 * — and with it every xDS push — for seconds. The pool runs issueWorkloadCert (issue.ts, the one
 * profile) in worker threads instead; the main thread only queues requests and posts messages.
 *
 * - Each signer's material (certificate, PKCS#8 key, chain) goes to a worker once, keyed by a hash
 *   of its certificate and chain, not with every request.
 * - Each worker has a few requests in flight; the rest wait in a FIFO queue on the main thread,
 *   so results arrive a few at a time and never flood the event loop.
 * - A worker that dies, or stops responding, fails its in-flight requests with CA_FAILED and is
 *   replaced.
 * - Idle workers do not keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { MeshplaneError } from '../errors.ts';
import type { Authority } from './authority.ts';
import { issueWorkloadCert, type IssuedCert, type WorkloadCertRequest } from './issue.ts';
import { certFromWire, redactPem, signerKeyOf, signerMaterialOf, type FromWorker, type ToWorker } from './issuer-messages.ts';
import { errorText } from './state-files.ts';

export interface CertIssuer {
  /** Same result as issueWorkloadCert(authority, req), issued off the main thread. */
  issue(authority: Authority, req: WorkloadCertRequest): Promise<IssuedCert>;
  /** Requests waiting or in flight. */
  readonly pending: number;
  close(): Promise<void>;
}

export interface IssuerPoolOptions {
  /** Worker threads; default: one per core but one (the main thread keeps a core). */
  workers?: number;
  /** Requests each worker has at once, so it never waits for the main thread between two; default 8. */
  inFlightPerWorker?: number;
  /**
   * A worker with requests in flight that sends nothing for this long is given up on: its
   * requests fail and a new worker takes its place. Default 30 s (an RSA-2048 leaf takes ~0.2 s).
   */
  stallTimeoutMs?: number;
}

export function createIssuerPool(opts: IssuerPoolOptions = {}): CertIssuer {
  return new IssuerPool(opts);
}

/** In-process, for tests and tools that issue a handful. */
export function createInlineIssuer(): CertIssuer {
  let pending = 0;
  let closed = false;
  return {
    async issue(authority, req) {
      if (closed) throw closedError(req.spiffeId);
      pending++;
      try {
        return await issueWorkloadCert(authority, req);
      } finally {
        pending--;
      }
    },
    get pending() {
      return pending;
    },
    async close() {
      closed = true;
    },
  };
}

/** How long a new worker may take to start before the stall check applies to it. */
const STARTUP_ALLOWANCE_MS = 30_000;

/** Signers a worker keeps at once; the least recently used is dropped beyond this. */
const SIGNERS_PER_WORKER = 4;

const WORKER_URL = new URL(`./issuer-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/**
 * The worker's bootstrap, as eval'd code: on Node 20 a Worker cannot start from a .ts file even
 * with tsx's loader in execArgv (the entry bypasses the hooks), so register tsx in the thread,
 * then import the TypeScript worker. Works under `tsx`, bin/meshplane (tsx's register API) and
 * vitest alike, from any working directory.
 */
function workerBootstrap(): string {
  if (!WORKER_URL.endsWith('.ts')) return `import(${JSON.stringify(WORKER_URL)});`;
  // Resolved once: under tsx, import.meta.resolve is a synchronous round trip to its hooks thread.
  bootstrap ??= `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); });`;
  return bootstrap;
}
let bootstrap: string | undefined;

interface Job {
  id: number;
  authority: Authority;
  signer: string;
  req: WorkloadCertRequest;
  resolve: (cert: IssuedCert) => void;
  reject: (err: MeshplaneError) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  inFlight: Map<number, Job>;
  /** Signer key -> last use, for the least-recently-used drop. */
  signers: Map<string, number>;
  /** performance.now() of its last message, or of the request that ended an idle spell. */
  lastHeard: number;
  error?: string;
}

export class IssuerPool implements CertIssuer {
  /** Worker threads the pool keeps. */
  readonly workers: number;
  /** Requests each worker has in flight at most. */
  readonly inFlightPerWorker: number;
  readonly stallTimeoutMs: number;
  readonly #slots = new Set<Slot>();
  #queue: Job[] = [];
  #head = 0;
  #pending = 0;
  #nextId = 1;
  #useClock = 0;
  #refed = true;
  #startFailures = 0;
  #closed = false;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(opts: IssuerPoolOptions = {}) {
    this.workers = opts.workers ?? Math.max(1, availableParallelism() - 1);
    this.inFlightPerWorker = opts.inFlightPerWorker ?? 8;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 30_000;
    for (const [name, value] of [['workers', this.workers], ['inFlightPerWorker', this.inFlightPerWorker], ['stallTimeoutMs', this.stallTimeoutMs]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new MeshplaneError('CA_FAILED', `issuer pool: ${name} must be a positive integer, got ${value}`);
    }
    this.#fill();
    this.#setRef(false);
  }

  get pending(): number {
    return this.#pending;
  }

  issue(authority: Authority, req: WorkloadCertRequest): Promise<IssuedCert> {
    if (this.#closed) return Promise.reject(closedError(req.spiffeId));
    return new Promise<IssuedCert>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, authority, signer: signerKeyOf(authority), req, resolve, reject });
      this.#pending++;
      this.#setRef(true);
      this.#fill();
      this.#pump();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = (job: Job) => job.reject(new MeshplaneError('CA_FAILED', `cannot issue a certificate for ${job.req.spiffeId}: the certificate issuer pool was closed first`));
    for (const job of this.#drainQueue()) closed(job);
    const slots = [...this.#slots];
    this.#slots.clear();
    for (const slot of slots) for (const job of slot.inFlight.values()) closed(job);
    this.#pending = 0;
    this.#setRef(false);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /**
   * Test only: one worker dies of an uncaught exception ('crash'), as a bug would, or stops
   * responding ('hang'), as a deadlock would.
   */
  faultWorkerForTest(fault: 'crash' | 'hang'): void {
    const slot = this.#slots.values().next().value;
    if (!slot) throw new Error('no worker to fault');
    slot.worker.postMessage({ type: fault } satisfies ToWorker);
  }

  /** Starts workers up to the configured count. */
  #fill(): void {
    while (!this.#closed && this.#slots.size < this.workers) this.#spawn();
  }

  #spawn(): void {
    const worker = new Worker(workerBootstrap(), { eval: true });
    const slot: Slot = { worker, ready: false, inFlight: new Map(), signers: new Map(), lastHeard: performance.now() };
    this.#slots.add(slot);
    if (!this.#refed) worker.unref();
    worker.on('message', (msg: FromWorker) => this.#onMessage(slot, msg));
    worker.on('error', (err) => (slot.error = redactPem(errorText(err))));
    worker.on('exit', (code) => this.#onExit(slot, code));
  }

  /** Hands queued requests to workers with room, least loaded first. */
  #pump(): void {
    while (this.#head < this.#queue.length) {
      let best: Slot | undefined;
      for (const slot of this.#slots) {
        if (slot.inFlight.size < this.inFlightPerWorker && (!best || slot.inFlight.size < best.inFlight.size)) best = slot;
      }
      if (!best) return;
      const job = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Job; // let it be collected
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#send(best, job);
    }
  }

  #send(slot: Slot, job: Job): void {
    if (!slot.signers.has(job.signer)) {
      if (slot.signers.size >= SIGNERS_PER_WORKER) {
        const [oldest] = [...slot.signers].reduce((a, b) => (b[1] < a[1] ? b : a));
        slot.signers.delete(oldest);
        slot.worker.postMessage({ type: 'forget', signer: oldest } satisfies ToWorker);
      }
      slot.worker.postMessage({ type: 'signer', signer: job.signer, material: signerMaterialOf(job.authority) } satisfies ToWorker);
    }
    slot.signers.set(job.signer, ++this.#useClock);
    if (slot.inFlight.size === 0) slot.lastHeard = performance.now(); // an idle worker owes nothing
    slot.inFlight.set(job.id, job);
    const { spiffeId, ttlSeconds, keyAlgorithm, now } = job.req;
    const msg: ToWorker = { type: 'issue', id: job.id, signer: job.signer, spiffeId, ttlSeconds, keyAlgorithm };
    if (now !== undefined) msg.nowMs = now.getTime();
    slot.worker.postMessage(msg);
  }

  #onMessage(slot: Slot, msg: FromWorker): void {
    slot.lastHeard = performance.now();
    if (msg.type === 'ready') {
      slot.ready = true;
      this.#startFailures = 0;
      return;
    }
    const job = slot.inFlight.get(msg.id);
    if (!job) return; // closed meanwhile
    slot.inFlight.delete(msg.id);
    this.#settled();
    if (msg.type === 'issued') job.resolve(certFromWire(msg.cert));
    else job.reject(new MeshplaneError('CA_FAILED', redactPem(msg.message)));
    this.#pump();
  }

  #onExit(slot: Slot, code: number): void {
    if (!this.#slots.has(slot)) return; // closed, or given up on: already settled
    this.#lose(slot, slot.error ? `crashed (${slot.error})` : `exited with code ${code}`);
  }

  /** Fails the in-flight requests of a worker that is gone (`how`), and replaces it. */
  #lose(slot: Slot, how: string): void {
    this.#slots.delete(slot);
    for (const job of slot.inFlight.values()) {
      this.#settled();
      job.reject(new MeshplaneError('CA_FAILED', `cannot issue a certificate for ${job.req.spiffeId}: the certificate issuer worker ${how} while issuing it; the pool replaced the worker, retry the request`));
    }
    slot.inFlight.clear();
    if (!slot.ready && (++this.#startFailures >= 3 || ![...this.#slots].some((s) => s.ready))) {
      // It died starting up: a replacement would most likely die the same way, so fail what waits
      // rather than loop; the next issue() starts workers again.
      this.#startFailures = 0;
      for (const job of this.#drainQueue()) {
        this.#settled();
        job.reject(new MeshplaneError('CA_FAILED', `cannot issue a certificate for ${job.req.spiffeId}: the certificate issuer worker ${how} while starting`));
      }
      return;
    }
    this.#fill();
    this.#pump();
  }

  /** Gives up on workers that owe results and have said nothing for stallTimeoutMs. */
  #checkStalls(): void {
    const now = performance.now();
    for (const slot of [...this.#slots]) {
      // Starting (tsx compiles the worker's modules) may take a while on a busy machine.
      const limit = slot.ready ? this.stallTimeoutMs : Math.max(this.stallTimeoutMs, STARTUP_ALLOWANCE_MS);
      if (slot.inFlight.size === 0 || now - slot.lastHeard < limit) continue;
      this.#lose(slot, `stopped responding (nothing for ${((now - slot.lastHeard) / 1000).toFixed(1)} s)`);
      // Not awaited: a thread stuck in native code may never finish terminating.
      slot.worker.terminate().catch(() => undefined);
    }
  }

  #drainQueue(): Job[] {
    const jobs = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return jobs;
  }

  #settled(): void {
    this.#pending--;
    if (this.#pending === 0) this.#setRef(false);
  }

  /** Workers keep the process alive only while there is work; the watchdog runs only then too. */
  #setRef(refed: boolean): void {
    if (this.#refed === refed) return;
    this.#refed = refed;
    clearInterval(this.#watchdog);
    this.#watchdog = refed ? setInterval(() => this.#checkStalls(), Math.max(50, this.stallTimeoutMs / 4)).unref() : undefined;
    for (const slot of this.#slots) {
      if (refed) slot.worker.ref();
      else slot.worker.unref();
    }
  }
}

function closedError(spiffeId: string): MeshplaneError {
  return new MeshplaneError('CA_FAILED', `cannot issue a certificate for ${spiffeId}: the certificate issuer is closed`);
}
