import { describe, expect, it } from 'vitest';
import { parseModelFiles } from '../model/load-model.ts';
import { buildProxyPlanFor } from './build-proxy-plans.ts';
import { evaluateAuthz, type AuthzRequest } from './evaluate-authz.ts';

/**
 * Istio's AuthorizationPolicy semantics (shared/reference/istio.md §4), one row each: policies
 * in YAML, a request, the decision and the rule that made it. Build and evaluation run together,
 * the same code path `explain` uses; the e2e tests check real Envoy agrees on the same plans.
 */
const BASE = `apiVersion: meshplane.dev/v1alpha1
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
kind: Workload
metadata: {name: backend-1, namespace: shop, labels: {app: backend}}
spec:
  serviceAccount: backend
  address: 127.0.0.11
  inbound:
    - {service: backend, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: backend, port: tcp-db, listenPort: 19000, targetPort: 9000}
`;

const policy = (name: string, spec: string, opts: { ns?: string; annotations?: string } = {}) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${opts.ns ?? 'shop'}${opts.annotations ? `, annotations: ${opts.annotations}` : ''}}
spec: ${spec}
`;

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const OTHER = 'spiffe://cluster.local/ns/shop/sa/other';
const SHOPX = 'spiffe://cluster.local/ns/shopx/sa/frontend';

interface Call {
  from?: string; // a SPIFFE ID (mTLS) or absent (plaintext)
  ip?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  port?: 8080 | 9000;
}

function decide(policies: string, call: Call) {
  const { model, violations } = parseModelFiles([{ file: 'test.yaml', text: BASE + policies }]);
  expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  const inbound = buildProxyPlanFor(model!, 'backend-1.shop')!.inbound.find((p) => p.targetPort === (call.port ?? 8080))!;
  const request: AuthzRequest = {
    ...(call.from && { principal: call.from }),
    sourceIp: call.ip ?? '127.0.0.12',
    ...(inbound.protocol !== 'TCP' && { http: { method: call.method ?? 'GET', path: call.path ?? '/', headers: call.headers ?? {} } }),
  };
  return { decision: evaluateAuthz(inbound.authz, request), notes: inbound.authz?.notes ?? [] };
}

const ALLOW_FRONTEND_GET_API = policy(
  'allow-api',
  `{selector: {matchLabels: {app: backend}}, action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}], to: [{operation: {methods: [GET], paths: [/api/*]}}]}]}`,
);
const ALLOW_ALL = policy('allow-all', '{rules: [{}]}');

/** [what, policies, call, allowed, deciding policy/rule or undefined] */
type Row = [string, string, Call, boolean, string?];
const ROWS: Row[] = [
  ['no policy: allow', '', {}, true],
  ['ALLOW matches: principal, method and path', ALLOW_FRONTEND_GET_API, { from: FRONTEND, path: '/api/x' }, true, 'shop/allow-api 0'],
  ['ALLOW present, method differs: deny', ALLOW_FRONTEND_GET_API, { from: FRONTEND, method: 'POST', path: '/api/x' }, false],
  ['ALLOW present, path differs: deny', ALLOW_FRONTEND_GET_API, { from: FRONTEND, path: '/admin' }, false],
  ['ALLOW present, another identity: deny', ALLOW_FRONTEND_GET_API, { from: OTHER, path: '/api/x' }, false],
  ['ALLOW on a principal never matches plaintext', ALLOW_FRONTEND_GET_API, { path: '/api/x' }, false],
  ['the query is not part of the path', ALLOW_FRONTEND_GET_API, { from: FRONTEND, path: '/api/x?debug=1' }, true, 'shop/allow-api 0'],
  ['spec: {} allows nothing', policy('nothing', '{}'), { from: FRONTEND }, false],
  ['rules: [{}] matches everything, plaintext too', ALLOW_ALL, {}, true, 'shop/allow-all 0'],
  ['DENY before ALLOW', ALLOW_ALL + policy('deny-all', '{action: DENY, rules: [{}]}'), { from: FRONTEND }, false, 'shop/deny-all 0'],
  [
    'DENY on a path overrides an ALLOW on the caller',
    policy('allow-fe', '{rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]}]}') +
      policy('deny-admin', '{action: DENY, rules: [{to: [{operation: {paths: [/admin*]}}]}]}'),
    { from: FRONTEND, path: '/admin/users' },
    false,
    'shop/deny-admin 0',
  ],
  [
    'ALLOW policies are ORed',
    policy('allow-other', '{rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/other]}}]}]}') + ALLOW_FRONTEND_GET_API,
    { from: OTHER, path: '/x' },
    true,
    'shop/allow-other 0',
  ],
  ['a rule matches if any of its rules does', policy('two', '{rules: [{to: [{operation: {paths: [/a]}}]}, {to: [{operation: {paths: [/b]}}]}]}'), { path: '/b' }, true, 'shop/two 1'],
  ['from entries are ORed', policy('p', '{rules: [{from: [{source: {principals: [x/ns/y/sa/z]}}, {source: {namespaces: [shop]}}]}]}'), { from: OTHER }, true, 'shop/p 0'],
  ['source fields are ANDed', policy('p', '{rules: [{from: [{source: {namespaces: [shop], ipBlocks: [10.0.0.0/8]}}]}]}'), { from: OTHER, ip: '127.0.0.12' }, false],
  ['namespaces match the /ns/ segment', policy('p', '{rules: [{from: [{source: {namespaces: [shop]}}]}]}'), { from: FRONTEND }, true, 'shop/p 0'],
  ['namespaces match whole segments only', policy('p', '{rules: [{from: [{source: {namespaces: [shop]}}]}]}'), { from: SHOPX }, false],
  ['namespaces prefix wildcard', policy('p', '{rules: [{from: [{source: {namespaces: ["shop*"]}}]}]}'), { from: SHOPX }, true, 'shop/p 0'],
  ['notNamespaces: plaintext has no namespace, so it matches (Istio advisory 2021-004)', policy('p', '{rules: [{from: [{source: {notNamespaces: [shop]}}]}]}'), {}, true, 'shop/p 0'],
  ['notNamespaces excludes the namespace', policy('p', '{rules: [{from: [{source: {notNamespaces: [shop]}}]}]}'), { from: FRONTEND }, false],
  ['principals "*": any mTLS peer', policy('p', '{rules: [{from: [{source: {principals: ["*"]}}]}]}'), { from: OTHER }, true, 'shop/p 0'],
  ['principals "*": not plaintext', policy('p', '{rules: [{from: [{source: {principals: ["*"]}}]}]}'), {}, false],
  ['principals prefix', policy('p', '{rules: [{from: [{source: {principals: ["cluster.local/ns/shop/*"]}}]}]}'), { from: OTHER }, true, 'shop/p 0'],
  ['principals suffix', policy('p', '{rules: [{from: [{source: {principals: ["*/sa/frontend"]}}]}]}'), { from: SHOPX }, true, 'shop/p 0'],
  ['principals suffix is not a regex', policy('p', '{rules: [{from: [{source: {principals: ["*.local/ns/shop/sa/frontend"]}}]}]}'), { from: 'spiffe://clusterXlocal/ns/shop/sa/frontend' }, false],
  ['notPrincipals', policy('p', '{rules: [{from: [{source: {notPrincipals: [cluster.local/ns/shop/sa/frontend]}}]}]}'), { from: FRONTEND }, false],
  ['ipBlocks: the TCP peer', policy('p', '{rules: [{from: [{source: {ipBlocks: [127.0.0.12]}}]}]}'), { ip: '127.0.0.12' }, true, 'shop/p 0'],
  ['ipBlocks CIDR miss', policy('p', '{rules: [{from: [{source: {ipBlocks: [127.0.1.0/24]}}]}]}'), { ip: '127.0.0.12' }, false],
  ['notIpBlocks', policy('p', '{rules: [{from: [{source: {notIpBlocks: [127.0.0.0/8]}}]}]}'), { ip: '127.0.0.12' }, false],
  ['remoteIpBlocks: the last x-forwarded-for entry', policy('p', '{rules: [{from: [{source: {remoteIpBlocks: [10.1.2.3]}}]}]}'), { headers: { 'x-forwarded-for': '9.9.9.9, 10.1.2.3' } }, true, 'shop/p 0'],
  ['remoteIpBlocks without x-forwarded-for: the TCP peer', policy('p', '{rules: [{from: [{source: {remoteIpBlocks: [127.0.0.12]}}]}]}'), {}, true, 'shop/p 0'],
  ['notRemoteIpBlocks', policy('p', '{rules: [{from: [{source: {notRemoteIpBlocks: [127.0.0.12]}}]}]}'), {}, false],
  ['hosts are case-insensitive', policy('p', '{rules: [{to: [{operation: {hosts: [Backend.Shop]}}]}]}'), { headers: { host: 'backend.shop' } }, true, 'shop/p 0'],
  ['hosts suffix', policy('p', '{rules: [{to: [{operation: {hosts: ["*.shop"]}}]}]}'), { headers: { host: 'backend.shop' } }, true, 'shop/p 0'],
  ['notHosts', policy('p', '{rules: [{to: [{operation: {notHosts: [backend.shop]}}]}]}'), { headers: { host: 'backend.shop' } }, false],
  ['methods are exact', policy('p', '{rules: [{to: [{operation: {methods: [GET, HEAD]}}]}]}'), { method: 'HEAD' }, true, 'shop/p 0'],
  ['notMethods', policy('p', '{rules: [{to: [{operation: {notMethods: [DELETE]}}]}]}'), { method: 'DELETE' }, false],
  ['paths exact', policy('p', '{rules: [{to: [{operation: {paths: [/healthz]}}]}]}'), { path: '/healthz/x' }, false],
  ['paths suffix', policy('p', '{rules: [{to: [{operation: {paths: ["*.json"]}}]}]}'), { path: '/a/b.json' }, true, 'shop/p 0'],
  ['notPaths', policy('p', '{rules: [{to: [{operation: {notPaths: ["/admin*"]}}]}]}'), { path: '/admin' }, false],
  ['to entries are ORed', policy('p', '{rules: [{to: [{operation: {paths: [/a]}}, {operation: {methods: [POST]}}]}]}'), { method: 'POST', path: '/z' }, true, 'shop/p 0'],
  ['when request.headers', policy('p', '{rules: [{when: [{key: "request.headers[X-User]", values: [alice]}]}]}'), { headers: { 'x-user': 'alice' } }, true, 'shop/p 0'],
  ['when request.headers absent', policy('p', '{rules: [{when: [{key: "request.headers[x-user]", values: ["*"]}]}]}'), {}, false],
  ['when notValues', policy('p', '{rules: [{when: [{key: source.principal, notValues: [cluster.local/ns/shop/sa/frontend]}]}]}'), { from: FRONTEND }, false],
  ['when source.namespace', policy('p', '{rules: [{when: [{key: source.namespace, values: [shop]}]}]}'), { from: OTHER }, true, 'shop/p 0'],
  ['when source.ip', policy('p', '{rules: [{when: [{key: source.ip, values: [127.0.0.0/8]}]}]}'), {}, true, 'shop/p 0'],
  ['when conditions are ANDed', policy('p', '{rules: [{when: [{key: source.ip, values: [127.0.0.0/8]}, {key: source.namespace, values: [shop]}]}]}'), {}, false],
  ['when destination.port (a targetPort)', policy('p', '{rules: [{when: [{key: destination.port, values: ["8080"]}]}]}'), {}, true, 'shop/p 0'],
  ['when destination.port elsewhere: the ALLOW exists, so deny', policy('p', '{rules: [{when: [{key: destination.port, values: ["8080"]}]}]}'), { port: 9000 }, false],
  ['ports are targetPorts', policy('p', '{rules: [{to: [{operation: {ports: ["8080"]}}]}]}'), {}, true, 'shop/p 0'],
  ['a listenPort is not a port of the policy', policy('p', '{rules: [{to: [{operation: {ports: ["18080"]}}]}]}'), {}, false],
  ['an ALLOW scoped to another port denies this one', policy('p', '{rules: [{to: [{operation: {ports: ["8080"]}}]}]}'), { port: 9000 }, false],
  ['notPorts', policy('p', '{rules: [{to: [{operation: {notPorts: ["8080"]}}]}]}'), {}, false],
  ['TCP: ALLOW on a principal', policy('p', '{rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]}]}'), { from: FRONTEND, port: 9000 }, true, 'shop/p 0'],
  ['TCP: ALLOW on a principal, another caller', policy('p', '{rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]}]}'), { from: OTHER, port: 9000 }, false],
  ['TCP: an ALLOW rule with HTTP fields is skipped, so TCP is denied', ALLOW_FRONTEND_GET_API, { from: FRONTEND, port: 9000 }, false],
  ['TCP: a DENY rule with HTTP fields loses them and denies all', policy('d', '{action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}'), { port: 9000 }, false, 'shop/d 0'],
  ['TCP: a DENY scoped to the HTTP port leaves TCP alone', policy('d', '{action: DENY, rules: [{to: [{operation: {methods: [GET], ports: ["8080"]}}]}]}'), { port: 9000 }, true],
  ['TCP: the widened DENY keeps its other conditions', policy('d', '{action: DENY, rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/other]}}], to: [{operation: {paths: [/x]}}]}]}'), { from: FRONTEND, port: 9000 }, true],
  ['dry-run DENY does not deny', policy('d', '{action: DENY, rules: [{}]}', { annotations: '{istio.io/dry-run: "true"}' }), {}, true],
  ['dry-run ALLOW does not make ALLOW policies exist', policy('a', '{rules: [{to: [{operation: {paths: [/only]}}]}]}', { annotations: '{istio.io/dry-run: "true"}' }), { path: '/x' }, true],
  ['AUDIT never changes the decision', policy('au', '{action: AUDIT, rules: [{}]}') + policy('nothing', '{}'), {}, false],
  ['mesh-wide: root namespace, no selector', policy('deny-all', '{action: DENY, rules: [{}]}', { ns: 'mesh-system' }), {}, false, 'mesh-system/deny-all 0'],
  ['root namespace with a selector applies in every namespace', policy('deny', '{selector: {matchLabels: {app: backend}}, action: DENY, rules: [{}]}', { ns: 'mesh-system' }), {}, false, 'mesh-system/deny 0'],
  ['another namespace does not apply', policy('deny', '{action: DENY, rules: [{}]}', { ns: 'elsewhere' }), {}, true],
  ['a selector that does not match does not apply', policy('deny', '{selector: {matchLabels: {app: other}}, action: DENY, rules: [{}]}'), {}, true],
];

describe('AuthorizationPolicy semantics', () => {
  it.each(ROWS)('%s', (_what, policies, call, allowed, by) => {
    const { decision } = decide(policies, call);
    expect(decision.allowed).toBe(allowed);
    const decided = decision.decidedBy && `${decision.decidedBy.rule.policy} ${decision.decidedBy.rule.rule}`;
    expect(decided).toBe(by);
  });
});

describe('AuthorizationPolicy side results', () => {
  it('AUDIT lists the rules that matched', () => {
    const { decision } = decide(policy('au', '{action: AUDIT, rules: [{to: [{operation: {paths: [/a]}}]}]}'), { path: '/a' });
    expect(decision.audited.map((r) => r.name)).toEqual(['ns[shop]-policy[au]-rule[0]']);
  });

  it('a dry-run DENY reports the rule that would have denied', () => {
    const { decision } = decide(policy('d', '{action: DENY, rules: [{}]}', { annotations: '{istio.io/dry-run: "true"}' }), {});
    expect(decision.dryRun).toEqual([{ action: 'DENY', wouldAllow: false, rule: expect.objectContaining({ name: 'ns[shop]-policy[d]-rule[0]' }) }]);
  });

  it('TCP ports note what was dropped, naming the policy', () => {
    expect(decide(ALLOW_FRONTEND_GET_API, { port: 9000 }).notes).toEqual([
      'shop/allow-api rule 0: to.operation.methods, to.operation.paths are HTTP-only; on TCP port 9000 this ALLOW rule is skipped (as in Istio)',
    ]);
    expect(decide(policy('d', '{action: DENY, rules: [{to: [{operation: {hosts: [a]}}]}]}'), { port: 9000 }).notes).toEqual([
      'shop/d rule 0: to.operation.hosts is HTTP-only and ignored on TCP port 9000, so this DENY rule matches every connection its other conditions match (as in Istio)',
    ]);
  });

  it('no note when the HTTP-only fields sit in an operation scoped to another port', () => {
    const deny = policy('d', '{action: DENY, rules: [{to: [{operation: {ports: ["8080"], methods: [GET]}}, {operation: {ports: ["9000"]}}]}]}');
    const { decision, notes } = decide(deny, { port: 9000 });
    expect(notes).toEqual([]);
    expect(decision.allowed).toBe(false);
  });
});
