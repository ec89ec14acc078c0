/**
 * Example plugin: every HTTP request a workload sends through its sidecar gets a header saying who
 * sent it, by default `x-meshplane-source: <namespace>/<workload>`. It goes on the route config of
 * outbound listeners only (never inbound), replacing any value the app set itself.
 *
 * The header is for logs and dashboards, not for security: a caller without a sidecar can send
 * any value. Who a caller really is comes from mTLS (the x-forwarded-client-cert header on the
 * server side, and AuthorizationPolicy principals).
 *
 * A factory: the Mesh entry's `options` configure it (both optional):
 *
 *   spec:
 *     plugins:
 *       - file: ../plugins/outbound-request-header.ts
 *         options: {header: x-meshplane-source, value: "{namespace}/{name}"}
 *
 * `value` may use {namespace}, {name} (the workload) and {nodeId}. Envoy also expands its own
 * `%COMMAND%` operators in header values, so a literal '%' must be written '%%'.
 */
import type { ListenerContext, NamedResource, PluginOptions, TranslatorPlugin } from '../../src/extend/translator-plugin.ts';

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const DEFAULT_HEADER = 'x-meshplane-source';
const DEFAULT_VALUE = '{namespace}/{name}';
/** An HTTP token, lowercase (HTTP/2 and Envoy's header maps are lowercase). */
const HEADER_NAME = /^[a-z0-9!#$&'*+.^_`|~-]+$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

type Filter = { typed_config?: Record<string, unknown> };
type FilterChain = { filters?: Filter[] };

/** Checks the options once, when the plugin is loaded: a bad one is an error at its Mesh entry. */
function readOptions(options: PluginOptions): { header: string; value: string } {
  const known = ['header', 'value'];
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`unknown option ${JSON.stringify(unknown[0])}: supported are ${known.join(', ')}`);
  const header = options.header ?? DEFAULT_HEADER;
  if (typeof header !== 'string' || !HEADER_NAME.test(header) || header === 'host') {
    throw new Error(`options.header must be a lowercase HTTP header name other than host (e.g. "${DEFAULT_HEADER}"), got ${JSON.stringify(header)}`);
  }
  const value = options.value ?? DEFAULT_VALUE;
  if (typeof value !== 'string' || value === '') throw new Error(`options.value must be a non-empty string such as "${DEFAULT_VALUE}"`);
  for (const [, name] of value.matchAll(PLACEHOLDER)) {
    if (!['namespace', 'name', 'nodeId'].includes(name!)) throw new Error(`options.value uses {${name}}; use {namespace}, {name} or {nodeId}`);
  }
  return { header, value };
}

/** The HCM's inline route config with the header appended to its request_headers_to_add. */
function withHeader(filter: Filter, header: { key: string; value: string }): Filter {
  const config = filter.typed_config;
  const routeConfig = config?.route_config as Record<string, unknown> | undefined;
  if (config?.['@type'] !== HCM_TYPE || !routeConfig) return filter; // tcp_proxy, or routes over RDS
  const existing = (routeConfig.request_headers_to_add as unknown[] | undefined) ?? [];
  const add = { header, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
  return { ...filter, typed_config: { ...config, route_config: { ...routeConfig, request_headers_to_add: [...existing, add] } } };
}

export default function outboundRequestHeader(options: PluginOptions): TranslatorPlugin {
  const { header, value } = readOptions(options);
  return {
    name: 'outbound-request-header',
    onListener(listener: NamedResource, ctx: ListenerContext): NamedResource {
      // gRPC apps build their own requests; inbound requests already carry the caller's header.
      if (ctx.proxyless || ctx.direction !== 'OUTBOUND') return listener;
      const fields: Record<string, string> = { namespace: ctx.workload.namespace, name: ctx.workload.name, nodeId: ctx.nodeId };
      const resolved = { key: header, value: value.replace(PLACEHOLDER, (_, k: string) => fields[k]!) };
      const chains = (listener.filter_chains as FilterChain[] | undefined) ?? [];
      return { ...listener, filter_chains: chains.map((chain) => ({ ...chain, filters: (chain.filters ?? []).map((f) => withHeader(f, resolved)) })) };
    },
  };
}
