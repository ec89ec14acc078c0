/**
 * What the scenarios (controller.ts) and the load generator process (loadgen-main.ts) say to each
 * other over IPC: one request per command, answered once with its result or an error. Times are
 * epoch milliseconds (Date.now()) on both sides: one machine, one clock.
 */

export type Transport = 'sotw' | 'delta';
/** The xDS types the simulated Envoys take part in (EDS/RDS only if a server sends them). */
export type XdsType = 'LDS' | 'CDS' | 'SDS' | 'EDS' | 'RDS';

export interface ConnectOptions {
  /** `host:port` of the ADS server (plaintext). */
  address: string;
  nodeIds: string[];
  transport: Transport;
  /** Streams per grpc-js channel (= per HTTP/2 connection); default 100. */
  streamsPerChannel?: number;
  /** Streams opened but not yet held at any moment (a fleet does not all start in one tick); default 1000. */
  maxPending?: number;
  /** Give up on streams not held by then; default 300 s. */
  timeoutMs?: number;
}

/** How a connect or reconnect went. */
export interface ConnectResult {
  held: number;
  failed: number;
  /** From the first stream opened to the last one held. */
  ms: number;
  /** First few failure reasons, for the notes. */
  errors: string[];
}

export interface ConvergeQuery {
  /** Responses received at or after this epoch ms count. */
  since: number;
  /** Each node must have received a response of every one of these types after `since`. */
  require: XdsType[];
  /** Only these nodes (default: all connected). */
  nodeIds?: string[];
  timeoutMs: number;
  /** After all required types arrived, wait this long for other types of the same push (CDS with LDS); default 0. */
  settleMs?: number;
}

export interface ConvergeResult {
  /** Node id -> ms from `since` to the ACK of the last response it received after `since` (so the push it belongs to is complete). */
  latencyMs: Record<string, number>;
  /** Nodes that did not get every required type before the timeout. */
  missing: string[];
  /** Nodes that NACKed something after `since`. */
  nacked: string[];
}

/** What arrived after `since`, per node. */
export interface ReceivedSince {
  /** Node id -> types received after `since` (nodes with nothing are absent). */
  byNode: Record<string, XdsType[]>;
  /** Per type: responses, serialized bytes (whole messages, and of the resources alone), resources and removals carried. */
  byType: Partial<Record<XdsType, { responses: number; bytes: number; payloadBytes: number; resources: number; removed: number }>>;
  /** Node id -> bytes received after `since` (whole messages, all types). */
  bytesByNode: Record<string, number>;
  /** Node id -> bytes of the resources alone (their Any messages) received after `since`. */
  payloadBytesByNode: Record<string, number>;
  /** Node id -> resources carried after `since` (all types; SotW: every resource of each response). */
  resourcesByNode: Record<string, number>;
}

export interface LoadgenUsage {
  /** CPU (user + system) since the process started. */
  cpuSeconds: number;
  wallSeconds: number;
  rssBytes: number;
  streams: number;
}

/** Command name -> [argument, result]. */
export interface Commands {
  connect: [ConnectOptions, ConnectResult];
  /** Reopens the streams of these nodes (default all), SotW with the versions they hold, Delta with initial_resource_versions. */
  reconnect: [{ nodeIds?: string[]; timeoutMs?: number }, ConnectResult];
  /** The next response of `type` to each of these nodes is NACKed instead of ACKed. */
  nack: [{ nodeIds: string[]; type: XdsType }, { armed: number }];
  converged: [ConvergeQuery, ConvergeResult];
  received: [{ since: number; nodeIds?: string[] }, ReceivedSince];
  /** Ends every stream (client half-close and cancel); resolves when they have all ended. */
  disconnect: [{ timeoutMs?: number }, { closed: number }];
  usage: [Record<string, never>, LoadgenUsage];
}

export type CommandName = keyof Commands;

export interface RequestMessage<C extends CommandName = CommandName> {
  id: number;
  command: C;
  arg: Commands[C][0];
}

export type ReplyMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
