import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import { issueWorkloadCert } from '../../src/ca/issue.ts';
import { xdsClientSpiffeId } from '../../src/ca/spiffe.ts';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { revokeTokens } from '../../src/ca/token-revocations.ts';
import { issueWorkloadToken } from '../../src/ca/tokens.ts';
import { ControlPlane } from '../../src/control-plane.ts';
import { adsServiceDefinition } from '../../src/xds/ads-service.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { quietLogger, RawStream } from './ads-raw-client.ts';

/**
 * Token revocation and workload removal in a running control plane, over the secure xDS channel
 * (TLS with an xDS client certificate, plus the token), so every stream goes through the real
 * authentication. Certificates rotate on a fake clock; token expiry and revocation use it too.
 */
const HOUR = 3600_000;
const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, ca: {workloadCertTTL: 2h, rotationRatio: 0.5}}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: http}]}
`;
const workload = (name: string, address: string) => `---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop}
spec:
  serviceAccount: ${name}
  address: ${address}
  inbound: [{service: backend, port: http, listenPort: 18080, targetPort: 8080}]
`;
const AdsClient = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');

let cp: ControlPlane | undefined;
const clients: grpc.Client[] = [];
let dir = '';
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cp?.stop();
  cp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start() {
  dir = mkdtempSync(join(tmpdir(), 'meshplane-revocation-'));
  const configDir = join(dir, 'config');
  const stateDir = join(dir, 'state');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'mesh.yaml'), MESH + workload('a-1', '127.0.0.11') + workload('b-1', '127.0.0.12'));
  const clock = new FakeClock(Date.now());
  const { logger, records } = quietLogger();
  cp = await ControlPlane.start({ configDir, stateDir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', csdsAddress: '127.0.0.1:0', insecureXds: false, logger, clock });
  clock.idle = () => cp!.settled();
  const { authority, tokenKey } = await openStateDir(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 87600 * 3600, trustDomain: 'cluster.local', create: false });
  const pushes: string[] = [];
  cp.cache.onUpdate((node) => pushes.push(node));

  /** What `meshplane bootstrap` gives a node: its xDS client certificate and a token (here on the fake clock). */
  const credentials = async (name: string) => {
    const cert = await issueWorkloadCert(authority, { spiffeId: xdsClientSpiffeId('cluster.local', 'shop', name), ttlSeconds: 24 * 3600, keyAlgorithm: 'ECDSA_P256' });
    const channel = new AdsClient(
      `127.0.0.1:${cp!.xdsPort}`,
      grpc.credentials.createSsl(Buffer.from(authority.trustBundlePem), Buffer.from(cert.privateKeyPem), Buffer.from(cert.certChainPem)),
      { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'localhost' },
    );
    clients.push(channel);
    return { channel, token: (iat = clock.now(), ttl = 24 * HOUR) => issueWorkloadToken(tokenKey, { node: `${name}.shop`, iat, exp: iat + ttl }) };
  };
  /** A SotW stream as `<name>.shop` with `token`, after its first CDS request. */
  const connect = (channel: grpc.Client, name: string, token: string) => {
    const md = new grpc.Metadata();
    md.set('x-meshplane-token', token);
    const stream = RawStream.sotw(channel, md);
    stream.send({ node: { id: `${name}.shop` }, type_url: TYPE_URL.cluster });
    return stream;
  };
  const served = async (s: RawStream) => s.until(() => s.received.length > 0, 'the first CDS response');
  const secretOf = (node: string) => {
    const { value } = cp!.cache.getSnapshot(node)!.get(TYPE_URL.secret).resources.get('default')!.any;
    const type = protoType('envoy.extensions.transport_sockets.tls.v3.Secret');
    return (type.toObject(type.decode(value)) as { tls_certificate: { certificate_chain: { inline_string: string } } }).tls_certificate.certificate_chain.inline_string;
  };
  const logged = () => JSON.stringify(records);
  return { cp, clock, configDir, stateDir, credentials, connect, served, secretOf, pushes, logged };
}

describe('xDS token revocation in a running control plane', () => {
  it('ends the revoked node’s streams, refuses its old token, holds its certificate; a new token brings it back', async () => {
    const { clock, stateDir, credentials, connect, served, secretOf, pushes, logged } = await start();
    const a = await credentials('a-1');
    const b = await credentials('b-1');
    const oldToken = a.token();
    const [streamA, streamB] = [connect(a.channel, 'a-1', oldToken), connect(b.channel, 'b-1', b.token())];
    await Promise.all([served(streamA), served(streamB)]);
    const first = { a: secretOf('a-1.shop'), b: secretOf('b-1.shop') };

    // `meshplane token revoke shop/a-1`: the running server sees the file change.
    await revokeTokens(stateDir, 'a-1.shop', new Date(clock.now()));
    const ended = await streamA.status;
    expect(ended.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(ended.details).toMatch(/^the xDS token of a-1\.shop was revoked at \S+Z \(meshplane token revoke\); run meshplane bootstrap again$/);
    expect(streamB.ended).toBeUndefined();

    // The old token no longer opens a stream.
    const retry = connect(a.channel, 'a-1', oldToken);
    expect((await retry.status).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(retry.received).toEqual([]);
    expect(logged()).toMatch(/"nodeId":"a-1\.shop","reason":"the xDS token of a-1\.shop was revoked at/);

    // Past the rotation point: b-1 gets a new certificate, a-1 does not.
    pushes.length = 0;
    await clock.advance(HOUR + 1000);
    expect(secretOf('b-1.shop')).not.toBe(first.b);
    expect(secretOf('a-1.shop')).toBe(first.a);
    expect(pushes).not.toContain('a-1.shop');
    expect(streamB.ended).toBeUndefined();

    // A token issued after the revocation works, and a-1's overdue certificate is renewed at once.
    const back = connect(a.channel, 'a-1', a.token());
    await served(back);
    await waitFor(() => secretOf('a-1.shop') !== first.a, { what: "a-1's certificate to be renewed" });
    expect(back.ended).toBeUndefined();
    expect(logged()).not.toContain(oldToken.split('.')[2]);
  });

  it('refuses an expired token with the expiry in the log', async () => {
    const { clock, credentials, connect, logged } = await start();
    const a = await credentials('a-1');
    const token = a.token(clock.now() - 2 * HOUR, HOUR);
    const s = connect(a.channel, 'a-1', token);
    expect((await s.status).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(logged()).toContain(`the xDS token expired at ${new Date(clock.now() - HOUR).toISOString()}; run meshplane bootstrap again`);
    expect(logged()).not.toContain(token.split('.')[2]);
  });

  it('a workload removed from the config has its streams ended; the others keep theirs', async () => {
    const { cp, configDir, credentials, connect, served } = await start();
    const a = await credentials('a-1');
    const b = await credentials('b-1');
    const [streamA, streamB] = [connect(a.channel, 'a-1', a.token()), connect(b.channel, 'b-1', b.token())];
    await Promise.all([served(streamA), served(streamB)]);
    writeFileSync(join(configDir, 'mesh.yaml'), MESH + workload('a-1', '127.0.0.11'));
    await cp.reload();
    const ended = await streamB.status;
    expect(ended.code).toBe(grpc.status.NOT_FOUND);
    expect(ended.details).toBe(`the workload of node b-1.shop was removed from ${configDir}`);
    expect(streamA.ended).toBeUndefined();
    expect(cp.cache.getSnapshot('b-1.shop')).toBeUndefined();
  });
});
