import { describe, expect, it } from 'vitest';
import { parseModelFiles } from './load-model.ts';
import { MESH_YAML, serviceYaml, violationLines } from './model-test-helpers.ts';

const workload = (name: string, namespace: string, app: string, spec: string) => `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: ${namespace}, labels: {app: ${app}}}
spec: ${spec}
`;

/** web is HTTP on 8080, db TCP on 9000, multi both (8081 HTTP, 9001 TCP), cache TCP 7000 in bank; legacy has no sidecar. */
const TOPOLOGY = [
  serviceYaml('web', 'shop', '[{name: http}]'),
  serviceYaml('db', 'shop', '[{name: tcp-db}]'),
  serviceYaml('cache', 'bank', '[{name: tcp}]'),
  workload('web-1', 'shop', 'web', '{address: 127.0.0.11, inbound: [{service: web, port: http, listenPort: 18080, targetPort: 8080}]}'),
  workload('db-1', 'shop', 'db', '{address: 127.0.0.12, inbound: [{service: db, port: tcp-db, listenPort: 19000, targetPort: 9000}]}'),
  workload(
    'multi-1',
    'shop',
    'multi',
    '{address: 127.0.0.13, inbound: [{service: web, port: http, listenPort: 18081, targetPort: 8081}, {service: db, port: tcp-db, listenPort: 19001, targetPort: 9001}]}',
  ),
  workload('legacy-1', 'shop', 'legacy', '{address: 127.0.0.14, sidecar: false, inbound: [{service: web, port: http, listenPort: 8082}]}'),
  workload('cache-1', 'bank', 'cache', '{address: 127.0.0.15, inbound: [{service: cache, port: tcp, listenPort: 17000, targetPort: 7000}]}'),
].join('---\n');

const load = (policy: string) =>
  parseModelFiles([
    { file: 'mesh.yaml', text: MESH_YAML },
    { file: 'topology.yaml', text: TOPOLOGY },
    { file: 'policy.yaml', text: policy },
  ]);

/** The violations about policy.yaml, which holds one AuthorizationPolicy. */
const check = (spec: string, namespace = 'shop') =>
  violationLines(load(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: ${namespace}}
spec: ${spec}
`)).filter((l) => l.startsWith('policy.yaml'));

const onApp = (app: string, rest: string) => `{selector: {matchLabels: {app: ${app}}}, ${rest}}`;

describe('validateAuthorizationPolicies', () => {
  it('has a clean topology, and keeps the model when there are only warnings', () => {
    expect(load('').violations).toEqual([]);
    const result = load('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: empty}\n');
    expect(result.violations.map((v) => v.severity)).toEqual(['warning']);
    expect(result.model?.authorizationPolicies).toHaveLength(1);
  });

  describe('a policy nothing enforces', () => {
    it('names sidecar-less workloads it selects', () => {
      expect(check(onApp('legacy', 'rules: [{}]'))).toEqual([
        'policy.yaml: spec.selector: warning: selects no workload with a sidecar: nothing enforces it; it selects only workloads without a sidecar (shop/legacy-1), which cannot enforce policy: give them a sidecar, or remove the policy',
      ]);
    });

    it('names labels no workload has, in the namespace or in the mesh', () => {
      expect(check(onApp('nope', 'rules: [{}]'))).toEqual([
        'policy.yaml: spec.selector: warning: selects no workload with a sidecar: nothing enforces it; no Workload in namespace "shop" has the labels app=nope: fix spec.selector.matchLabels, or remove the policy',
      ]);
      expect(check(onApp('nope', 'rules: [{}]'), 'mesh-system')).toEqual([
        'policy.yaml: spec.selector: warning: selects no workload with a sidecar: nothing enforces it; no Workload in the mesh has the labels app=nope: fix spec.selector.matchLabels, or remove the policy',
      ]);
      // A root-namespace selector reaches other namespaces.
      expect(check(onApp('cache', 'rules: [{}]'), 'mesh-system')).toEqual([]);
    });

    it('names an empty namespace', () => {
      expect(check('{}', 'empty')).toEqual([
        'policy.yaml: metadata.namespace: warning: selects no workload with a sidecar: nothing enforces it; there is no Workload in namespace "empty": put the policy in the namespace of the workloads it protects, or remove it',
      ]);
      expect(check('{}')).toEqual([]);
      expect(check('{}', 'mesh-system')).toEqual([]);
    });
  });

  describe('HTTP-only fields on TCP ports', () => {
    it('warns that an ALLOW rule is skipped', () => {
      expect(check(onApp('db', 'rules: [{}, {to: [{operation: {methods: [GET], notPaths: [/x]}}, {operation: {hosts: [a]}}]}]'))).toEqual([
        'policy.yaml: spec.rules[1]: warning: this rule uses HTTP-only fields (to.operation.methods, to.operation.notPaths, to.operation.hosts) and applies to TCP port 9000 of shop/db-1: on TCP ports this ALLOW rule is skipped: it never allows a connection there (as in Istio); scope it with to.operation.ports',
      ]);
    });

    it.each(['DENY', 'AUDIT'])('warns that a %s rule widens', (action) => {
      expect(check(onApp('db', `action: ${action}, rules: [{when: [{key: "request.headers[x-id]", values: [a]}, {key: source.ip, values: [10.0.0.1]}]}]`))).toEqual([
        `policy.yaml: spec.rules[0]: warning: this rule uses HTTP-only fields (when request.headers[x-id]) and applies to TCP port 9000 of shop/db-1: on TCP ports those fields are ignored (as in Istio), so this ${action} rule matches every connection its other conditions match there; scope it with to.operation.ports`,
      ]);
    });

    it('names every TCP port a mesh-wide rule reaches, and no HTTP port', () => {
      expect(check('{rules: [{to: [{operation: {paths: [/a]}}]}]}', 'mesh-system')).toEqual([
        'policy.yaml: spec.rules[0]: warning: this rule uses HTTP-only fields (to.operation.paths) and applies to TCP ports 9000 of shop/db-1, 9001 of shop/multi-1, 7000 of bank/cache-1: on TCP ports this ALLOW rule is skipped: it never allows a connection there (as in Istio); scope it with to.operation.ports',
      ]);
      expect(check(onApp('web', 'rules: [{to: [{operation: {methods: [GET]}}]}]'))).toEqual([]);
      expect(check(onApp('db', 'rules: [{from: [{source: {namespaces: [shop]}}]}]'))).toEqual([]);
    });

    it.each([
      ['ports', 'to: [{operation: {methods: [GET], ports: ["8081"]}}]'],
      ['notPorts', 'to: [{operation: {methods: [GET], notPorts: ["9001"]}}]'],
      ['destination.port values', 'to: [{operation: {methods: [GET]}}], when: [{key: destination.port, values: ["8081"]}]'],
      ['destination.port notValues', 'to: [{operation: {methods: [GET]}}], when: [{key: destination.port, notValues: ["9001"]}]'],
    ])('stays quiet when %s keep the rule off the TCP port', (_, rule) => {
      expect(check(onApp('multi', `rules: [{${rule}}]`))).toEqual([]);
      expect(check(onApp('multi', `action: DENY, rules: [{${rule}}]`))).toEqual([]);
    });

    it('warns for an ALLOW rule whose other operation reaches the TCP port, not for DENY', () => {
      const rule = 'to: [{operation: {methods: [GET], ports: ["8081"]}}, {operation: {ports: ["9001"]}}]';
      expect(check(onApp('multi', `rules: [{${rule}}]`))).toEqual([
        'policy.yaml: spec.rules[0]: warning: this rule uses HTTP-only fields (to.operation.methods) and applies to TCP port 9001 of shop/multi-1: on TCP ports this ALLOW rule is skipped: it never allows a connection there (as in Istio); scope it with to.operation.ports',
      ]);
      // DENY only drops the fields: the methods operation stays scoped to 8081.
      expect(check(onApp('multi', `action: DENY, rules: [{${rule}}]`))).toEqual([]);
    });
  });

  describe('ports that are not targetPorts', () => {
    it('points from a listenPort to its targetPort', () => {
      expect(check(onApp('web', 'rules: [{to: [{operation: {ports: ["8080", "18080"]}}]}]'))).toEqual([
        'policy.yaml: spec.rules[0].to[0].operation.ports[1]: warning: port 18080 is not a targetPort of any selected workload (policies name targetPorts, not listenPorts): their targetPorts are 8080; 18080 is the listenPort of shop/web-1, which forwards to targetPort 8080: write 8080',
      ]);
    });

    it('checks notPorts and destination.port values', () => {
      expect(check(onApp('multi', 'rules: [{to: [{operation: {}}, {operation: {notPorts: [1234]}}], when: [{key: destination.port, values: ["8081"], notValues: ["19001"]}]}]'))).toEqual([
        'policy.yaml: spec.rules[0].to[1].operation.notPorts[0]: warning: port 1234 is not a targetPort of any selected workload (policies name targetPorts, not listenPorts): their targetPorts are 8081, 9001',
        'policy.yaml: spec.rules[0].when[0].notValues[0]: warning: port 19001 is not a targetPort of any selected workload (policies name targetPorts, not listenPorts): their targetPorts are 8081, 9001; 19001 is the listenPort of shop/multi-1, which forwards to targetPort 9001: write 9001',
      ]);
    });

    it('leaves policies with errors to their errors', () => {
      expect(check(onApp('web', 'rules: [{to: [{operation: {ports: ["http", "18080"], methods: [GET]}}]}]'))).toEqual([
        'policy.yaml: spec.rules[0].to[0].operation.ports[0]: "http" is not a port number: write a targetPort from 1 to 65535, such as "8080"',
      ]);
    });
  });
});
