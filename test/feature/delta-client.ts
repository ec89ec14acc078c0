/**
 * A small in-process Delta ADS client for feature tests: opens DeltaAggregatedResources with grpc-js,
 * sends DeltaDiscoveryRequests, and awaits DeltaDiscoveryResponses with every resource decoded.
 * Negative assertions use `settle()` (test-stream.ts): docs/delta-ads.md says the first request of each
 * type on a stream is always answered, even with empty resources.
 */
import * as grpc from '@grpc/grpc-js';
import { protoType } from '../../protos/envoy-protos.ts';
import { messageNameOf } from '../../src/xds/type-urls.ts';
import type { StatusMessage, NodeMessage } from '../../src/xds/ads-service.ts';
import type { ProxyStatus, TypeStatus } from '../../src/xds/proxy-status.ts';
import type { AdsHarness } from './ads-client.ts';
import { TestStream } from './test-stream.ts';

export const DELTA_PROBE_PREFIX = 'type.googleapis.com/meshplane.test.DeltaProbe';

/** A DeltaDiscoveryRequest as the tests write it (fromObject input). */
export interface DeltaRequest {
  node?: NodeMessage;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: StatusMessage;
}

/** One `Resource` of a DeltaDiscoveryResponse, its Any decoded. */
export interface DecodedDeltaResource {
  name: string;
  version: string;
  /** The Any's own type_url. */
  type_url: string;
  /** The name found inside the decoded message (name or cluster_name). */
  innerName: string;
  object: Record<string, any>;
}

/** A DeltaDiscoveryResponse with its resources decoded to JSON-style objects. */
export interface DecodedDelta {
  system_version_info: string;
  type_url: string;
  nonce: string;
  control_plane?: { identifier?: string };
  /** Resource names, in response order. */
  names: string[];
  /** name -> per-resource version. */
  versions: Record<string, string>;
  removed: string[];
  resources: DecodedDeltaResource[];
}

function decodeDelta(raw: any): DecodedDelta {
  const resources: DecodedDeltaResource[] = (raw.resources ?? []).map((r: any) => {
    const any = r.resource as { type_url: string; value: Buffer } | undefined;
    let object: Record<string, any> = {};
    if (any?.type_url) {
      const type = protoType(messageNameOf(any.type_url));
      object = type.toObject(type.decode(any.value), { json: true, longs: String, enums: String }) as Record<string, any>;
    }
    return {
      name: String(r.name ?? ''),
      version: String(r.version ?? ''),
      type_url: any?.type_url ?? '',
      innerName: String(object.name ?? object.cluster_name ?? ''),
      object,
    };
  });
  return {
    system_version_info: raw.system_version_info ?? '',
    type_url: raw.type_url ?? '',
    nonce: raw.nonce ?? '',
    control_plane: raw.control_plane,
    names: resources.map((r) => r.name),
    versions: Object.fromEntries(resources.map((r) => [r.name, r.version])),
    removed: [...(raw.removed_resources ?? [])],
    resources,
  };
}

/** One client-side Delta ADS stream. */
export class DeltaTestStream extends TestStream<DeltaRequest, DecodedDelta> {
  /** What the client holds per type, applying every received response like Envoy would: name -> version. */
  readonly #held = new Map<string, Map<string, string>>();

  constructor(call: grpc.ClientDuplexStream<DeltaRequest, unknown>) {
    super(call, decodeDelta, { probePrefix: DELTA_PROBE_PREFIX, what: 'DeltaDiscoveryResponse' });
  }

  protected override onResponse(r: DecodedDelta): void {
    let held = this.#held.get(r.type_url);
    if (!held) this.#held.set(r.type_url, (held = new Map()));
    for (const res of r.resources) held.set(res.name, res.version);
    for (const name of r.removed) held.delete(name);
  }

  /** A spontaneous subscription change (no nonce). */
  subscribe(type_url: string, subscribe: string[], unsubscribe: string[] = []): void {
    this.send({ type_url, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe });
  }

  /** ACKs `r` (optionally changing the subscription in the same request) without waiting. */
  ack(r: DecodedDelta, change: { subscribe?: string[]; unsubscribe?: string[] } = {}): void {
    this.send({
      type_url: r.type_url,
      response_nonce: r.nonce,
      resource_names_subscribe: change.subscribe ?? [],
      resource_names_unsubscribe: change.unsubscribe ?? [],
    });
  }

  /** NACKs `r` (error_detail code 13, like Envoy), optionally changing the subscription too. */
  nack(r: DecodedDelta, message: string, change: { subscribe?: string[]; unsubscribe?: string[] } = {}): void {
    this.send({
      type_url: r.type_url,
      response_nonce: r.nonce,
      resource_names_subscribe: change.subscribe ?? [],
      resource_names_unsubscribe: change.unsubscribe ?? [],
      error_detail: { code: 13, message },
    });
  }

  /** What the client holds of `typeUrl` (name -> version) after applying every response received so far. */
  held(typeUrl: string): Record<string, string> {
    return Object.fromEntries([...(this.#held.get(typeUrl) ?? new Map<string, string>())].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Sorted copy (response order is not part of the contract). */
export const sorted = (names: readonly string[]): string[] => [...names].sort();

/** The status of the stream of `nodeId` with `transport` (the first one if several). */
export function streamStatus(h: AdsHarness, nodeId: string, transport: 'sotw' | 'delta' = 'delta'): ProxyStatus | undefined {
  return h.server.status().find((p) => p.nodeId === nodeId && p.transport === transport);
}

/** The status of `typeUrl` on that stream. */
export function typeStatus(h: AdsHarness, nodeId: string, typeUrl: string, transport: 'sotw' | 'delta' = 'delta'): TypeStatus | undefined {
  return streamStatus(h, nodeId, transport)?.types.find((t) => t.typeUrl === typeUrl);
}

/** Polls `cond` on the event loop, for server-side effects that have no response to wait for (positive conditions only). */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
