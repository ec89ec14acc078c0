import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, serviceYaml, violationLines } from './model-test-helpers.ts';
import { protocolFromPortName } from './port-protocol.ts';

const service = (ports: string) => parseTestYaml(serviceYaml('backend', 'shop', ports));

describe('Service ports and protocols', () => {
  it('takes the protocol from the field (any case) or from the Istio-style name prefix', () => {
    const result = service(`[
      {name: api, protocol: http}, {name: rpc, protocol: Grpc},
      {name: http}, {name: http-web}, {name: http2}, {name: http2-stream},
      {name: grpc}, {name: grpc-web}, {name: tcp}, {name: tcp-db}, {name: db, protocol: TCP}]`);
    expect(result.violations).toEqual([]);
    expect(result.model!.services[0]!.ports).toEqual([
      { name: 'api', protocol: 'HTTP' },
      { name: 'rpc', protocol: 'GRPC' },
      { name: 'http', protocol: 'HTTP' },
      { name: 'http-web', protocol: 'HTTP' },
      { name: 'http2', protocol: 'HTTP2' },
      { name: 'http2-stream', protocol: 'HTTP2' },
      { name: 'grpc', protocol: 'GRPC' },
      { name: 'grpc-web', protocol: 'GRPC' },
      { name: 'tcp', protocol: 'TCP' },
      { name: 'tcp-db', protocol: 'TCP' },
      { name: 'db', protocol: 'TCP' },
    ]);
  });

  it('recognises only whole prefixes', () => {
    expect(protocolFromPortName('https')).toBeUndefined();
    expect(protocolFromPortName('httpapi')).toBeUndefined();
    expect(protocolFromPortName('tcpx')).toBeUndefined();
    expect(protocolFromPortName('http2-x')).toEqual({ prefix: 'http2', protocol: 'HTTP2' });
  });

  it('warns and defaults to TCP when the protocol cannot be determined', () => {
    const result = service('[{name: api}]');
    expect(result.model!.services[0]!.ports).toEqual([{ name: 'api', protocol: 'TCP' }]);
    expect(result.violations).toEqual([
      {
        file: 'test.yaml',
        path: 'spec.ports[0].name',
        message: 'protocol of port "api" cannot be determined; defaulting to TCP: name it http-api / tcp-api or set protocol',
        severity: 'warning',
      },
    ]);
  });

  it('rejects a protocol that contradicts the name prefix, and unknown protocols', () => {
    expect(errorLines(service('[{name: http-api, protocol: TCP}, {name: x, protocol: UDP}]'))).toEqual([
      'test.yaml: spec.ports[0].protocol: protocol TCP contradicts the port name "http-api", whose prefix "http" means HTTP: rename the port (e.g. "tcp-api") or set protocol: HTTP',
      'test.yaml: spec.ports[1].protocol: protocol "UDP" is not supported: use one of HTTP, HTTP2, GRPC, TCP',
    ]);
  });

  it('requires unique DNS-label port names and at least one port', () => {
    expect(errorLines(service('[{name: http}, {name: http, protocol: HTTP}, {name: Http_Admin}, {protocol: TCP}]'))).toEqual([
      'test.yaml: spec.ports[1].name: port name "http" is already used by spec.ports[0]: port names must be unique within a Service; rename one',
      'test.yaml: spec.ports[2].name: "Http_Admin" is not a valid name: use at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit (RFC 1123 label), e.g. "http-admin"',
      'test.yaml: spec.ports[3].name: "name" is required: name the port, e.g. http-api (the prefix sets the protocol)',
    ]);
    expect(errorLines(service('[]'))).toEqual([
      'test.yaml: spec.ports: must list at least one port, e.g. ports: [{name: http-api, protocol: HTTP}]',
    ]);
    expect(errorLines(parseTestYaml('apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: a}\n'))).toEqual([
      'test.yaml: spec: a Service needs a spec: add spec: {ports: [{name: http-api, protocol: HTTP}]}',
    ]);
  });

  it('explains that port numbers belong to Workloads', () => {
    expect(violationLines(service('[{name: http, port: 8080}]'))).toEqual([
      'test.yaml: spec.ports[0].port: field "port" is not supported: Service ports have no number in meshplane: each Workload sets spec.inbound[].listenPort/targetPort for this port name; remove it',
    ]);
  });
});
