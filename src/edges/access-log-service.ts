/**
 * The receiving end of the connection reports: Envoy's gRPC access log service
 * (`envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs`), served on the xDS port. Each
 * sidecar streams the entries of its inbound listeners (edge-reporting.ts in translate); the first
 * message names the node and the log, and the stream speaks for that node only if its xDS client
 * certificate says so. Entries are folded into the {@link EdgeStore}.
 */
import type * as grpc from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { protoType } from '../../protos/envoy-protos.ts';
import { EDGE_LOG } from '../translate/edge-reporting.ts';
import type { EdgeStore } from './edge-store.ts';
import { readAccessLogMessage, type StreamAccessLogsMessage } from './read-access-log.ts';

export const ACCESS_LOG_SERVICE = 'envoy.service.accesslog.v3.AccessLogService';
/** Envoy opens about one stream per worker thread and log; more from one node is a broken or hostile client. */
export const MAX_REPORT_STREAMS_PER_NODE = 16;

/** Counted since start, for /metrics. */
export interface ReportStats {
  /** Requests and connections recorded. */
  reports: number;
  /** Report streams refused: no node or a foreign log in the first message, a certificate for another node, too many streams. */
  rejectedStreams: number;
  /** Report streams open now. */
  openStreams: number;
}

export interface AccessLogServiceOptions {
  store: EdgeStore;
  stats: ReportStats;
  /** Whether a stream with this peer certificate may report for `nodeId` (always true with --insecure-xds). */
  authenticate(nodeId: string, peerCertificate: PeerCertificate | undefined): boolean;
  logger: Logger;
}

type Call = grpc.ServerReadableStream<StreamAccessLogsMessage, Record<string, never>>;

/** The service definition, with messages decoded by the one protobufjs root (keepCase). */
export function accessLogServiceDefinition(): grpc.ServiceDefinition {
  const request = protoType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const response = protoType('envoy.service.accesslog.v3.StreamAccessLogsResponse');
  return {
    StreamAccessLogs: {
      path: `/${ACCESS_LOG_SERVICE}/StreamAccessLogs`,
      requestStream: true,
      responseStream: false,
      requestSerialize: (m: object) => Buffer.from(request.encode(request.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => request.toObject(request.decode(b), { longs: Number, enums: String, arrays: true }),
      responseSerialize: () => Buffer.from(response.encode(response.create({})).finish()),
      responseDeserialize: () => ({}),
      originalName: 'streamAccessLogs',
    },
  } as grpc.ServiceDefinition;
}

/** Connections remembered per report stream to count each once; a connection longer-lived than this many newer ones counts twice. */
const RECENT_IDS = 4096;

/** A bounded set of the most recently added ids. */
class RecentIds {
  readonly #ids = new Set<string>();
  constructor(private readonly max: number) {}
  /** False if `id` is already in the set. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    if (this.#ids.size >= this.max) this.#ids.delete(this.#ids.values().next().value!);
    this.#ids.add(id);
    return true;
  }
}

export function accessLogHandlers(o: AccessLogServiceOptions): grpc.UntypedServiceImplementation {
  const streamsByNode = new Map<string, number>();
  return {
    StreamAccessLogs: (call: Call, callback: grpc.sendUnaryData<Record<string, never>>) => {
      let node: string | undefined;
      let refused = false;
      // A TCP connection is logged when it connects and again when it ends, on the same stream: count it once.
      const counted = new RecentIds(RECENT_IDS);
      let done = false;
      const finish = (err: Partial<grpc.StatusObject> | null) => {
        if (done) return;
        done = true;
        if (node !== undefined) {
          o.stats.openStreams--;
          const left = (streamsByNode.get(node) ?? 1) - 1;
          if (left === 0) streamsByNode.delete(node);
          else streamsByNode.set(node, left);
        }
        if (err && node === undefined) o.stats.rejectedStreams++;
        callback(err, err ? undefined : {});
      };
      call.on('data', (message: StreamAccessLogsMessage) => {
        if (done) return;
        if (node === undefined) {
          const id = message.identifier?.node?.id;
          const logName = message.identifier?.log_name;
          if (!id || (logName !== EDGE_LOG.served && logName !== EDGE_LOG.refused)) {
            o.logger.warn({ peer: call.getPeer(), logName }, 'connection reports rejected: the first message must name the node and a meshplane log');
            return finish({ code: GrpcStatus.INVALID_ARGUMENT, details: 'the first message must carry identifier.node.id and a meshplane log_name' });
          }
          if (!o.authenticate(id, call.getAuthContext()?.sslPeerCertificate)) {
            return finish({ code: GrpcStatus.PERMISSION_DENIED, details: `not allowed to report for ${id}` });
          }
          if ((streamsByNode.get(id) ?? 0) >= MAX_REPORT_STREAMS_PER_NODE) {
            o.logger.warn({ nodeId: id, max: MAX_REPORT_STREAMS_PER_NODE }, 'connection reports rejected: too many report streams for this node');
            return finish({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `at most ${MAX_REPORT_STREAMS_PER_NODE} report streams per node` });
          }
          node = id;
          refused = logName === EDGE_LOG.refused;
          streamsByNode.set(id, (streamsByNode.get(id) ?? 0) + 1);
          o.stats.openStreams++;
        }
        for (const report of readAccessLogMessage(message, refused)) {
          if (report.streamId !== undefined && !counted.add(report.streamId)) continue;
          o.store.record(node, report);
          o.stats.reports++;
        }
      });
      call.on('end', () => finish(null));
      call.on('error', () => finish({ code: GrpcStatus.CANCELLED }));
      call.on('cancelled', () => finish({ code: GrpcStatus.CANCELLED }));
    },
  };
}
