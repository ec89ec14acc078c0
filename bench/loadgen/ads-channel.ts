/**
 * The load generator's ADS client: the repository's own service definition (requests encoded as the
 * tests do), with responses read by the envelope-only deserializers of envelope.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition } from '../../src/xds/ads-service.ts';
import { decodeDeltaEnvelope, decodeSotwEnvelope } from './envelope.ts';

const definition = adsServiceDefinition();
const LoadgenAdsClient = grpc.makeGenericClientConstructor(
  {
    StreamAggregatedResources: { ...definition.StreamAggregatedResources!, responseDeserialize: decodeSotwEnvelope },
    DeltaAggregatedResources: { ...definition.DeltaAggregatedResources!, responseDeserialize: decodeDeltaEnvelope },
  },
  'AggregatedDiscoveryService',
);

/**
 * One grpc-js channel with its own HTTP/2 connection (local subchannel pool): a fleet's streams
 * are spread over many, as 10,000 Envoys would never share one connection.
 */
export function adsChannel(address: string): grpc.Client {
  return new LoadgenAdsClient(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
  });
}

export type AdsCall = grpc.ClientDuplexStream<object, unknown>;

export function openSotw(channel: grpc.Client): AdsCall {
  return (channel as unknown as { StreamAggregatedResources(): AdsCall }).StreamAggregatedResources();
}

export function openDelta(channel: grpc.Client): AdsCall {
  return (channel as unknown as { DeltaAggregatedResources(): AdsCall }).DeltaAggregatedResources();
}
