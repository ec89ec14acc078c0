import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, serviceYaml } from './model-test-helpers.ts';

const SERVICES = `${serviceYaml('backend', 'shop', '[{name: http-api}, {name: grpc}]')}---
${serviceYaml('payments', 'shop', '[{name: http}]')}`;

const workload = (spec: string, meta = '{name: backend-1, namespace: shop}') =>
  parseTestYaml(`${SERVICES}---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: ${meta}
spec:
${spec}
`);

describe('Workload', () => {
  it('applies defaults: serviceAccount default, sidecar true, targetAddress 127.0.0.1, bind 127.0.0.1', () => {
    const result = workload(`  address: 127.0.0.11
  inbound: [{service: backend, port: http-api, listenPort: 18080, targetPort: 8080}]
  outbound: [{service: payments, port: http, listenPort: 19001}]`);
    expect(result.violations).toEqual([]);
    expect(result.model!.workloads[0]).toMatchObject({
      serviceAccount: 'default',
      address: '127.0.0.11',
      sidecar: true,
      inbound: [{ service: 'backend', port: 'http-api', listenPort: 18080, targetPort: 8080, targetAddress: '127.0.0.1' }],
      outbound: [{ service: 'payments', port: 'http', listenPort: 19001, bind: '127.0.0.1' }],
    });
  });

  it('keeps explicit targetAddress and bind', () => {
    const result = workload(`  address: 127.0.0.11
  serviceAccount: backend
  inbound: [{service: backend, port: grpc, listenPort: 18081, targetPort: 9090, targetAddress: 127.0.0.5}]
  outbound: [{service: payments.shop, port: http, listenPort: 19001, bind: 0.0.0.0}]`);
    expect(result.violations).toEqual([]);
    expect(result.model!.workloads[0]!.inbound[0]!.targetAddress).toBe('127.0.0.5');
    expect(result.model!.workloads[0]!.outbound[0]!.bind).toBe('0.0.0.0');
    expect(result.model!.workloads[0]!.serviceAccount).toBe('backend');
  });

  it('requires an IPv4 address, listenPort in range and targetPort for sidecars', () => {
    expect(errorLines(workload(`  inbound: [{service: backend, port: http-api, listenPort: 70000}, {service: backend, port: grpc, listenPort: 18081}]`))).toEqual([
      'test.yaml:11: spec.address: "address" is required: set the IPv4 address where peers reach this workload, e.g. 127.0.0.11 (any 127.x works locally)',
      'test.yaml:11: spec.inbound[0].listenPort: must be between 1 and 65535, got 70000',
      'test.yaml:11: spec.inbound[0].targetPort: "targetPort" is required: set the port the application listens on; the sidecar forwards listenPort to targetAddress:targetPort',
      'test.yaml:11: spec.inbound[1].targetPort: "targetPort" is required: set the port the application listens on; the sidecar forwards listenPort to targetAddress:targetPort',
    ]);
    expect(errorLines(workload('  address: localhost'))).toEqual([
      'test.yaml:11: spec.address: "localhost" is not an IPv4 address: use a literal such as 127.0.0.11',
    ]);
    expect(errorLines(workload('  address: 0.0.0.0'))).toEqual([
      'test.yaml:11: spec.address: peers cannot reach 0.0.0.0: use the address of this workload, e.g. 127.0.0.11',
    ]);
    expect(errorLines(workload('  address: 127.0.0.011'))[0]).toContain('is not an IPv4 address');
  });

  it('rejects wrong types with a fix', () => {
    expect(errorLines(workload(`  address: 127.0.0.11
  sidecar: "false"
  inbound: [{service: backend, port: 8080, listenPort: "18080", targetPort: 8080}]`))).toEqual([
      'test.yaml:11: spec.sidecar: must be true or false (unquoted), got the string "false"',
      'test.yaml:11: spec.inbound[0].port: must be the name of a port of the Service (e.g. http-api), got the number 8080: numbers go in listenPort/targetPort',
      'test.yaml:11: spec.inbound[0].listenPort: must be a whole number, got the string "18080": remove the quotes',
    ]);
  });

  it('reports misspelled and misplaced fields', () => {
    expect(errorLines(workload(`  address: 127.0.0.11
  inbound: [{service: backend, port: http-api, listenport: 18080, targetPort: 8080, protocol: HTTP}]`))).toEqual([
      'test.yaml:11: spec.inbound[0].listenport: unknown field "listenport"; did you mean "listenPort"?',
      'test.yaml:11: spec.inbound[0].protocol: field "protocol" is not supported: the protocol comes from the Service port (spec.ports[].protocol of the Service); remove it',
      'test.yaml:11: spec.inbound[0].listenPort: "listenPort" is required: set the port the sidecar listens on for peers',
    ]);
  });

  it('rejects a sidecar that would forward to its own listener', () => {
    expect(errorLines(workload(`  address: 127.0.0.1
  inbound: [{service: backend, port: http-api, listenPort: 8080, targetPort: 8080}]`))).toEqual([
      'test.yaml:11: spec.inbound[0].targetPort: the sidecar would forward 127.0.0.1:8080 to itself: give the application a different targetPort or targetAddress',
    ]);
  });

  describe('without a sidecar', () => {
    it('targetPort defaults to listenPort and targetAddress is the address', () => {
      const result = workload(`  address: 127.0.0.21
  sidecar: false
  inbound: [{service: backend, port: http-api, listenPort: 8080}, {service: backend, port: grpc, listenPort: 9090, targetPort: 9090, targetAddress: 127.0.0.21}]`);
      expect(result.violations).toEqual([]);
      expect(result.model!.workloads[0]).toMatchObject({
        sidecar: false,
        inbound: [
          { listenPort: 8080, targetPort: 8080, targetAddress: '127.0.0.21' },
          { listenPort: 9090, targetPort: 9090, targetAddress: '127.0.0.21' },
        ],
        outbound: [],
      });
    });

    it('rejects forwarding and outbound ports, which need a sidecar', () => {
      expect(errorLines(workload(`  address: 127.0.0.21
  sidecar: false
  inbound: [{service: backend, port: http-api, listenPort: 8080, targetPort: 9090, targetAddress: 127.0.0.1}]
  outbound: [{service: payments, port: http, listenPort: 19001}]`))).toEqual([
        'test.yaml:11: spec.inbound[0].targetPort: a workload without a sidecar receives traffic directly on listenPort 8080; targetPort 9090 would need a sidecar to forward: remove targetPort or set sidecar: true',
        'test.yaml:11: spec.inbound[0].targetAddress: a workload without a sidecar receives traffic directly on its address 127.0.0.21; targetAddress 127.0.0.1 would need a sidecar to forward: remove targetAddress or set sidecar: true',
        'test.yaml:11: spec.outbound: a workload without a sidecar cannot have outbound ports (there is no sidecar to listen): remove spec.outbound or set sidecar: true',
      ]);
    });
  });

  describe('proxyless', () => {
    it('is served like a sidecar, listens on listenPort itself and dials outbounds over xDS (no local listener)', () => {
      const result = parseTestYaml(`${serviceYaml('echo', 'shop', '[{name: grpc, protocol: GRPC}]')}---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: echo-1, namespace: shop}
spec:
  address: 127.0.0.21
  proxyless: true
  inbound: [{service: echo, port: grpc, listenPort: 50051}]
  outbound: [{service: echo, port: grpc}]
`);
      expect(result.violations).toEqual([]);
      expect(result.model!.workloads[0]).toMatchObject({
        sidecar: true,
        proxyless: true,
        inbound: [{ service: 'echo', port: 'grpc', listenPort: 50051, targetPort: 50051, targetAddress: '127.0.0.21' }],
        outbound: [{ service: 'echo', port: 'grpc' }],
      });
      expect(result.model!.workloads[0]!.outbound[0]).not.toHaveProperty('listenPort');
    });

    it('cannot be combined with sidecar: false', () => {
      expect(errorLines(workload(`  address: 127.0.0.21
  sidecar: false
  proxyless: true`))).toEqual([
        'test.yaml:11: spec.sidecar: a proxyless workload is served by the control plane like a sidecar (the app speaks xDS itself); sidecar: false would mean nothing serves it: remove sidecar: false, or remove proxyless: true for a plain workload without a sidecar',
      ]);
    });

    it('rejects forwarding, and listeners for outbounds, which it does not have', () => {
      expect(errorLines(workload(`  address: 127.0.0.21
  proxyless: true
  inbound: [{service: backend, port: grpc, listenPort: 50051, targetPort: 9090, targetAddress: 127.0.0.1}]
  outbound: [{service: payments, port: http, listenPort: 19001, bind: 127.0.0.1}]`)).filter((l) => !l.includes('speaks gRPC only'))).toEqual([
        "test.yaml:11: spec.inbound[0].targetPort: a proxyless workload's application listens on listenPort 50051 itself (no sidecar forwards to a targetPort): remove targetPort, or set it to 50051",
        "test.yaml:11: spec.inbound[0].targetAddress: a proxyless workload's application listens on its address 127.0.0.21 itself: remove targetAddress, or set it to 127.0.0.21",
        'test.yaml:11: spec.outbound[0].listenPort: a proxyless workload has no sidecar listening for it: the application dials xds:///<port>.<service>.<namespace> itself; remove listenPort',
        'test.yaml:11: spec.outbound[0].bind: a proxyless workload has no sidecar listening for it: the application dials xds:///<port>.<service>.<namespace> itself; remove bind',
      ]);
    });
  });

  it('validates metadata: name, namespace, labels, annotations, creationTimestamp', () => {
    const ok = workload('  address: 127.0.0.11', `
  name: backend-1
  namespace: shop
  labels: {app: backend, app.kubernetes.io/version: v1.2}
  annotations: {note: "anything: goes"}
  creationTimestamp: "2024-05-01T12:00:00+02:00"`);
    expect(ok.violations).toEqual([]);
    expect(ok.model!.workloads[0]!.metadata).toEqual({
      name: 'backend-1',
      namespace: 'shop',
      labels: { app: 'backend', 'app.kubernetes.io/version': 'v1.2' },
      annotations: { note: 'anything: goes' },
      creationTimestamp: '2024-05-01T12:00:00+02:00',
    });
    expect(errorLines(workload('  address: 127.0.0.11', `
  name: Backend.1
  namespace: shop
  uid: 1234
  labels: {version: 1, "bad key!": x, app: "-x"}
  creationTimestamp: "2024-13-01"`))).toEqual([
      'test.yaml:11: metadata.uid: field "uid" is not supported: is set by the Kubernetes API server and has no meaning here: remove it',
      'test.yaml:11: metadata.name: "Backend.1" is not a valid name: use at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit (RFC 1123 label), e.g. "backend-1"',
      'test.yaml:11: metadata.labels.version: must be a string, got the number 1: quote it ("1")',
      'test.yaml:11: metadata.labels.app: label value "-x" is not valid: use at most 63 letters, digits, \'-\', \'_\' or \'.\', starting and ending with a letter or digit',
      'test.yaml:11: metadata.labels["bad key!"]: label key "bad key!" is not valid: use at most 63 letters, digits, \'-\', \'_\' or \'.\', starting and ending with a letter or digit, optionally after a prefix like example.com/',
      'test.yaml:11: metadata.creationTimestamp: must be an RFC 3339 time with a time zone, such as "2024-05-01T12:00:00Z", got the string "2024-13-01"',
    ]);
  });

  it('defaults the namespace to "default"', () => {
    const result = parseTestYaml(`${serviceYaml('web', 'default', '[{name: http}]')}---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: web-1}
spec: {address: 127.0.0.31, inbound: [{service: web, port: http, listenPort: 80, targetPort: 8080}]}
`);
    expect(result.violations).toEqual([]);
    expect(result.model!.workloads[0]!.metadata.namespace).toBe('default');
  });
});
