/**
 * Client Status Discovery Service (`envoy.service.status.v3.ClientStatusDiscoveryService`): what each
 * connected proxy was sent and whether it ACKed it, from the management server's view (as istiod serves
 * it). The service definition is built by hand like ads-service.ts; the response is a pure function of
 * the proxies' views and the request.
 */
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { protoType } from '../../protos/envoy-protos.ts';
import type { NodeMessage } from './ads-service.ts';
import { compileNodeMatchers, type NodeMatcherMessage } from './node-matchers.ts';
import type { ProxyConfigView, SentResource, SyncState, TypeStatus } from './proxy-status.ts';
import { redactSensitive } from './redact-sensitive.ts';
import type { EncodedAny } from './resource-encoder.ts';

export const CSDS_SERVICE = 'envoy.service.status.v3.ClientStatusDiscoveryService';

export interface ClientStatusRequestMessage {
  node_matchers?: NodeMatcherMessage[];
  node?: NodeMessage;
  exclude_resource_contents?: boolean;
}

/** `google.protobuf.Timestamp`; seconds is an int64 (a string when decoded). */
export interface TimestampMessage {
  seconds: number | string;
  nanos?: number;
}

export type ConfigStatus = 'UNKNOWN' | 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';
export type ClientResourceStatus = 'UNKNOWN' | 'REQUESTED' | 'DOES_NOT_EXIST' | 'ACKED' | 'NACKED';

/** `ClientConfig.GenericXdsConfig` (enums as names). */
export interface GenericXdsConfigMessage {
  type_url: string;
  name: string;
  version_info?: string;
  xds_config?: EncodedAny;
  last_updated?: TimestampMessage;
  config_status: ConfigStatus;
  client_status: ClientResourceStatus;
  error_state?: { details?: string; last_update_attempt?: TimestampMessage; version_info?: string };
}

export interface ClientConfigMessage {
  node: NodeMessage;
  generic_xds_configs: GenericXdsConfigMessage[];
}

export interface ClientStatusResponseMessage {
  config: ClientConfigMessage[];
}

/** Management-server view: NACKED maps to ERROR (the attached config is the rejected one, as csds.proto says). */
const CONFIG_STATUS: Record<SyncState, ConfigStatus> = { SYNCED: 'SYNCED', STALE: 'STALE', NACKED: 'ERROR', 'NOT SENT': 'NOT_SENT' };

/**
 * Client view, as far as the server knows it. STALE is UNKNOWN, not REQUESTED: REQUESTED means "has not
 * received any update from management server", but a STALE resource was sent and its ACK is pending
 * (the proxy may already run it, or still run the previous version).
 */
const CLIENT_STATUS: Record<SyncState, ClientResourceStatus> = { SYNCED: 'ACKED', STALE: 'UNKNOWN', NACKED: 'NACKED', 'NOT SENT': 'REQUESTED' };

/**
 * One ClientConfig per proxy stream matching `request.node_matchers` (ORed; none = all), with one
 * GenericXdsConfig per resource it was sent. Private keys and other sensitive fields are redacted.
 * A subscribed name that was not sent is listed without contents (REQUESTED, or DOES_NOT_EXIST once the
 * type was answered); a wildcard type holding nothing gets one entry with an empty name carrying the
 * type's state (like istiod's per-type sync status), so NOT SENT and empty types stay visible.
 * Throws MeshplaneError USAGE on an invalid matcher.
 */
export function buildClientStatusResponse(views: readonly ProxyConfigView[], request: ClientStatusRequestMessage): ClientStatusResponseMessage {
  const matches = compileNodeMatchers(request.node_matchers);
  const withContents = request.exclude_resource_contents !== true;
  const config = views
    .filter((view) => matches(view.node))
    .map((view) => ({
      node: view.node,
      generic_xds_configs: view.status.types.flatMap((type) => typeConfigs(type, view.sent(type.typeUrl), withContents)),
    }));
  return { config };
}

function typeConfigs(type: TypeStatus, sent: readonly SentResource[], withContents: boolean): GenericXdsConfigMessage[] {
  const errorState =
    type.state === 'NACKED' && type.lastNack
      ? { details: type.lastNack.message, last_update_attempt: timestamp(type.lastNack.at), version_info: type.lastNack.version }
      : undefined;
  const out: GenericXdsConfigMessage[] = sent.map((r) => ({
    type_url: type.typeUrl,
    name: r.name,
    version_info: r.version,
    ...(withContents && { xds_config: redactSensitive(r.any) }),
    last_updated: timestamp(r.sentAt),
    config_status: CONFIG_STATUS[type.state],
    client_status: CLIENT_STATUS[type.state],
    ...(errorState && { error_state: errorState }),
  }));
  if (type.subscribed === '*') {
    if (sent.length === 0) {
      out.push({
        type_url: type.typeUrl,
        name: '',
        ...(type.versionSent !== undefined && { version_info: type.versionSent }),
        ...(type.sentAt && { last_updated: timestamp(type.sentAt) }),
        config_status: CONFIG_STATUS[type.state],
        client_status: CLIENT_STATUS[type.state],
        ...(errorState && { error_state: errorState }),
      });
    }
    return out;
  }
  const sentNames = new Set(sent.map((r) => r.name));
  for (const name of type.subscribed) {
    if (sentNames.has(name)) continue;
    out.push({ type_url: type.typeUrl, name, config_status: 'NOT_SENT', client_status: type.state === 'NOT SENT' ? 'REQUESTED' : 'DOES_NOT_EXIST' });
  }
  return out;
}

/** ISO 8601 -> Timestamp (millisecond precision). */
function timestamp(iso: string): TimestampMessage {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
}

const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, arrays: true, defaults: false };

function codec<T>(typeName: string): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  const type = protoType(typeName);
  return {
    // fromObject copies the Any bytes by reference; it is needed for the enum names and the decoded node.
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value as object)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), DECODE_OPTIONS) as T,
  };
}

/** The ClientStatusDiscoveryService definition for `server.addService` / `makeGenericClientConstructor`. */
export function csdsServiceDefinition(): grpc.ServiceDefinition {
  const request = codec<ClientStatusRequestMessage>('envoy.service.status.v3.ClientStatusRequest');
  const response = codec<ClientStatusResponseMessage>('envoy.service.status.v3.ClientStatusResponse');
  const method = (name: string, streaming: boolean) => ({
    path: `/${CSDS_SERVICE}/${name}`,
    originalName: name[0]!.toLowerCase() + name.slice(1),
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: response.serialize,
    responseDeserialize: response.deserialize,
  });
  return { StreamClientStatus: method('StreamClientStatus', true), FetchClientStatus: method('FetchClientStatus', false) };
}
