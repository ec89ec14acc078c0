/**
 * What grpc-js does with a broken request before any handler sees it, made visible to the streams:
 * - an undecodable message: grpc-js would answer INTERNAL "Error deserializing request" and the
 *   handler would only see a cancellation. The request decoder is wrapped instead, so the stream
 *   receives a {@link MalformedRequest} and closes itself with INVALID_ARGUMENT, a log line and a count.
 * - a message over grpc.max_receive_message_length (or one that does not decompress): grpc-js sends
 *   RESOURCE_EXHAUSTED (INTERNAL, UNIMPLEMENTED) itself, from its innermost call object, bypassing
 *   interceptors; the handler again sees only 'cancelled'. {@link statusWatchInterceptor} wraps that
 *   call object's sendStatus to record such a status, so the stream can name the reason when it closes.
 *   This relies on grpc-js calling `this.sendStatus` internally (true of 1.14); the hostile-client
 *   tests fail if an upgrade changes it.
 */
import * as grpc from '@grpc/grpc-js';

/** Stands in for a request whose bytes did not decode. */
export class MalformedRequest {
  constructor(
    readonly error: string,
    readonly bytes: number,
  ) {}
}

/** The service definition with each request decoder returning a {@link MalformedRequest} instead of throwing. */
export function guardRequestDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          // Includes protobufjs's "maximum nesting depth exceeded" (100 levels, as protoc) for absurd node.metadata.
          return new MalformedRequest(err instanceof Error ? err.message : String(err), bytes.length);
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

/** A status grpc-js sent on its own for a call, if any. */
export interface GrpcSentStatus {
  code: grpc.status;
  details: string;
}

/** Per call (keyed by the metadata object the handler receives): the status grpc-js sent by itself. */
const watches = new WeakMap<grpc.Metadata, { sent?: GrpcSentStatus }>();

/** The status grpc-js itself closed this call with (oversized, undecompressable), or undefined. */
export function grpcSentStatus(metadata: grpc.Metadata): GrpcSentStatus | undefined {
  return watches.get(metadata)?.sent;
}

/**
 * A server interceptor (put it first: it must wrap grpc-js's own call object) that records the status
 * grpc-js sends by itself, telling it apart from the ones the handler sends through the interceptor chain.
 */
export const statusWatchInterceptor: grpc.ServerInterceptor = (_method, call) => {
  const watch: { sent?: GrpcSentStatus; byHandler?: boolean } = {};
  const inner = call.sendStatus.bind(call);
  call.sendStatus = (status) => {
    if (!watch.byHandler) watch.sent ??= { code: status.code, details: status.details };
    inner(status);
  };
  return new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMetadata: (metadata, nextMetadata) => {
          watches.set(metadata, watch);
          nextMetadata(metadata);
        },
      }),
    sendStatus: (status, next) => {
      watch.byHandler = true;
      next(status);
    },
  });
};
