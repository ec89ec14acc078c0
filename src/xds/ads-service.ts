/**
 * The gRPC service definition of `envoy.service.discovery.v3.AggregatedDiscoveryService`, built by hand
 * so that responses are serialized with protobufjs `Type.encode` straight from plain objects: the
 * resources are pre-encoded `Any`s whose bytes are copied, never re-packed with `fromObject`.
 * The same definition works for a grpc-js client (tests): requests are serialized with `fromObject`.
 */
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { protoType } from '../../protos/envoy-protos.ts';
import type { EncodedAny } from './resource-encoder.ts';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** `envoy.config.core.v3.Node`, as decoded (keepCase); only `id` is relied upon. */
export interface NodeMessage {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
  client_features?: string[];
  [field: string]: unknown;
}

/** `google.rpc.Status` as carried in a NACK. */
export interface StatusMessage {
  code?: number;
  message?: string;
}

/** A decoded SotW `DiscoveryRequest` (fields absent when unset; `resource_names` always an array). */
export interface DiscoveryRequestMessage {
  version_info?: string;
  node?: NodeMessage;
  resource_names: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: StatusMessage;
}

/** A SotW `DiscoveryResponse` as the server writes it; `resources` are copied byte for byte. */
export interface DiscoveryResponseMessage {
  version_info: string;
  resources: EncodedAny[];
  type_url: string;
  nonce: string;
  control_plane: { identifier: string };
}

/** A decoded `DeltaDiscoveryRequest` (lists always arrays, the map always an object). */
export interface DeltaDiscoveryRequestMessage {
  node?: NodeMessage;
  type_url?: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce?: string;
  error_detail?: StatusMessage;
}

/** One `envoy.service.discovery.v3.Resource` of a Delta response; `resource` bytes are copied as they are. */
export interface DeltaResourceMessage {
  name: string;
  version: string;
  resource: EncodedAny;
}

/** A `DeltaDiscoveryResponse` as the server writes it. */
export interface DeltaDiscoveryResponseMessage {
  system_version_info: string;
  resources: DeltaResourceMessage[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane: { identifier: string };
}

const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, arrays: true, objects: true, defaults: false };

function codec<T>(typeName: string, encodeWith: 'fromObject' | 'encode'): {
  serialize: (value: T) => Buffer;
  deserialize: (bytes: Buffer) => T;
} {
  const type = protoType(typeName);
  return {
    serialize:
      encodeWith === 'encode'
        ? (value) => Buffer.from(type.encode(value as object).finish())
        : (value) => Buffer.from(type.encode(type.fromObject(value as object)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), DECODE_OPTIONS) as T,
  };
}

/**
 * The AggregatedDiscoveryService definition for `server.addService` / `makeGenericClientConstructor`:
 * `StreamAggregatedResources` (SotW) and `DeltaAggregatedResources` (Delta).
 */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const request = codec<DiscoveryRequestMessage>('envoy.service.discovery.v3.DiscoveryRequest', 'fromObject');
  const response = codec<DiscoveryResponseMessage>('envoy.service.discovery.v3.DiscoveryResponse', 'encode');
  const deltaRequest = codec<DeltaDiscoveryRequestMessage>('envoy.service.discovery.v3.DeltaDiscoveryRequest', 'fromObject');
  const deltaResponse = codec<DeltaDiscoveryResponseMessage>('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'encode');
  return {
    StreamAggregatedResources: {
      path: `/${ADS_SERVICE}/StreamAggregatedResources`,
      originalName: 'streamAggregatedResources',
      requestStream: true,
      responseStream: true,
      requestSerialize: request.serialize,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize,
      responseDeserialize: response.deserialize,
    },
    DeltaAggregatedResources: {
      path: `/${ADS_SERVICE}/DeltaAggregatedResources`,
      originalName: 'deltaAggregatedResources',
      requestStream: true,
      responseStream: true,
      requestSerialize: deltaRequest.serialize,
      requestDeserialize: deltaRequest.deserialize,
      responseSerialize: deltaResponse.serialize,
      responseDeserialize: deltaResponse.deserialize,
    },
  };
}
