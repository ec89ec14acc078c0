import { describe, expect, it } from 'vitest';
import { parseModelFiles } from '../model/load-model.ts';
import type { MeshModel } from '../model/types.ts';
import { explain, type ExplainQuery } from './explain.ts';
import { normalizePath } from './normalize-path.ts';

const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, rootNamespace: mesh-system}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: backend, namespace: shop}
spec: {ports: [{name: http-api}, {name: tcp-db}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: legacy, namespace: shop}
spec: {ports: [{name: http}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: backend-1, namespace: shop, labels: {app: backend}}
spec:
  serviceAccount: backend
  address: 127.0.0.11
  inbound:
    - {service: backend, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: backend, port: tcp-db, listenPort: 19000, targetPort: 9000}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: frontend-1, namespace: shop}
spec:
  serviceAccount: frontend
  address: 127.0.0.12
  outbound: [{service: backend, port: http-api, listenPort: 19001}, {service: legacy, port: http, listenPort: 19002}]
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: legacy-1, namespace: shop}
spec:
  address: 127.0.0.13
  sidecar: false
  inbound: [{service: legacy, port: http, listenPort: 8000}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  rules:
    - from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]
      to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
`;

function model(mode: string, extra = ''): MeshModel {
  const pa = `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: ${mode}}}
`;
  const { model, violations } = parseModelFiles([{ file: 'mesh.yaml', text: MESH + pa + extra }]);
  expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  return model!;
}

const q = (over: Partial<ExplainQuery>): ExplainQuery => ({ from: { workload: 'shop/frontend-1' }, to: 'shop/backend-1', port: '8080', ...over });

describe('explain', () => {
  it('a meshed caller through its sidecar: mTLS, and the rule that allowed it', () => {
    const e = explain(model('STRICT'), q({ path: '/api/x' }));
    expect(e).toMatchObject({
      from: { workload: 'shop/frontend-1', sidecar: true, identity: 'spiffe://cluster.local/ns/shop/sa/frontend', sourceIp: '127.0.0.12' },
      to: { service: 'backend.shop', portName: 'http-api', protocol: 'HTTP', targetPort: 8080, listen: '127.0.0.11:18080' },
      mtls: { mode: 'STRICT', scope: 'namespace', policy: 'shop/default', callerSpeaksMtls: true },
      request: { method: 'GET', path: '/api/x' },
      decision: 'ALLOW',
      decidedBy: { stage: 'authorization', action: 'ALLOW', policy: 'shop/backend-allow', rule: 0, envoyPolicy: 'ns[shop]-policy[backend-allow]-rule[0]' },
      policies: ['shop/backend-allow'],
    });
  });

  it('the port may be named by targetPort or by port name, never by listenPort', () => {
    expect(explain(model('STRICT'), q({ port: 'http-api' })).to.targetPort).toBe(8080);
    expect(() => explain(model('STRICT'), q({ port: '18080' }))).toThrow('18080 is the listenPort of targetPort 8080');
  });

  it('a plaintext caller under STRICT is refused before authorization', () => {
    const e = explain(model('STRICT'), q({ from: { plaintextIp: '127.0.0.13' }, path: '/api/x' }));
    expect(e).toMatchObject({ decision: 'DENY', decidedBy: { stage: 'connection' }, mtls: { callerSpeaksMtls: false } });
    expect(e.reason).toContain('STRICT and the caller sends plaintext');
  });

  it('a plaintext caller under PERMISSIVE reaches authorization without an identity', () => {
    const e = explain(model('PERMISSIVE'), q({ from: { plaintextIp: '127.0.0.13' }, path: '/api/x' }));
    expect(e).toMatchObject({ decision: 'DENY', decidedBy: { stage: 'default' }, reason: 'ALLOW policies apply and none of their rules matched: denied' });
    expect(e.notes).toContain('plaintext connection: no peer identity, so principal and namespace conditions never match it');
  });

  it('auto mTLS: the caller sends plaintext to a DISABLE port', () => {
    const e = explain(model('DISABLE'), q({ path: '/api/x' }));
    expect(e.mtls).toMatchObject({ mode: 'DISABLE', callerSpeaksMtls: false });
    expect(e.mtls.why).toBe('auto mTLS: sidecar, DISABLE on port 8080');
    expect(e.decision).toBe('DENY');
  });

  it('a sidecar caller without an outbound for the port is shown as a direct plaintext call', () => {
    const e = explain(model('PERMISSIVE'), q({ port: '9000' }));
    expect(e.mtls.callerSpeaksMtls).toBe(false);
    expect(e.notes).toContain('shop/frontend-1 has no outbound for backend.shop:tcp-db; shown as a direct plaintext call from its address');
  });

  it('TCP ports: HTTP-only rules are dropped, and request details are ignored with a note', () => {
    const e = explain(model('PERMISSIVE'), q({ port: 'tcp-db', method: 'GET' }));
    expect(e.decision).toBe('DENY');
    expect(e.request).toBeUndefined();
    expect(e.notes).toEqual(expect.arrayContaining(['port 9000 is TCP: --method, --path and --header do not apply', expect.stringContaining('this ALLOW rule is skipped')]));
  });

  it('the path is normalised as the sidecar normalises it', () => {
    const e = explain(model('STRICT'), q({ path: '/api/../admin' }));
    expect(e).toMatchObject({ decision: 'DENY', request: { path: '/admin' } });
    expect(e.notes).toContain('path /api/../admin is normalised to /admin by the sidecar before policies see it');
  });

  it('a destination without a sidecar enforces nothing', () => {
    const e = explain(model('STRICT'), q({ to: 'shop/legacy-1', port: '8000' }));
    expect(e).toMatchObject({ decision: 'ALLOW', mtls: { mode: 'NONE' }, to: { sidecar: false } });
  });

  it('unknown workloads are usage errors listing the known ones', () => {
    expect(() => explain(model('STRICT'), q({ to: 'shop/nope' }))).toThrow('--to shop/nope: no such Workload (NAMESPACE/NAME); known: shop/backend-1, shop/frontend-1, shop/legacy-1');
  });

  it('dry-run and audit results are reported beside the decision', () => {
    const extra = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: dry, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit, namespace: shop}
spec: {action: AUDIT, rules: [{}]}
`;
    const e = explain(model('STRICT', extra), q({ path: '/api/x' }));
    expect(e).toMatchObject({ decision: 'ALLOW', audited: ['ns[shop]-policy[audit]-rule[0]'], dryRun: [{ action: 'DENY', wouldAllow: false, envoyPolicy: 'ns[shop]-policy[dry]-rule[0]' }] });
  });
});

describe('normalizePath (Envoy normalize_path)', () => {
  it.each([
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../a', '/a'],
    ['/a/b/..', '/a/'],
    ['/a/%2E%2E/b', '/b'],
    ['/%61pi', '/api'],
    ['/a%2fb', '/a%2Fb'],
    ['/a/../b?x=/../y', '/b?x=/../y'],
    ['/', '/'],
  ])('%s -> %s', (input, output) => {
    expect(normalizePath(input)).toBe(output);
  });
});
