/**
 * Regressions for what config-fuzz.test.ts found, each as the smallest config that showed it.
 * Before the fixes, 1-4 were accepted by `meshplane validate` and then rejected by Envoy (the
 * whole cluster or listener NACKed); 5 made one-line errors 100 KB long; 6 said only "Maximum
 * call stack size exceeded"; 7 (found once the fuzzer compared clusters of one name) sent gRPC as HTTP/1.1.
 */
import { describe, expect, it } from 'vitest';
import { parseModelFiles } from '../../src/model/load-model.ts';
import { buildProxyPlans } from '../../src/plan/build-proxy-plans.ts';
import { buildUpstreamCluster } from '../../src/translate/clusters.ts';
import { EXTERNAL_CA_PEM } from './arbitraries.ts';

const MESH = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
---
apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: b, namespace: shop}
spec: {ports: [{name: http}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: b-1, namespace: shop, labels: {app: b}}
spec: {address: 127.0.0.11, inbound: [{service: b, port: http, listenPort: 18080, targetPort: 8080}]}
`;
const policy = (rule: string) =>
  `${MESH}---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec: {action: DENY, rules: [${rule}]}\n`;
const external = (spec: string) =>
  `${MESH}---\napiVersion: meshplane.dev/v1alpha1\nkind: ExternalService\nmetadata: {name: e, namespace: shop}\nspec: ${spec}\n` +
  `---\napiVersion: meshplane.dev/v1alpha1\nkind: Workload\nmetadata: {name: c-1, namespace: shop}\nspec: {address: 127.0.0.12, outbound: [{service: e, listenPort: 19000}]}\n`;
const load = (text: string) => parseModelFiles([{ file: 'a.yaml', text }]);
const errors = (text: string) => load(text).violations.filter((v) => v.severity === 'error').map((v) => `${v.path}: ${v.message}`);

describe('fuzz-found bugs stay fixed', () => {
  it('1. ExternalService caCertificates is sent inline, not as a file name (Envoy: "Invalid path: -----BEGIN CERTIFICATE-----")', () => {
    const { model } = load(external(JSON.stringify({ address: '10.0.0.1', port: 443, protocol: 'TCP', tls: 'SIMPLE', caCertificates: EXTERNAL_CA_PEM })));
    const plan = buildProxyPlans(model!).find((p) => p.nodeId === 'c-1.shop')!;
    const cluster = JSON.stringify(buildUpstreamCluster(plan.outbound[0]!.upstream));
    expect(cluster).toContain(JSON.stringify({ inline_string: EXTERNAL_CA_PEM }));
    expect(cluster).not.toContain('"filename":"-----BEGIN');
    // Without caCertificates: the system bundle, by file name.
    const { model: system } = load(external('{address: 10.0.0.1, port: 443, protocol: TCP, tls: SIMPLE}'));
    expect(JSON.stringify(buildUpstreamCluster(buildProxyPlans(system!).find((p) => p.nodeId === 'c-1.shop')!.outbound[0]!.upstream))).toContain('"filename":"/etc/ssl/certs/ca-certificates.crt"');
  });

  it('2. caCertificates must be whole, parseable certificates (Envoy: "Failed to load trusted CA certificates")', () => {
    const spec = (ca: string) => JSON.stringify({ address: '10.0.0.1', port: 443, protocol: 'TCP', tls: 'SIMPLE', caCertificates: ca });
    expect(errors(external(spec('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n')))).toEqual([
      expect.stringMatching(/^spec\.caCertificates: certificate 1 of 1 is not a valid PEM certificate \(.*\): paste it again from its source$/),
    ]);
    expect(errors(external(spec(`${EXTERNAL_CA_PEM}-----BEGIN CERTIFICATE-----\nMIIB\n`)))).toEqual([
      'spec.caCertificates: has a certificate without its -----END CERTIFICATE----- line: paste each certificate whole',
    ]);
    const withKey = `${EXTERNAL_CA_PEM}-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n`;
    const keyErrors = errors(external(spec(withKey)));
    expect(keyErrors).toEqual(['spec.caCertificates: holds a private key block: only CA certificates belong here (never a private key); remove it']);
    expect(keyErrors.join('\n')).not.toContain('c2VjcmV0'); // the key itself is never echoed
    expect(errors(external(spec(EXTERNAL_CA_PEM + EXTERNAL_CA_PEM)))).toEqual([]);
  });

  it('3. a request.headers[...] name with a control character is an error (Envoy rejects a NUL in a header matcher name)', () => {
    expect(errors(policy('{when: [{key: "request.headers[x-a\\0b]", values: [v]}]}'))).toEqual([
      'spec.rules[0].when[0].key: "request.headers[x-a\\u0000b]" needs a header name without spaces, control characters or wildcards between the brackets, e.g. request.headers[x-user-id]',
    ]);
    expect(errors(policy('{when: [{key: "request.headers[:authority]", values: [v]}]}'))).toEqual([]);
  });

  it('4. an unpaired surrogate in a policy value is an error (invalid UTF-8 on the wire: Envoy cannot unpack the RBAC filter)', () => {
    for (const rule of ['{to: [{operation: {paths: ["/\\uD800x"]}}]}', '{from: [{source: {principals: ["*\\uDFFF"]}}]}', '{from: [{source: {namespaces: ["\\uD800"]}}]}']) {
      expect(errors(policy(rule))).toEqual([expect.stringMatching(/: ".*\\ud[89a-f][0-9a-f]{2}.*" contains an unpaired surrogate .* cannot be sent to Envoy/)]);
    }
    expect(errors(policy('{to: [{operation: {paths: ["/\\uD83D\\uDE42"]}}]}'))).toEqual([]); // a whole pair is a character
  });

  it('5. a message quoting a huge value stays short: the value is cut, its length said', () => {
    const huge = 'x'.repeat(100_000);
    const violations = load(MESH.replace('name: b-1,', `name: ${huge},`).replace("spec: {address: 127.0.0.11", `spec: {serviceAccount: ${huge}, address: 127.0.0.11`)).violations;
    expect(violations.length).toBeGreaterThan(0);
    for (const v of violations) expect(v.message.length, v.message.slice(0, 200)).toBeLessThan(500);
    expect(violations.map((v) => v.message).join('\n')).toMatch(/"x{50,60}…" \(100000 characters\)/);
  });

  it('6. YAML nested thousands of levels deep is a syntax error that says so, not "Maximum call stack size exceeded"', () => {
    const deep = `apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: x}\nspec: ${'['.repeat(20_000)}1${']'.repeat(20_000)}\n`;
    expect(errors(deep)).toContainEqual(expect.stringMatching(/^: YAML syntax error at line 4, column \d+: lists or mappings nested too deeply to read \(hundreds of levels\); fix the YAML$/));
  });
  it('7. two inbound ports forwarding to one application port must agree on HTTP/2 (they share one cluster: gRPC went out as HTTP/1.1)', () => {
    const workload = (second: string) =>
      MESH.replace('spec: {ports: [{name: http}]}', 'spec: {ports: [{name: http}, {name: grpc-api}, {name: tcp-raw}, {name: http2-web}]}').replace(
        '{service: b, port: http, listenPort: 18080, targetPort: 8080}]',
        `{service: b, port: grpc-api, listenPort: 18080, targetPort: 8080}, {service: b, port: ${second}, listenPort: 18081, targetPort: 8080}]`,
      );
    expect(errors(workload('http'))).toEqual([
      'spec.inbound[1].targetPort: forwards b/http (HTTP) to 127.0.0.1:8080, where spec.inbound[0] already forwards b/grpc-api (GRPC); the sidecar talks to one application port either in HTTP/2 (HTTP2, GRPC) or not (HTTP, TCP): give this port its own targetPort, or both the same protocol',
    ]);
    expect(errors(workload('tcp-raw'))).toHaveLength(1);
    expect(errors(workload('http2-web'))).toEqual([]); // both HTTP/2: one cluster fits both
  });

});
