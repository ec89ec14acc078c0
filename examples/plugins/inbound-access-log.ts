/**
 * Example plugin: an access log on every inbound listener of every sidecar, written to Envoy's
 * stdout, one line per request (HTTP) or connection (TCP), naming the listener, the filter chain
 * (`mtls` or `plaintext`), the downstream peer's address and SPIFFE identity, and the TLS version
 * (`-` = plaintext). Handy while moving a namespace to STRICT.
 *
 * It appends to the filter's `access_log` list and never replaces it: meshplane itself (and other
 * plugins) may already have put loggers there.
 *
 * Enable it in the Mesh (the path is relative to the config directory):
 *
 *   spec:
 *     plugins:
 *       - {file: ../plugins/inbound-access-log.ts, onError: skip-plugin}
 */
import type { ListenerContext, NamedResource, TranslatorPlugin } from '../../src/extend/translator-plugin.ts';

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const STDOUT_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
export const STDOUT_LOGGER = 'envoy.access_loggers.stdout';
/** Every line starts with this, so the lines are easy to grep out of Envoy's output. */
export const LOG_PREFIX = '[meshplane-inbound]';

/** Envoy command operators: see "Access logging" in Envoy's docs. */
const PEER = 'chain=%FILTER_CHAIN_NAME% peer=%DOWNSTREAM_REMOTE_ADDRESS% peer_identity=%DOWNSTREAM_PEER_URI_SAN% tls=%DOWNSTREAM_TLS_VERSION%';
const HTTP_FIELDS = '"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%ms';
const TCP_FIELDS = 'bytes_in=%BYTES_RECEIVED% bytes_out=%BYTES_SENT% %RESPONSE_FLAGS% %DURATION%ms';

type Filter = { name?: string; typed_config?: Record<string, unknown> };
type FilterChain = { filters?: Filter[] };

/** The stdout logger entry for one listener; the listener name is written in literally. */
export function stdoutAccessLog(listenerName: string, http: boolean) {
  // '%' starts a command operator in Envoy's format strings: keep it out of the literal part.
  const name = listenerName.replaceAll('%', '_');
  return {
    name: STDOUT_LOGGER,
    typed_config: {
      '@type': STDOUT_LOG_TYPE,
      log_format: { text_format_source: { inline_string: `${LOG_PREFIX} listener=${name} ${PEER} ${http ? HTTP_FIELDS : TCP_FIELDS}\n` } },
    },
  };
}

/** The filter with our logger appended to its access_log list (HCM and tcp_proxy both have one). */
function withAccessLog(filter: Filter, listenerName: string): Filter {
  const type = filter.typed_config?.['@type'];
  if (type !== HCM_TYPE && type !== TCP_PROXY_TYPE) return filter;
  const existing = (filter.typed_config!.access_log as unknown[] | undefined) ?? [];
  return { ...filter, typed_config: { ...filter.typed_config, access_log: [...existing, stdoutAccessLog(listenerName, type === HCM_TYPE)] } };
}

const inboundAccessLog: TranslatorPlugin = {
  name: 'inbound-access-log',
  onListener(listener: NamedResource, { direction, proxyless }: ListenerContext): NamedResource {
    // gRPC apps ignore access logs; outbound traffic is the caller's sidecar's business.
    if (proxyless || direction !== 'INBOUND') return listener;
    const chains = (listener.filter_chains as FilterChain[] | undefined) ?? [];
    return {
      ...listener,
      filter_chains: chains.map((chain) => ({ ...chain, filters: (chain.filters ?? []).map((f) => withAccessLog(f, listener.name)) })),
    };
  },
};

export default inboundAccessLog;
