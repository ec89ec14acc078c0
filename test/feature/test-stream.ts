/**
 * The client side of one ADS stream in feature tests, whatever the transport: responses decoded and
 * queued, `next()` with a timeout, and the `settle()` barrier for negative assertions — a first
 * request for a fresh probe type URL, which the server always answers at once; it handles a stream's
 * messages in order, so any response it owed us arrives before the probe's answer.
 */
import * as grpc from '@grpc/grpc-js';

export class TestStream<Req extends { type_url?: string }, Res extends { type_url: string }> {
  /** Every response received, in order (probe answers excluded). */
  readonly received: Res[] = [];
  /** Resolves with the final gRPC status of the stream. */
  readonly status: Promise<grpc.StatusObject>;
  protected readonly call: grpc.ClientDuplexStream<Req, unknown>;
  readonly #probePrefix: string;
  readonly #what: string;
  #queue: Res[] = [];
  #waiters: ((r: Res | Error) => void)[] = [];
  #ended: grpc.StatusObject | undefined;
  #probes = 0;

  /** `decode` turns a raw response into `Res`; `what` names the response type in timeouts. */
  constructor(call: grpc.ClientDuplexStream<Req, unknown>, decode: (raw: any) => Res, opts: { probePrefix: string; what: string }) {
    this.call = call;
    this.#probePrefix = opts.probePrefix;
    this.#what = opts.what;
    call.on('data', (raw) => {
      const r = decode(raw);
      if (!r.type_url.startsWith(this.#probePrefix)) {
        this.received.push(r);
        this.onResponse(r);
      }
      const w = this.#waiters.shift();
      if (w) w(r);
      else this.#queue.push(r);
    });
    call.on('error', () => undefined); // the status carries it
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => {
        this.#ended = s;
        for (const w of this.#waiters.splice(0)) w(new Error(`stream ended: ${grpc.status[s.code]} ${s.details}`));
        resolve(s);
      });
    });
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response (probe answers included), or an error after `timeoutMs` or on stream end. */
  next(timeoutMs = 3000): Promise<Res> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(new Error(`stream ended: ${grpc.status[this.#ended.code]} ${this.#ended.details}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${this.#what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Res | Error): void => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends `req` and returns the next response. */
  async request(req: Req): Promise<Res> {
    this.send(req);
    return this.next();
  }

  /** Every response the server sent before answering a fresh probe request (see the file comment). */
  async settle(): Promise<Res[]> {
    const probe = `${this.#probePrefix}${++this.#probes}`;
    this.send({ type_url: probe } as Req);
    const out: Res[] = [];
    for (;;) {
      const r = await this.next();
      if (r.type_url === probe) return out;
      out.push(r);
    }
  }

  /** Half-closes the stream (no more requests). */
  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }

  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  /** Called for each non-probe response, before anyone awaiting it resumes. */
  protected onResponse(_r: Res): void {}
}
