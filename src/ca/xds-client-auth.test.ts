import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { issueWorkloadToken } from './tokens.ts';
import { xdsClientRejection } from './xds-client-auth.ts';

const KEY = Buffer.alloc(32, 7);
const NOW = Date.parse('2026-01-01T00:00:00Z');
const token = (node: string, iat = NOW - 1000) => issueWorkloadToken(KEY, { node, iat, exp: NOW + 3600_000 });
const cert = (...uris: string[]) => ({ subjectaltname: uris.map((u) => `URI:${u}`).join(', ') }) as PeerCertificate;
const CLIENT = 'spiffe://cluster.local/meshplane/xds-client/shop/client-1';
const reject = (creds: { token: string | undefined; peerCertificate: PeerCertificate | undefined }, at: { now: number; revokedAt?: number } = { now: NOW }) =>
  xdsClientRejection(KEY, 'cluster.local', { nodeId: 'client-1.shop', ...creds }, at);

describe('xdsClientRejection', () => {
  it('accepts the node whose token and client certificate both match', () => {
    expect(reject({ token: token('client-1.shop'), peerCertificate: cert(CLIENT) })).toBeUndefined();
  });

  it.each([
    ['a token of another node', { token: token('server-1.shop'), peerCertificate: cert(CLIENT) }, 'the xDS token does not belong to this node.id (it was issued for server-1.shop)'],
    ['no token', { token: undefined, peerCertificate: cert(CLIENT) }, 'no xDS token was presented'],
    ['no client certificate', { token: token('client-1.shop'), peerCertificate: undefined }, 'no xDS client certificate was presented'],
    [
      "another node's certificate",
      { token: token('client-1.shop'), peerCertificate: cert('spiffe://cluster.local/meshplane/xds-client/shop/server-1') },
      'the xDS client certificate is for spiffe://cluster.local/meshplane/xds-client/shop/server-1, not spiffe://cluster.local/meshplane/xds-client/shop/client-1',
    ],
    [
      "a workload's SDS certificate",
      { token: token('client-1.shop'), peerCertificate: cert('spiffe://cluster.local/ns/shop/sa/client') },
      'the xDS client certificate is for spiffe://cluster.local/ns/shop/sa/client',
    ],
    ['a certificate of another trust domain', { token: token('client-1.shop'), peerCertificate: cert('spiffe://other.local/meshplane/xds-client/shop/client-1') }, 'not spiffe://cluster.local/'],
  ])('rejects %s', (_what, creds, reason) => {
    expect(reject(creds)).toContain(reason);
  });

  it('rejects an expired or revoked token even with the right certificate', () => {
    const creds = { token: token('client-1.shop'), peerCertificate: cert(CLIENT) };
    expect(reject(creds, { now: NOW + 3600_000 })).toBe('the xDS token expired at 2026-01-01T01:00:00.000Z; run meshplane bootstrap again');
    expect(reject(creds, { now: NOW, revokedAt: NOW - 1000 })).toMatch(/^the xDS token of client-1\.shop was revoked at 2025-12-31T23:59:59\.000Z/);
    expect(reject({ ...creds, token: token('client-1.shop', NOW - 999) }, { now: NOW, revokedAt: NOW - 1000 })).toBeUndefined();
  });
});
