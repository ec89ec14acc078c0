import { describe, expect, it } from 'vitest';
import { accessLogServiceDefinition } from './access-log-service.ts';
import { readAccessLogMessage, type StreamAccessLogsMessage } from './read-access-log.ts';

/** Through the wire format, as the service receives it: encoded by the client side, decoded by the server side. */
function viaWire(message: object): StreamAccessLogsMessage {
  const method = accessLogServiceDefinition().StreamAccessLogs!;
  return method.requestDeserialize(method.requestSerialize(message)) as StreamAccessLogsMessage;
}

const socket = (address: string, port_value: number) => ({ socket_address: { address, port_value } });

describe('readAccessLogMessage', () => {
  it('reads an mTLS HTTP entry: the inbound address, the peer address and its SPIFFE ID', () => {
    const message = viaWire({
      identifier: { node: { id: 'backend-1.shop' }, log_name: 'meshplane.edges.served' },
      http_logs: {
        log_entry: [
          {
            common_properties: {
              downstream_remote_address: socket('127.0.0.1', 40000),
              downstream_direct_remote_address: socket('127.0.0.1', 40000),
              downstream_local_address: socket('127.0.0.11', 18080),
              tls_properties: { peer_certificate_properties: { subject_alt_name: [{ dns: 'x.example' }, { uri: 'spiffe://cluster.local/ns/shop/sa/frontend' }] } },
            },
            request: { request_method: 'GET', path: '/' },
          },
        ],
      },
    });
    expect(readAccessLogMessage(message, false)).toEqual([
      { listenAddress: '127.0.0.11', listenPort: 18080, peerAddress: '127.0.0.1', mtls: true, identity: 'spiffe://cluster.local/ns/shop/sa/frontend', refused: false },
    ]);
  });

  it('reads plaintext TCP entries, refused ones, and skips entries without addresses', () => {
    const message = viaWire({
      tcp_logs: {
        log_entry: [
          { common_properties: { downstream_remote_address: socket('127.0.0.13', 5000), downstream_local_address: socket('127.0.0.11', 18090) } },
          { common_properties: { downstream_local_address: socket('127.0.0.11', 18090) } },
          {},
        ],
      },
    });
    expect(readAccessLogMessage(message, true)).toEqual([{ listenAddress: '127.0.0.11', listenPort: 18090, peerAddress: '127.0.0.13', mtls: false, refused: true }]);
  });

  it('skips a TLS entry without the peer identity (tcp_proxy on connect): never a plaintext caller', () => {
    const common = { downstream_remote_address: socket('127.0.0.12', 1), downstream_local_address: socket('127.0.0.11', 18090), stream_id: 'c-1' };
    const message = viaWire({
      tcp_logs: {
        log_entry: [
          { common_properties: { ...common, tls_properties: { tls_version: 'TLSv1_3', peer_certificate_properties: { subject_alt_name: [] } } } },
          { common_properties: { ...common, tls_properties: { tls_version: 'TLSv1_3', peer_certificate_properties: { subject_alt_name: [{ uri: 'spiffe://td/ns/a/sa/b' }] } } } },
        ],
      },
    });
    expect(readAccessLogMessage(message, false)).toEqual([
      { listenAddress: '127.0.0.11', listenPort: 18090, peerAddress: '127.0.0.12', mtls: true, identity: 'spiffe://td/ns/a/sa/b', refused: false, streamId: 'c-1' },
    ]);
  });
});
