import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelFiles } from '../model/load-model.ts';
import { buildProxyPlans } from './build-proxy-plans.ts';
import { buildProxylessPlans } from './build-proxyless-plans.ts';
import { explain } from './explain.ts';

/** The golden case (testdata/in/proxyless-grpc.yaml): its plans are in testdata/out; here, who gets which plan and what explain says. */
const file = 'proxyless-grpc.yaml';
const { model, violations } = parseModelFiles([{ file, text: readFileSync(join(import.meta.dirname, '../../testdata/in', file), 'utf8') }]);

describe('proxyless plans', () => {
  it('the model is valid', () => {
    expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  it('Envoy plans only for Envoy sidecars; proxyless plans for the apps that speak xDS themselves', () => {
    expect(buildProxyPlans(model!).map((p) => p.nodeId)).toEqual(['echo-2.shop', 'echo-3.shop', 'frontend-1.shop']);
    expect(buildProxylessPlans(model!).map((p) => p.nodeId)).toEqual(['client-1.shop', 'echo-1.shop']);
  });

  it('a sidecar caller sends plaintext to a proxyless endpoint (it has no certificate)', () => {
    const upstream = buildProxyPlans(model!).find((p) => p.nodeId === 'frontend-1.shop')!.outbound[0]!.upstream;
    expect(upstream.kind === 'service' && upstream.endpoints.find((e) => e.workload === 'echo-1.shop')).toEqual({
      workload: 'echo-1.shop',
      address: '127.0.0.31',
      port: 50051,
      tls: 'PLAINTEXT',
      reason: 'proxyless gRPC, plaintext',
    });
    // Secure naming lists only the identities behind mTLS endpoints.
    expect(upstream.kind === 'service' && upstream.peerIdentities).toEqual(['spiffe://cluster.local/ns/shop/sa/echo']);
  });
});

describe('explain with proxyless workloads', () => {
  const call = (from: string, to: string, path: string) => explain(model!, { from: { workload: from }, to, port: 'grpc', method: 'POST', path });

  it('proxyless client -> proxyless server: plaintext, no identity; the RBAC the app enforces decides', () => {
    const forbidden = call('shop/client-1', 'shop/echo-1', '/meshplane.test.Echo/Forbidden');
    expect(forbidden.from).toEqual({ workload: 'shop/client-1', sidecar: false, proxyless: true, sourceIp: '127.0.0.34' });
    expect(forbidden.to).toMatchObject({ sidecar: false, proxyless: true, listen: '127.0.0.31:50051' });
    expect(forbidden.mtls).toMatchObject({ mode: 'PERMISSIVE', callerSpeaksMtls: false, why: 'the caller is a proxyless gRPC app: plaintext, no identity' });
    expect(forbidden).toMatchObject({ decision: 'DENY', decidedBy: { stage: 'authorization', action: 'DENY', policy: 'shop/echo-deny' } });

    const say = call('shop/client-1', 'shop/echo-1', '/meshplane.test.Echo/Say');
    expect(say).toMatchObject({ decision: 'ALLOW', decidedBy: { stage: 'authorization', action: 'ALLOW', policy: 'shop/echo-allow' } });
    // What grpc-js cannot run is not shown as if it ran: no audit, no dry run, and a note says why.
    expect(say.audited).toEqual([]);
    expect(say.dryRun).toEqual([]);
    expect(say.notes).toContain('dry run DENY shop/echo-dry-run: not evaluated, proxyless gRPC has no shadow rules');
  });

  it('sidecar caller -> proxyless server: auto mTLS picks plaintext', () => {
    const e = call('shop/frontend-1', 'shop/echo-1', '/meshplane.test.Echo/Say');
    expect(e.mtls).toMatchObject({ callerSpeaksMtls: false, why: 'auto mTLS: proxyless gRPC, plaintext' });
    expect(e.decision).toBe('ALLOW');
  });

  it('proxyless client -> STRICT sidecar: refused at the connection (and left out of its endpoints)', () => {
    const e = call('shop/client-1', 'shop/echo-2', '/meshplane.test.Echo/Say');
    expect(e).toMatchObject({ decision: 'DENY', decidedBy: { stage: 'connection' } });
    const plan = buildProxylessPlans(model!).find((p) => p.nodeId === 'client-1.shop')!;
    expect(plan.outbound[0]!.excluded?.map((x) => x.workload)).toEqual(['echo-2.shop']);
  });
});
