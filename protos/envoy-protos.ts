/**
 * Which upstream .proto files meshplane loads, and from where.
 *
 * Envoy's API protos are not copied into this repository: `@grpc/grpc-js-xds` (pinned in
 * package.json) ships envoy-api, xds, googleapis and protoc-gen-validate under `deps/`, and
 * protobufjs brings `google/protobuf/*`. Every type that can appear inside an `Any` must be
 * loaded into this one root, or protobufjs silently encodes an empty `Any`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
// proto-loader registers protobufjs's well-known-type wrappers when first required.
import '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const xdsDeps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const PROTO_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(xdsDeps, d));

/** Entry files; their imports are followed. Add a file here before using one of its types in an Any. */
export const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/service/accesslog/v3/als.proto',
  'google/rpc/status.proto',
];

let root: protobuf.Root | undefined;

/** The single protobufjs root holding every Envoy type meshplane encodes. Loaded once, lazily. */
export function envoyProtoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return target; // protobufjs ships these as `common` definitions
    for (const dir of PROTO_INCLUDE_DIRS) {
      const candidate = join(dir, target);
      try {
        require('node:fs').accessSync(candidate);
        return candidate;
      } catch {
        /* try the next include dir */
      }
    }
    return target;
  };
  r.loadSync(PROTO_FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

export function protoType(fullName: string): protobuf.Type {
  return envoyProtoRoot().lookupType(fullName);
}
