import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, serviceYaml, violationLines } from './model-test-helpers.ts';

const SERVICES = `${serviceYaml('echo', 'shop', '[{name: grpc, protocol: GRPC}, {name: http-api}]')}---
apiVersion: meshplane.dev/v1alpha1
kind: ExternalService
metadata: {name: telemetry, namespace: shop}
spec: {address: 127.0.0.1, port: 4317, protocol: GRPC}
`;

const doc = (kind: string, meta: string, spec: string) => `---
apiVersion: ${kind.includes('Authorization') || kind.includes('PeerAuth') ? 'security.istio.io/v1' : 'meshplane.dev/v1alpha1'}
kind: ${kind}
metadata: ${meta}
spec:
${spec}
`;

const ECHO_SERVER = doc('Workload', '{name: echo-1, namespace: shop, labels: {app: echo}}', `  address: 127.0.0.21
  proxyless: true
  inbound: [{service: echo, port: grpc, listenPort: 50051}]`);
const CLIENT = doc('Workload', '{name: client-1, namespace: shop, labels: {app: client}}', `  address: 127.0.0.22
  proxyless: true
  outbound: [{service: echo, port: grpc}]`);

const parse = (...docs: string[]) => parseTestYaml(SERVICES + docs.join(''));
const warnings = (result: ReturnType<typeof parse>) => violationLines(result).filter((l) => l.includes('warning:'));

describe('proxyless workloads', () => {
  it('a server and a client with GRPC ports validate cleanly', () => {
    expect(parse(ECHO_SERVER, CLIENT).violations).toEqual([]);
  });

  it('speak gRPC only: non-GRPC Service ports and ExternalServices are errors', () => {
    const result = parse(
      doc('Workload', '{name: echo-1, namespace: shop}', `  address: 127.0.0.21
  proxyless: true
  inbound: [{service: echo, port: http-api, listenPort: 8080}]
  outbound: [{service: echo, port: http-api}, {service: telemetry}]`),
    );
    expect(errorLines(result)).toEqual([
      'test.yaml:11: spec.inbound[0].port: port http-api of Service echo is HTTP, and a proxyless workload speaks gRPC only: set protocol: GRPC on that Service port, or run this workload with an Envoy sidecar (remove proxyless)',
      'test.yaml:11: spec.outbound[0].port: port http-api of Service echo.shop is HTTP, and a proxyless workload speaks gRPC only: set protocol: GRPC on that Service port, or use an Envoy sidecar',
      'test.yaml:11: spec.outbound[1].service: telemetry is an ExternalService; a proxyless workload reaches only mesh Services through xDS: have the application connect to it directly and remove this outbound, or use an Envoy sidecar',
    ]);
  });

  it('cannot be STRICT (it has no certificate): an error naming the deciding policy, fixed by a workload-level exception', () => {
    const strict = doc('PeerAuthentication', '{name: default, namespace: mesh-system}', '  mtls: {mode: STRICT}');
    expect(errorLines(parse(ECHO_SERVER, CLIENT, strict))).toEqual([
      'test.yaml:11: spec.inbound[0]: PeerAuthentication mesh-system/default (test.yaml:27) makes port 50051 STRICT, but a proxyless workload gets no certificate from meshplane and serves plaintext only, so nothing would enforce STRICT: add a PeerAuthentication in namespace shop selecting this workload\'s labels with mtls.mode PERMISSIVE or DISABLE (or portLevelMtls 50051), or run it with an Envoy sidecar (remove proxyless)',
    ]);
    const exception = doc('PeerAuthentication', '{name: echo-plaintext, namespace: shop}', `  selector: {matchLabels: {app: echo}}
  portLevelMtls: {50051: {mode: PERMISSIVE}}`);
    expect(errorLines(parse(ECHO_SERVER, CLIENT, strict, exception))).toEqual([]);
  });

  it('are not sent STRICT sidecar endpoints, with a warning on the outbound', () => {
    const sidecar = (name: string, address: string, labels: string) =>
      doc('Workload', `{name: ${name}, namespace: shop, labels: ${labels}}`, `  address: ${address}
  inbound: [{service: echo, port: grpc, listenPort: 15051, targetPort: 50051}]`);
    const strict = doc('PeerAuthentication', '{name: legacy-strict, namespace: shop}', `  selector: {matchLabels: {app: legacy}}
  mtls: {mode: STRICT}`);
    const result = parse(ECHO_SERVER, CLIENT, sidecar('echo-2', '127.0.0.23', '{app: legacy}'), sidecar('echo-3', '127.0.0.24', '{app: echo}'), strict);
    expect(errorLines(result)).toEqual([]);
    expect(warnings(result)).toEqual([
      "test.yaml:19: spec.outbound[0].service: warning: shop/echo-2 serves echo.shop:grpc with STRICT mTLS, refusing this proxyless client's plaintext, so it is not sent that endpoint; make that port PERMISSIVE, or call the service through an Envoy sidecar",
    ]);
  });

  it('cannot match principals or namespaces, nor run AUDIT or dry-run policies: warnings', () => {
    const allow = doc('AuthorizationPolicy', '{name: echo-allow, namespace: shop}', `  selector: {matchLabels: {app: echo}}
  rules:
    - from: [{source: {principals: [cluster.local/ns/shop/sa/client]}}]
    - from: [{source: {ipBlocks: [127.0.0.22]}}]
      when: [{key: source.namespace, values: [shop]}]
    - from: [{source: {ipBlocks: [127.0.0.22]}}]`);
    const audit = doc('AuthorizationPolicy', '{name: echo-audit, namespace: shop}', `  action: AUDIT
  rules: [{}]`);
    const dryRun = doc('AuthorizationPolicy', '{name: echo-dry-run, namespace: shop, annotations: {istio.io/dry-run: "true"}}', `  action: DENY
  rules: [{}]`);
    expect(warnings(parse(ECHO_SERVER, CLIENT, allow, audit, dryRun))).toEqual([
      "test.yaml:27: spec.rules[0]: warning: from.source.principals compare the caller's mesh identity, and proxyless workload shop/echo-1 receives plaintext only (no peer certificate): there principals and namespaces never match and their not* forms always do, so this ALLOW rule does not do what it says; match those callers by ipBlocks, or run the workload with an Envoy sidecar",
      "test.yaml:27: spec.rules[1]: warning: when source.namespace compare the caller's mesh identity, and proxyless workload shop/echo-1 receives plaintext only (no peer certificate): there principals and namespaces never match and their not* forms always do, so this ALLOW rule does not do what it says; match those callers by ipBlocks, or run the workload with an Envoy sidecar",
      'test.yaml:38: spec.action: warning: an AUDIT policy is not evaluated on proxyless workloads shop/client-1, shop/echo-1: grpc-js-xds has no RBAC LOG action and no shadow rules, so meshplane leaves it out for them',
      'test.yaml:45: metadata.annotations["istio.io/dry-run"]: warning: a dry-run policy is not evaluated on proxyless workloads shop/client-1, shop/echo-1: grpc-js-xds has no RBAC LOG action and no shadow rules, so meshplane leaves it out for them',
    ]);
  });

  it('bind their port on every address (grpc-js), so they clash with any loopback listener on that port', () => {
    const other = doc('Workload', '{name: web-1, namespace: shop}', `  address: 127.0.0.30
  inbound: [{service: echo, port: http-api, listenPort: 50051, targetPort: 8080}]`);
    expect(errorLines(parse(ECHO_SERVER, other))).toEqual([
      'test.yaml:11: spec.inbound[0].listenPort: 127.0.0.21:50051 is also listened on by Workload web-1.shop spec.inbound[0].listenPort (test.yaml:19, 127.0.0.30:50051) (a proxyless gRPC server binds its port on every address): give each listener its own address:port',
      'test.yaml:19: spec.inbound[0].listenPort: 127.0.0.30:50051 is also listened on by Workload echo-1.shop spec.inbound[0].listenPort (test.yaml:11, 127.0.0.21:50051) (a proxyless gRPC server binds its port on every address): give each listener its own address:port',
    ]);
  });
});
