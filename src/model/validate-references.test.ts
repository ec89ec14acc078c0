import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, serviceYaml, violationLines } from './model-test-helpers.ts';

const SERVICES = [
  serviceYaml('backend', 'shop', '[{name: http-api}, {name: grpc}]'),
  serviceYaml('payments', 'shop', '[{name: http}, {name: grpc-admin}]'),
  serviceYaml('ledger', 'bank', '[{name: tcp-db}]'),
  `apiVersion: meshplane.dev/v1alpha1
kind: ExternalService
metadata: {name: telemetry, namespace: shop}
spec: {address: 127.0.0.1, port: 4317, protocol: TCP}
`,
].join('---\n');

/** Services are documents #0..#3 of test.yaml (starting on lines 1, 6, 11, 16); workloads follow from #4 (line 21, then every 5 lines for two-line workloads). */
const withWorkloads = (...workloads: string[]) =>
  parseTestYaml(
    [
      SERVICES,
      ...workloads.map(
        (w) => `apiVersion: meshplane.dev/v1alpha1
kind: Workload
${w}
`,
      ),
    ].join('---\n'),
  );

describe('validateReferences', () => {
  it('resolves inbound and outbound references across namespaces and to ExternalServices', () => {
    const result = withWorkloads(`metadata: {name: frontend-1, namespace: shop}
spec:
  address: 127.0.0.12
  inbound: [{service: backend, port: grpc, listenPort: 18081, targetPort: 9090}]
  outbound:
    - {service: payments, port: grpc-admin, listenPort: 19001}
    - {service: ledger.bank, port: tcp-db, listenPort: 19002}
    - {service: telemetry, listenPort: 19003}
    - {service: telemetry.shop, port: "4317", listenPort: 19004}
    - {service: telemetry, port: 4317, listenPort: 19005}`);
    expect(result.violations).toEqual([]);
    expect(result.model!.workloads[0]!.outbound.map((o) => o.port)).toEqual(['grpc-admin', 'tcp-db', undefined, '4317', '4317']);
    expect(result.model!.workloads[0]!.outbound[2]).not.toHaveProperty('port');
  });

  it('reports missing services with the exact fix', () => {
    const result = withWorkloads(`metadata: {name: frontend-1, namespace: shop}
spec:
  address: 127.0.0.12
  inbound: [{service: backnd, port: http-api, listenPort: 18080, targetPort: 8080}, {service: telemetry, port: x, listenPort: 18081, targetPort: 8081}]
  outbound: [{service: payments.shop, port: http, listenPort: 19001}, {service: payments.bank, port: http, listenPort: 19002}, {service: nothing, listenPort: 19003}]`);
    expect(errorLines(result)).toEqual([
      'test.yaml:21: spec.inbound[0].service: service "backnd" not found in namespace "shop": define a Service named backnd in namespace shop, or fix spec.inbound[0].service; did you mean "backend"?',
      'test.yaml:21: spec.inbound[1].service: "telemetry" is an ExternalService (test.yaml:16); inbound ports serve a Service of the mesh: define a Service, or fix spec.inbound[1].service',
      'test.yaml:21: spec.outbound[1].service: service "payments.bank" not found: define a Service named payments in namespace bank, or fix spec.outbound[1].service',
      'test.yaml:21: spec.outbound[2].service: service "nothing" not found: define a Service named nothing in namespace shop, or fix spec.outbound[2].service',
    ]);
  });

  it('matches the message of the spec for an outbound to a missing service', () => {
    const result = parseTestYaml(`apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: web, namespace: shop}
spec: {address: 127.0.0.12, outbound: [{service: payments.shop, port: http, listenPort: 19001}]}
`);
    expect(result.violations).toEqual([
      {
        file: 'test.yaml',
        path: 'spec.outbound[0].service',
        message: 'service "payments.shop" not found: define a Service named payments in namespace shop, or fix spec.outbound[0].service',
        severity: 'error',
      },
    ]);
  });

  it('reports missing ports listing the ones that exist', () => {
    const result = withWorkloads(`metadata: {name: frontend-1, namespace: shop}
spec:
  address: 127.0.0.12
  inbound: [{service: backend, port: http, listenPort: 18080, targetPort: 8080}, {service: backend, port: http-apu, listenPort: 18081, targetPort: 8081}]
  outbound:
    - {service: payments, listenPort: 19001}
    - {service: payments, port: grpc, listenPort: 19002}
    - {service: telemetry, port: "4318", listenPort: 19003}
    - {service: a.b.c, port: x, listenPort: 19004}`);
    expect(errorLines(result)).toEqual([
      'test.yaml:21: spec.outbound[3].service: "a.b.c" is not a service reference: write NAME (same namespace) or NAME.NAMESPACE, e.g. payments.shop',
      'test.yaml:21: spec.inbound[0].port: Service "backend.shop" has no port named "http" (its ports: http-api, grpc): use one of them, or add the port to the Service in test.yaml:1',
      'test.yaml:21: spec.inbound[1].port: Service "backend.shop" has no port named "http-apu" (its ports: http-api, grpc): use one of them, or add the port to the Service in test.yaml:1; did you mean "http-api"?',
      'test.yaml:21: spec.outbound[0].port: "port" is required for Service "payments.shop": set it to one of its port names: http, grpc-admin',
      'test.yaml:21: spec.outbound[1].port: Service "payments.shop" has no port named "grpc" (its ports: http, grpc-admin): use one of them, or add the port to the Service in test.yaml:6',
      'test.yaml:21: spec.outbound[2].port: ExternalService "telemetry.shop" has the single port 4317: set port to "4317" or omit it',
    ]);
  });

  it('rejects a Service port served twice by one workload', () => {
    const result = withWorkloads(`metadata: {name: backend-1, namespace: shop}
spec:
  address: 127.0.0.11
  inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}, {service: backend, port: http-api, listenPort: 18081, targetPort: 8080}]`);
    expect(errorLines(result)).toEqual([
      'test.yaml:21: spec.inbound[1].port: port http-api of Service backend is already served by spec.inbound[0]: remove one of the two inbound entries',
    ]);
  });

  it('rejects duplicate names per kind and namespace; Services and ExternalServices share names', () => {
    const result = parseTestYaml(
      [
        serviceYaml('api', 'shop', '[{name: http}]'),
        serviceYaml('api', 'shop', '[{name: http}]'),
        serviceYaml('api', 'other', '[{name: http}]'),
        `apiVersion: meshplane.dev/v1alpha1
kind: ExternalService
metadata: {name: api, namespace: shop}
spec: {address: 10.0.0.1, port: 80, protocol: HTTP}
`,
        `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: api, namespace: shop}
spec: {address: 127.0.0.2}
`,
        `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: api, namespace: shop}
spec: {address: 127.0.0.3}
`,
      ].join('---\n'),
    );
    expect(errorLines(result)).toEqual([
      'test.yaml:6: metadata.name: Service "api" in namespace "shop" clashes with the Service of the same name in test.yaml:1: rename one of them',
      'test.yaml:16: metadata.name: ExternalService "api" in namespace "shop" clashes with the Service of the same name in test.yaml:1 (Services and ExternalServices share one set of names because outbounds reference both): rename one of them',
      'test.yaml:26: metadata.name: Workload "api" in namespace "shop" clashes with the Workload of the same name in test.yaml:21: rename one of them',
    ]);
  });

  describe('listener clashes', () => {
    it('reports two workloads listening on the same address:port on both sides', () => {
      const result = withWorkloads(
        `metadata: {name: backend-1, namespace: shop}
spec: {address: 127.0.0.11, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}]}`,
        `metadata: {name: backend-2, namespace: shop}
spec: {address: 127.0.0.11, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8081}]}`,
      );
      expect(errorLines(result)).toEqual([
        'test.yaml:21: spec.inbound[0].listenPort: 127.0.0.11:18080 is also listened on by Workload backend-2.shop spec.inbound[0].listenPort (test.yaml:26, 127.0.0.11:18080): give each listener its own address:port',
        'test.yaml:26: spec.inbound[0].listenPort: 127.0.0.11:18080 is also listened on by Workload backend-1.shop spec.inbound[0].listenPort (test.yaml:21, 127.0.0.11:18080): give each listener its own address:port',
      ]);
    });

    it('checks outbound binds, sidecar-less apps and 0.0.0.0 against everything on that port', () => {
      const result = withWorkloads(
        `metadata: {name: frontend-1, namespace: shop}
spec: {address: 127.0.0.12, outbound: [{service: payments, port: http, listenPort: 19001}]}`,
        `metadata: {name: frontend-2, namespace: shop}
spec: {address: 127.0.0.13, outbound: [{service: payments, port: http, listenPort: 19001, bind: 0.0.0.0}]}`,
        `metadata: {name: legacy, namespace: shop}
spec: {address: 127.0.0.1, sidecar: false, inbound: [{service: payments, port: http, listenPort: 19001}]}`,
        `metadata: {name: other, namespace: shop}
spec: {address: 127.0.0.14, outbound: [{service: payments, port: http, listenPort: 19001, bind: 127.0.0.14}]}`,
      );
      expect(errorLines(result).map((l) => l.split(' is also')[0])).toEqual([
        'test.yaml:21: spec.outbound[0].listenPort: 127.0.0.1:19001',
        'test.yaml:26: spec.outbound[0].listenPort: 0.0.0.0:19001',
        'test.yaml:31: spec.inbound[0].listenPort: 127.0.0.1:19001',
        'test.yaml:36: spec.outbound[0].listenPort: 127.0.0.14:19001',
      ]);
      expect(errorLines(result)[1]).toContain('Workload frontend-1.shop spec.outbound[0].listenPort (test.yaml:21, 127.0.0.1:19001); Workload legacy.shop');
    });

    it('allows the same port on different addresses, and the same app port behind different sidecars', () => {
      const result = withWorkloads(
        `metadata: {name: backend-1, namespace: shop}
spec: {address: 127.0.0.11, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}], outbound: [{service: payments, port: http, listenPort: 18080}]}`,
        `metadata: {name: backend-2, namespace: shop}
spec: {address: 127.0.0.12, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}]}`,
      );
      expect(result.violations).toEqual([]);
    });

    it('reports a clash inside one workload', () => {
      const result = withWorkloads(`metadata: {name: backend-1, namespace: shop}
spec: {address: 127.0.0.1, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}], outbound: [{service: payments, port: http, listenPort: 18080}]}`);
      expect(errorLines(result)).toEqual([
        'test.yaml:21: spec.inbound[0].listenPort: 127.0.0.1:18080 is also listened on by Workload backend-1.shop spec.outbound[0].listenPort (test.yaml:21, 127.0.0.1:18080): give each listener its own address:port',
        'test.yaml:21: spec.outbound[0].listenPort: 127.0.0.1:18080 is also listened on by Workload backend-1.shop spec.inbound[0].listenPort (test.yaml:21, 127.0.0.1:18080): give each listener its own address:port',
      ]);
    });
  });

  it('gives an inbound port the protocol of its Service port', () => {
    const result = withWorkloads(`metadata: {name: backend-1, namespace: shop}
spec: {address: 127.0.0.11, inbound: [{service: backend, port: grpc, listenPort: 18081, targetPort: 9090}]}`);
    const model = result.model!;
    const inbound = model.workloads[0]!.inbound[0]!;
    const service = model.services.find((s) => s.metadata.name === inbound.service && s.metadata.namespace === 'shop')!;
    expect(service.ports.find((p) => p.name === inbound.port)!.protocol).toBe('GRPC');
  });

  it('warns when a portLevelMtls key is a listenPort rather than a targetPort', () => {
    const result = parseTestYaml(`${SERVICES}---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: backend-1, namespace: shop, labels: {app: backend}}
spec: {address: 127.0.0.11, inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: backend, namespace: shop}
spec: {selector: {matchLabels: {app: backend}}, portLevelMtls: {8080: {mode: DISABLE}, 18080: {mode: DISABLE}}}
`);
    expect(result.model).toBeDefined();
    expect(violationLines(result)).toEqual([
      'test.yaml:26: spec.portLevelMtls[18080]: warning: port 18080 is not a targetPort of any workload this policy selects (their targetPorts: 8080), so it has no effect: portLevelMtls keys are the ports the application listens on; 18080 is the listenPort of backend-1.shop spec.inbound[0], use its targetPort 8080',
    ]);
  });
});
