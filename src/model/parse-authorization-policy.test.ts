import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy } from './types.ts';
import { errorLines, parseTestYaml, violationLines } from './model-test-helpers.ts';

const UNENFORCED = 'nothing enforces it';

/** One AuthorizationPolicy `p` in namespace shop (no workloads, so the "nothing enforces it" warning is filtered out). */
const policy = (spec: string, options: { apiVersion?: string; annotations?: string } = {}) =>
  parseTestYaml(`apiVersion: ${options.apiVersion ?? 'security.istio.io/v1'}
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop${options.annotations ? `, annotations: ${options.annotations}` : ''}}
${spec}
`);

/** Violation lines other than the "nothing enforces it" warning. */
const lines = (spec: string, options?: Parameters<typeof policy>[1]) =>
  violationLines(policy(spec, options)).filter((l) => !l.includes(UNENFORCED));

/** The parsed policy; fails the test on any error. */
const parsed = (spec: string, options?: Parameters<typeof policy>[1]): AuthorizationPolicy => {
  const result = policy(spec, options);
  expect(errorLines(result)).toEqual([]);
  return result.model!.authorizationPolicies[0]!;
};

/** The values one source/operation/when field keeps, or the error lines. */
const rule = (yaml: string) => parsed(`spec: {rules: [${yaml}]}`).rules[0]!;

describe('AuthorizationPolicy', () => {
  it('defaults to ALLOW with no rules (allow-nothing), no selector, not dry-run', () => {
    for (const spec of ['', 'spec: null', 'spec: {}', 'spec: {selector: {}}', 'spec: {selector: {matchLabels: {}}, rules: []}', 'spec: {action: ALLOW, rules: null}']) {
      const p = parsed(spec);
      expect(p).toMatchObject({ kind: 'AuthorizationPolicy', action: 'ALLOW', dryRun: false, rules: [] });
      expect(p).not.toHaveProperty('selector');
    }
    expect(parsed('spec: {action: AUDIT}').action).toBe('AUDIT');
  });

  it.each(['security.istio.io/v1', 'security.istio.io/v1beta1'])('accepts %s', (apiVersion) => {
    const p = parsed('spec: {selector: {matchLabels: {app: backend}}, action: DENY, rules: [{}]}', { apiVersion });
    expect(p).toMatchObject({ selector: { app: 'backend' }, action: 'DENY', rules: [{ from: [], to: [], when: [] }] });
  });

  it('reads every supported field', () => {
    const p = parsed(`spec:
  action: DENY
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/shop/sa/web, "*/sa/admin"]
            notPrincipals: [cluster.local/ns/shop/sa/bot]
            namespaces: [shop, "prod-*"]
            notNamespaces: [test]
            ipBlocks: [10.0.0.0/8, 192.168.1.7]
            notIpBlocks: [10.1.0.0/16]
            remoteIpBlocks: ["2001:DB8::/32"]
            notRemoteIpBlocks: ["::1"]
        - source: {}
      to:
        - operation:
            hosts: [shop.example.com, "*.example.com"]
            notHosts: [admin.example.com]
            ports: ["8080", 9090]
            notPorts: ["9091"]
            methods: [GET, POST]
            notMethods: [DELETE]
            paths: [/api/*, "*.png", /healthz]
            notPaths: [/api/admin/*]
      when:
        - {key: source.ip, values: [10.0.0.1], notValues: [10.0.0.2/32]}
        - {key: remote.ip, values: ["fe80::1"]}
        - {key: source.namespace, values: ["shop*"]}
        - {key: source.principal, notValues: [cluster.local/ns/shop/sa/bot]}
        - {key: destination.port, values: ["8080", 9090]}
        - {key: "request.headers[X-User-Id]", values: ["*"]}
    - {}`);
    expect(p.action).toBe('DENY');
    expect(p.rules).toEqual([
      {
        from: [
          {
            principals: ['cluster.local/ns/shop/sa/web', '*/sa/admin'],
            notPrincipals: ['cluster.local/ns/shop/sa/bot'],
            namespaces: ['shop', 'prod-*'],
            notNamespaces: ['test'],
            ipBlocks: ['10.0.0.0/8', '192.168.1.7/32'],
            notIpBlocks: ['10.1.0.0/16'],
            remoteIpBlocks: ['2001:db8::/32'],
            notRemoteIpBlocks: ['::1/128'],
          },
          {},
        ],
        to: [
          {
            hosts: ['shop.example.com', '*.example.com'],
            notHosts: ['admin.example.com'],
            ports: [8080, 9090],
            notPorts: [9091],
            methods: ['GET', 'POST'],
            notMethods: ['DELETE'],
            paths: ['/api/*', '*.png', '/healthz'],
            notPaths: ['/api/admin/*'],
          },
        ],
        when: [
          { key: 'source.ip', values: ['10.0.0.1/32'], notValues: ['10.0.0.2/32'] },
          { key: 'remote.ip', values: ['fe80::1/128'] },
          { key: 'source.namespace', values: ['shop*'] },
          { key: 'source.principal', notValues: ['cluster.local/ns/shop/sa/bot'] },
          { key: 'destination.port', values: ['8080', '9090'] },
          { key: 'request.headers[x-user-id]', values: ['*'] },
        ],
      },
      { from: [], to: [], when: [] },
    ]);
  });

  it('treats empty lists as absent (protobuf semantics)', () => {
    const r = rule(`{from: [{source: {principals: [], ipBlocks: []}}], to: [{operation: {ports: [], methods: [GET]}}], when: [{key: source.ip, values: [10.0.0.1], notValues: []}]}`);
    expect(r.from).toEqual([{}]);
    expect(r.from[0]).not.toHaveProperty('principals');
    expect(r.to[0]).not.toHaveProperty('ports');
    expect(r.when[0]).not.toHaveProperty('notValues');
    expect(rule('{from: [], to: [], when: []}')).toEqual({ from: [], to: [], when: [] });
  });

  it.each([
    ['1', true], ['t', true], ['T', true], ['TRUE', true], ['true', true], ['True', true],
    ['0', false], ['f', false], ['F', false], ['FALSE', false], ['false', false], ['False', false],
  ])('reads istio.io/dry-run %j as Go strconv.ParseBool does', (value, dryRun) => {
    expect(parsed('spec: {}', { annotations: `{istio.io/dry-run: "${value}"}` }).dryRun).toBe(dryRun);
  });

  it.each(['yes', 'on', 'tRUE', '', ' true'])('rejects istio.io/dry-run %j', (value) => {
    expect(lines('spec: {}', { annotations: `{istio.io/dry-run: "${value}"}` })).toEqual([
      `test.yaml: metadata.annotations["istio.io/dry-run"]: must be "true" or "false", got ${JSON.stringify(value)} (Istio accepts Go booleans: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)`,
    ]);
  });

  it('rejects CUSTOM, provider, targetRefs, misspelled actions and DENY without rules', () => {
    expect(lines('spec: {action: CUSTOM, provider: {name: opa}, rules: [{}]}')).toEqual([
      'test.yaml: spec.provider: field "provider" is not supported: external authorization (CUSTOM) is not supported by meshplane: remove it and use action ALLOW or DENY',
      'test.yaml: spec.action: external authorization (CUSTOM) is not supported by meshplane: use ALLOW or DENY',
    ]);
    expect(lines('spec: {action: deny, targetRef: {}, targetRefs: [], rule: []}')).toEqual([
      'test.yaml: spec.targetRef: field "targetRef" is not supported: meshplane selects workloads with spec.selector.matchLabels only; remove it',
      'test.yaml: spec.targetRefs: field "targetRefs" is not supported: meshplane selects workloads with spec.selector.matchLabels only; remove it',
      'test.yaml: spec.rule: unknown field "rule"; did you mean "rules"?',
      'test.yaml: spec.action: must be one of ALLOW, DENY, AUDIT, got "deny" (did you mean "DENY"?)',
    ]);
    const denyAll = 'test.yaml: spec.rules: a DENY policy needs rules (Istio rejects one without): add rules: [{}] to deny everything, or remove the policy';
    expect(lines('spec: {action: DENY}')).toEqual([denyAll]);
    expect(lines('spec: {action: DENY, rules: []}')).toEqual([denyAll]);
    expect(lines('spec: {selector: {matchLabels: {"bad key!": x}, matchExpressions: []}}')).toEqual([
      'test.yaml: spec.selector.matchExpressions: field "matchExpressions" is not supported: Istio workload selectors support matchLabels only; express the selection with matchLabels',
      'test.yaml: spec.selector.matchLabels["bad key!"]: label key "bad key!" is not valid: use at most 63 letters, digits, \'-\', \'_\' or \'.\', starting and ending with a letter or digit, optionally after a prefix like example.com/',
    ]);
  });

  it('rejects null rules, sources, operations and conditions, and unknown fields, with paths', () => {
    expect(lines(`spec:
  rules:
    - null
    - from: [{}, {source: null}, null, {source: {principal: [a]}}]
      to: [{operation: null}, {operation: {method: [GET], port: [80]}}]
      when: [{values: [a]}, {key: source.ip}, {key: source.ip, values: [], notValues: []}, {key: source.namespace, value: [a]}]
    - {froms: []}`)).toEqual([
      'test.yaml: spec.rules[0]: must not be empty (Istio rejects a null rule): write {} to match anything, or remove the entry',
      'test.yaml: spec.rules[1].from[0].source: "source" is required: write source: {} to match any source, or remove this from entry',
      'test.yaml: spec.rules[1].from[1].source: "source" is required: write source: {} to match any source, or remove this from entry',
      'test.yaml: spec.rules[1].from[2]: must not be empty (Istio rejects a null from entry): write {} to match anything, or remove the entry',
      'test.yaml: spec.rules[1].from[3].source.principal: unknown field "principal"; did you mean "principals"?',
      'test.yaml: spec.rules[1].to[0].operation: "operation" is required: write operation: {} to match any request, or remove this to entry',
      'test.yaml: spec.rules[1].to[1].operation.method: unknown field "method"; did you mean "methods"?',
      'test.yaml: spec.rules[1].to[1].operation.port: unknown field "port"; did you mean "ports"?',
      'test.yaml: spec.rules[1].when[0].key: "key" is required: set one of source.ip, remote.ip, source.namespace, source.principal, destination.port, request.headers[<name>]',
      'test.yaml: spec.rules[1].when[1]: needs values or notValues (Istio rejects a condition without them): add values: [...] with what the key must match',
      'test.yaml: spec.rules[1].when[2]: needs values or notValues (Istio rejects a condition without them): add values: [...] with what the key must match',
      'test.yaml: spec.rules[1].when[3].value: unknown field "value"; did you mean "values"?',
      'test.yaml: spec.rules[1].when[3]: needs values or notValues (Istio rejects a condition without them): add values: [...] with what the key must match',
      'test.yaml: spec.rules[2].froms: unknown field "froms"; did you mean "from"?',
    ]);
    expect(lines('spec: {rules: {from: []}}')).toEqual(['test.yaml: spec.rules: must be a list, got a mapping']);
  });

  it('rejects JWT and serviceAccounts fields with what to write instead', () => {
    expect(lines('spec: {rules: [{from: [{source: {requestPrincipals: ["*"], notRequestPrincipals: [a/b], serviceAccounts: [shop/web], notServiceAccounts: [bot], trustDomains: [td]}}]}]}')).toEqual([
      'test.yaml: spec.rules[0].from[0].source.requestPrincipals: field "requestPrincipals" is not supported: JWT request authentication is not supported by meshplane: remove it',
      'test.yaml: spec.rules[0].from[0].source.notRequestPrincipals: field "notRequestPrincipals" is not supported: JWT request authentication is not supported by meshplane: remove it',
      'test.yaml: spec.rules[0].from[0].source.serviceAccounts: field "serviceAccounts" is not supported: write principals: [<trustDomain>/ns/<namespace>/sa/<serviceAccount>] instead',
      'test.yaml: spec.rules[0].from[0].source.notServiceAccounts: field "notServiceAccounts" is not supported: write notPrincipals: [<trustDomain>/ns/<namespace>/sa/<serviceAccount>] instead',
      'test.yaml: spec.rules[0].from[0].source.trustDomains: field "trustDomains" is not supported: write principals: [<trustDomain>/*] instead',
    ]);
  });

  const SOURCE_MATCH = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'];
  const OPERATION_MATCH = ['hosts', 'notHosts', 'methods', 'notMethods'];
  const at = (field: string) => (SOURCE_MATCH.includes(field) ? ['from', 'source'] : ['to', 'operation']);
  const oneValue = (field: string, value: string) => {
    const [list, key] = at(field);
    return `spec: {rules: [{${list}: [{${key}: {${field}: [${JSON.stringify(value)}]}}]}]}`;
  };

  it.each([...SOURCE_MATCH, ...OPERATION_MATCH])('accepts exact, prefix, suffix and presence values in %s', (field) => {
    for (const value of ['ABC', 'ABC*', '*ABC', '*']) {
      const r = parsed(oneValue(field, value)).rules[0]!;
      expect({ ...r.from[0], ...r.to[0] }).toEqual({ [field]: [value] });
    }
  });

  it.each([...SOURCE_MATCH, ...OPERATION_MATCH, 'paths', 'notPaths'])('rejects a * in the middle or twice, and empty or non-string values, in %s', (field) => {
    const [list, key] = at(field);
    const path = `spec.rules[0].${list}[0].${key}.${field}`;
    for (const value of ['/a*b', '**', '*a*', '/a**']) {
      expect(lines(oneValue(field, value))).toEqual([
        `test.yaml: ${path}[0]: ${JSON.stringify(value)} has a "*" in the middle or more than one "*": Istio matches a value exactly, by prefix ("abc*"), by suffix ("*abc") or any value ("*"); split it into values of those forms`,
      ]);
    }
    expect(lines(`spec: {rules: [{${list}: [{${key}: {${field}: ["", 8080, {}]}}]}]}`)).toEqual([
      `test.yaml: ${path}[0]: must not be empty: remove the entry, or write "*" to match any non-empty value`,
      `test.yaml: ${path}[1]: must be a string, got the number 8080: quote it ("8080")`,
      `test.yaml: ${path}[2]: must be a string, got a mapping`,
    ]);
    expect(lines(`spec: {rules: [{${list}: [{${key}: {${field}: /a}}]}]}`)).toEqual([`test.yaml: ${path}: must be a list, got the string "/a"`]);
  });

  it('rejects spiffe:// in principals and source.principal', () => {
    expect(lines(`spec: {rules: [{from: [{source: {notPrincipals: ["spiffe://cluster.local/ns/a/sa/b"]}}], when: [{key: source.principal, values: ["spiffe://td/x"]}]}]}`)).toEqual([
      'test.yaml: spec.rules[0].from[0].source.notPrincipals[0]: "spiffe://cluster.local/ns/a/sa/b": notPrincipals are written without spiffe:// (Istio adds it): use "cluster.local/ns/a/sa/b", e.g. cluster.local/ns/<namespace>/sa/<serviceAccount>',
      'test.yaml: spec.rules[0].when[0].values[0]: "spiffe://td/x": source.principal are written without spiffe:// (Istio adds it): use "td/x", e.g. cluster.local/ns/<namespace>/sa/<serviceAccount>',
    ]);
  });

  it('checks paths and warns about lower-case methods', () => {
    expect(lines('spec: {rules: [{to: [{operation: {paths: [api/v1, "/api/{*}/x", "{**}"], notMethods: [get, Post, "*"]}}]}]}')).toEqual([
      'test.yaml: spec.rules[0].to[0].operation.notMethods[0]: warning: HTTP method "get" is not upper case: methods are case-sensitive and Envoy compares them exactly, so it only matches requests that send "get"; write "GET"',
      'test.yaml: spec.rules[0].to[0].operation.notMethods[1]: warning: HTTP method "Post" is not upper case: methods are case-sensitive and Envoy compares them exactly, so it only matches requests that send "Post"; write "POST"',
      'test.yaml: spec.rules[0].to[0].operation.paths[0]: "api/v1" is not a URL path: paths start with "/" (or "*" for a suffix match), e.g. "/api/*"',
      'test.yaml: spec.rules[0].to[0].operation.paths[1]: "/api/{*}/x" uses a URI template ({*} or {**}), which meshplane does not support: use a prefix such as "/api/*"',
      'test.yaml: spec.rules[0].to[0].operation.paths[2]: "{**}" uses a URI template ({*} or {**}), which meshplane does not support: use a prefix such as "/api/*"',
    ]);
  });

  it.each([
    ['10.0.0.1', '10.0.0.1/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.0.0.1/8', '10.0.0.1/8'], // host bits set: accepted as written, as Istio does
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::1', '::1/128'],
    ['2001:DB8:0:0:0:0:0:0001/64', '2001:db8::1/64'],
    ['::/0', '::/0'],
  ])('normalises the IP %s to %s in every IP field and condition', (value, cidr) => {
    for (const field of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
      expect(rule(`{from: [{source: {${field}: [${JSON.stringify(value)}]}}]}`).from[0]).toEqual({ [field]: [cidr] });
    }
    for (const key of ['source.ip', 'remote.ip']) {
      expect(rule(`{when: [{key: ${key}, notValues: [${JSON.stringify(value)}]}]}`).when[0]).toEqual({ key, notValues: [cidr] });
    }
  });

  it.each(['10.0.0.256', '010.0.0.1', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/a', '::1/129', 'fe80::1%eth0', 'localhost'])('rejects the IP %s', (value) => {
    expect(lines(`spec: {rules: [{from: [{source: {ipBlocks: [${JSON.stringify(value)}]}}]}]}`)).toEqual([
      `test.yaml: spec.rules[0].from[0].source.ipBlocks[0]: ${JSON.stringify(value)} is not an IP address or CIDR: write an address such as "10.0.0.1" or a range such as "10.0.0.0/16" (IPv6 too)`,
    ]);
  });

  it('allows no wildcards in IPs and ports', () => {
    expect(lines(`spec: {rules: [{from: [{source: {remoteIpBlocks: ["10.*"]}}], to: [{operation: {notPorts: ["80*"]}}], when: [{key: source.ip, values: ["*"]}, {key: destination.port, values: ["*"]}]}]}`)).toEqual([
      'test.yaml: spec.rules[0].from[0].source.remoteIpBlocks[0]: "10.*": remoteIpBlocks allows no wildcards: use a CIDR such as "10.0.0.0/8" (or "0.0.0.0/0" for any IPv4 address)',
      'test.yaml: spec.rules[0].to[0].operation.notPorts[0]: "80*": notPorts allows no wildcards: list each port, or leave the field out to match every port',
      'test.yaml: spec.rules[0].when[0].values[0]: "*": source.ip allows no wildcards: use a CIDR such as "10.0.0.0/8" (or "0.0.0.0/0" for any IPv4 address)',
      'test.yaml: spec.rules[0].when[1].values[0]: "*": destination.port allows no wildcards: list each port, or leave the field out to match every port',
    ]);
  });

  it('reads ports as strings of digits or integers and rejects the rest', () => {
    expect(rule('{to: [{operation: {ports: ["8080", 9090, "065535", 1]}}], when: [{key: destination.port, values: [8080, "09090"]}]}')).toEqual({
      from: [],
      to: [{ ports: [8080, 9090, 65535, 1] }],
      when: [{ key: 'destination.port', values: ['8080', '9090'] }],
    });
    expect(lines('spec: {rules: [{to: [{operation: {ports: ["0", 70000, "http", 80.5, -1, true]}}]}]}')).toEqual([
      'test.yaml: spec.rules[0].to[0].operation.ports[0]: port 0 is out of range: ports are targetPorts from 1 to 65535',
      'test.yaml: spec.rules[0].to[0].operation.ports[1]: port 70000 is out of range: ports are targetPorts from 1 to 65535',
      'test.yaml: spec.rules[0].to[0].operation.ports[2]: "http" is not a port number: write a targetPort from 1 to 65535, such as "8080"',
      'test.yaml: spec.rules[0].to[0].operation.ports[3]: the number 80.5 is not a port number: write a targetPort from 1 to 65535, such as "8080"',
      'test.yaml: spec.rules[0].to[0].operation.ports[4]: port -1 is out of range: ports are targetPorts from 1 to 65535',
      'test.yaml: spec.rules[0].to[0].operation.ports[5]: the boolean true is not a port number: write a targetPort from 1 to 65535, such as "8080"',
    ]);
  });

  it('rejects when keys meshplane does not support, saying what to use', () => {
    const supported = 'use one of source.ip, remote.ip, source.namespace, source.principal, destination.port, request.headers[<name>]';
    const keys = ['request.auth.claims[iss]', 'source.ips', 'destination.ip', 'request.headers[]', 'request.headers[a b]', 'request.header[x-id]', 'source.*', 'source.serviceAccount', 'source.trustDomain', 8080];
    expect(lines(`spec: {rules: [{when: [${keys.map((k) => `{key: ${JSON.stringify(k)}, values: [x]}`).join(', ')}]}]}`)).toEqual([
      'test.yaml: spec.rules[0].when[0].key: "request.auth.claims[iss]": JWT request authentication is not supported by meshplane: remove this condition',
      `test.yaml: spec.rules[0].when[1].key: when key "source.ips" is not supported by meshplane (did you mean "source.ip"?): ${supported}`,
      `test.yaml: spec.rules[0].when[2].key: when key "destination.ip" is not supported by meshplane: ${supported}`,
      'test.yaml: spec.rules[0].when[3].key: "request.headers[]" needs a header name without spaces, control characters or wildcards between the brackets, e.g. request.headers[x-user-id]',
      'test.yaml: spec.rules[0].when[4].key: "request.headers[a b]" needs a header name without spaces, control characters or wildcards between the brackets, e.g. request.headers[x-user-id]',
      'test.yaml: spec.rules[0].when[5].key: "request.header[x-id]" is not a header key: write request.headers[<name>], e.g. request.headers[x-user-id]',
      `test.yaml: spec.rules[0].when[6].key: "source.*": when keys allow no wildcards: ${supported}`,
      'test.yaml: spec.rules[0].when[7].key: when key "source.serviceAccount" is not supported by meshplane: write source.principal with <trustDomain>/ns/<namespace>/sa/<serviceAccount> instead',
      'test.yaml: spec.rules[0].when[8].key: when key "source.trustDomain" is not supported by meshplane: write source.principal with <trustDomain>/* instead',
      'test.yaml: spec.rules[0].when[9].key: must be a string, got the number 8080: quote it ("8080")',
    ]);
  });

  it('checks condition values even when the key is bad, and header values like other strings', () => {
    expect(lines('spec: {rules: [{when: [{key: nope, values: [""]}, {key: "request.headers[X-A]", values: ["a*b"]}]}]}')).toEqual([
      'test.yaml: spec.rules[0].when[0].key: when key "nope" is not supported by meshplane: use one of source.ip, remote.ip, source.namespace, source.principal, destination.port, request.headers[<name>]',
      'test.yaml: spec.rules[0].when[0].values[0]: must not be empty: remove the entry, or write "*" to match any non-empty value',
      'test.yaml: spec.rules[0].when[1].values[0]: "a*b" has a "*" in the middle or more than one "*": Istio matches a value exactly, by prefix ("abc*"), by suffix ("*abc") or any value ("*"); split it into values of those forms',
    ]);
  });

  it('reports duplicate names among AuthorizationPolicies', () => {
    const doc = (action: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop}
spec: {action: ${action}, rules: [{}]}
`;
    expect(errorLines(parseTestYaml(`${doc('ALLOW')}---\n${doc('DENY')}`))).toEqual([
      'test.yaml:6: metadata.name: AuthorizationPolicy "p" in namespace "shop" clashes with the AuthorizationPolicy of the same name in test.yaml:1: rename one of them',
    ]);
  });
});
