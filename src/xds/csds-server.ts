/**
 * Serves CSDS on its own gRPC server, apart from ADS: ADS is TLS with per-workload tokens, while CSDS
 * is a debugging API for local tools (like the admin HTTP server), so it is plaintext and meant for a
 * loopback address. It never returns private keys (see redact-sensitive.ts), but it does reveal the
 * whole mesh configuration: do not bind it to a public address.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshplaneError } from '../errors.ts';
import {
  buildClientStatusResponse,
  csdsServiceDefinition,
  type ClientStatusRequestMessage,
  type ClientStatusResponseMessage,
} from './csds-service.ts';
import type { ProxyConfigView } from './proxy-status.ts';

/** How long `close()` lets open CSDS streams finish before forcing the server down. */
const SHUTDOWN_GRACE_MS = 1000;

type StreamCall = grpc.ServerDuplexStream<ClientStatusRequestMessage, ClientStatusResponseMessage>;

export class CsdsServer {
  readonly #server = new grpc.Server();
  readonly #streams = new Set<StreamCall>();
  #closing: Promise<void> | undefined;

  /** `views` is read on every request, so each answer reflects the proxies connected at that moment. */
  constructor(private readonly views: () => ProxyConfigView[]) {
    this.#server.addService(csdsServiceDefinition(), {
      FetchClientStatus: (
        call: grpc.ServerUnaryCall<ClientStatusRequestMessage, ClientStatusResponseMessage>,
        callback: grpc.sendUnaryData<ClientStatusResponseMessage>,
      ) => {
        const answer = this.#answer(call.request);
        if (answer.ok) callback(null, answer.response);
        else callback(answer.error);
      },
      StreamClientStatus: (call: StreamCall) => this.#onStream(call),
    });
  }

  /** Binds `address` (`host:port`; port 0 picks a free one); resolves with the bound port. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new Error(`cannot listen for CSDS on ${address}: ${err.message}`, { cause: err }));
        else resolve(port);
      });
    });
  }

  /** Ends open streams and stops the server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const call of this.#streams) call.end();
      const timer = setTimeout(() => this.#server.forceShutdown(), SHUTDOWN_GRACE_MS);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.#closing;
  }

  /** Answers every request on the stream, in order; an invalid request ends the stream with its error. */
  #onStream(call: StreamCall): void {
    this.#streams.add(call);
    const forget = () => this.#streams.delete(call);
    call.on('data', (request: ClientStatusRequestMessage) => {
      const answer = this.#answer(request);
      if (answer.ok) {
        call.write(answer.response);
      } else {
        forget();
        call.emit('error', answer.error);
      }
    });
    call.on('end', () => {
      forget();
      call.end();
    });
    call.on('error', forget);
    call.on('cancelled', forget);
  }

  #answer(request: ClientStatusRequestMessage): { ok: true; response: ClientStatusResponseMessage } | { ok: false; error: Partial<grpc.StatusObject> } {
    try {
      return { ok: true, response: buildClientStatusResponse(this.views(), request) };
    } catch (err) {
      const invalid = err instanceof MeshplaneError && err.code === 'USAGE';
      const details = invalid ? (err as Error).message : `CSDS failed: ${err instanceof Error ? err.message : String(err)}`;
      return { ok: false, error: { code: invalid ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, details } };
    }
  }
}
