import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { workloadToken } from './tokens.ts';
import { xdsClientRejection } from './xds-client-auth.ts';

const KEY = Buffer.alloc(32, 7);
const cert = (...uris: string[]) => ({ subjectaltname: uris.map((u) => `URI:${u}`).join(', ') }) as PeerCertificate;
const CLIENT = 'spiffe://cluster.local/meshplane/xds-client/shop/client-1';

describe('xdsClientRejection', () => {
  it('accepts the node whose token and client certificate both match', () => {
    expect(xdsClientRejection(KEY, 'cluster.local', { nodeId: 'client-1.shop', token: workloadToken(KEY, 'client-1.shop'), peerCertificate: cert(CLIENT) })).toBeUndefined();
  });

  it.each([
    ['a token of another node', { token: workloadToken(KEY, 'server-1.shop'), peerCertificate: cert(CLIENT) }, 'the xDS token does not belong to this node.id'],
    ['no token', { token: undefined, peerCertificate: cert(CLIENT) }, 'the xDS token does not belong to this node.id'],
    ['no client certificate', { token: workloadToken(KEY, 'client-1.shop'), peerCertificate: undefined }, 'no xDS client certificate was presented'],
    [
      "another node's certificate",
      { token: workloadToken(KEY, 'client-1.shop'), peerCertificate: cert('spiffe://cluster.local/meshplane/xds-client/shop/server-1') },
      'the xDS client certificate is for spiffe://cluster.local/meshplane/xds-client/shop/server-1, not spiffe://cluster.local/meshplane/xds-client/shop/client-1',
    ],
    [
      "a workload's SDS certificate",
      { token: workloadToken(KEY, 'client-1.shop'), peerCertificate: cert('spiffe://cluster.local/ns/shop/sa/client') },
      'the xDS client certificate is for spiffe://cluster.local/ns/shop/sa/client',
    ],
    ['a certificate of another trust domain', { token: workloadToken(KEY, 'client-1.shop'), peerCertificate: cert('spiffe://other.local/meshplane/xds-client/shop/client-1') }, 'not spiffe://cluster.local/'],
  ])('rejects %s', (_what, creds, reason) => {
    expect(xdsClientRejection(KEY, 'cluster.local', { nodeId: 'client-1.shop', ...creds })).toContain(reason);
  });
});
