import { describe, expect, it } from 'vitest';
import type { AuthzPlan, Permission, Principal, RbacFilterPlan } from '../plan/authz-plan.ts';
import type { InboundPlan } from '../plan/proxy-plan.ts';
import { protoType } from '../../protos/envoy-protos.ts';
import { encodeCheck } from '../../test/helpers/encode-check.ts';
import { buildInboundListener } from './inbound-listener.ts';
import { FILTER, TYPE } from './names.ts';
import { buildTerminalFilter } from './network-filters.ts';
import { buildHttpRbacFilters, buildNetworkRbacFilters } from './rbac-filters.ts';
import { EVERY_VARIANT_AUTHZ, TCP_AUTHZ, inboundPort, rule } from '../../test/helpers/rbac-fixtures.ts';

type Json = Record<string, any>;

const authz = (...filters: RbacFilterPlan[]): AuthzPlan => ({ policies: [], filters, notes: [] });
/** The one RBAC policy built from a single ALLOW rule. */
const policyOf = (permissions: Permission[], principals: Principal[]) => {
  const [f] = buildHttpRbacFilters(authz({ action: 'ALLOW', rules: [rule('r', permissions, principals)] })) as Json[];
  return f!.typed_config.rules.policies.r;
};
const permissionJson = (p: Permission) => policyOf([p], [{ any: true }]).permissions[0];
const principalJson = (p: Principal) => policyOf([{ any: true }], [p]).principals[0];

describe('Permission mapping', () => {
  it.each<[string, Permission, Json]>([
    ['any', { any: true }, { any: true }],
    ['and', { and: [{ any: true }] }, { and_rules: { rules: [{ any: true }] } }],
    ['or', { or: [{ any: true }] }, { or_rules: { rules: [{ any: true }] } }],
    ['not', { not: { any: true } }, { not_rule: { any: true } }],
    ['header exact', { header: { name: ':method', match: { exact: 'GET' } } }, { header: { name: ':method', string_match: { exact: 'GET' } } }],
    ['header present', { header: { name: 'x-a', match: { present: true } } }, { header: { name: 'x-a', present_match: true } }],
    ['path prefix', { path: { prefix: '/api/' } }, { url_path: { path: { prefix: '/api/' } } }],
    ['path suffix, ignore case', { path: { suffix: '.JSON', ignoreCase: true } }, { url_path: { path: { suffix: '.JSON', ignore_case: true } } }],
    ['path regex', { path: { regex: '/v[0-9]+/.*' } }, { url_path: { path: { safe_regex: { regex: '/v[0-9]+/.*' } } } }],
  ])('%s', (_, ir, envoy) => expect(permissionJson(ir)).toEqual(envoy));
});

describe('Principal mapping', () => {
  it.each<[string, Principal, Json]>([
    ['any', { any: true }, { any: true }],
    ['and', { and: [{ any: true }] }, { and_ids: { ids: [{ any: true }] } }],
    ['or', { or: [{ any: true }] }, { or_ids: { ids: [{ any: true }] } }],
    ['not', { not: { any: true } }, { not_id: { any: true } }],
    ['authenticated exact', { authenticated: { exact: 'spiffe://td/ns/a/sa/b' } }, { authenticated: { principal_name: { exact: 'spiffe://td/ns/a/sa/b' } } }],
    ['authenticated prefix', { authenticated: { prefix: 'spiffe://td/' } }, { authenticated: { principal_name: { prefix: 'spiffe://td/' } } }],
    ['authenticated regex', { authenticated: { regex: '.*/ns/a/.*' } }, { authenticated: { principal_name: { safe_regex: { regex: '.*/ns/a/.*' } } } }],
    ['directRemoteIp', { directRemoteIp: { address: '10.0.0.0', prefixLen: 8 } }, { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } }],
    ['remoteIp', { remoteIp: { address: '::1', prefixLen: 128 } }, { remote_ip: { address_prefix: '::1', prefix_len: { value: 128 } } }],
    ['header', { header: { name: 'x-tenant', match: { exact: 'Acme', ignoreCase: true } } }, { header: { name: 'x-tenant', string_match: { exact: 'Acme', ignore_case: true } } }],
  ])('%s', (_, ir, envoy) => expect(principalJson(ir)).toEqual(envoy));

  it('writes ignore_case only when true', () => {
    expect(principalJson({ authenticated: { exact: 'x', ignoreCase: false } })).toEqual({ authenticated: { principal_name: { exact: 'x' } } });
  });
});

describe('buildHttpRbacFilters', () => {
  it('no authz plan, no filter', () => {
    expect(buildHttpRbacFilters(undefined)).toEqual([]);
    expect(buildNetworkRbacFilters(undefined, 'p')).toEqual([]);
  });

  it('one filter per action in the given order; AUDIT is Envoy LOG; per-action stat prefixes', () => {
    const filters = buildHttpRbacFilters(EVERY_VARIANT_AUTHZ) as Json[];
    expect(filters.map((f) => f.name)).toEqual([FILTER.httpRbac, FILTER.httpRbac, FILTER.httpRbac]);
    expect(filters.map((f) => f.typed_config['@type'])).toEqual([TYPE.httpRbac, TYPE.httpRbac, TYPE.httpRbac]);
    expect(filters.map((f) => f.typed_config.rules.action)).toEqual(['LOG', 'DENY', 'ALLOW']);
    expect(filters.map((f) => f.typed_config.rules_stat_prefix)).toEqual(['audit.', 'deny.', 'allow.']);
    expect(filters.map((f) => f.typed_config.shadow_rules_stat_prefix)).toEqual([undefined, 'istio_dry_run_deny_', 'istio_dry_run_allow_']);
    expect(filters[1]!.typed_config.shadow_rules).toEqual({
      action: 'DENY',
      policies: {
        'ns[shop]-policy[deny-dry]-rule[0]': {
          permissions: [{ header: { name: ':method', string_match: { exact: 'DELETE' } } }],
          principals: [{ any: true }],
        },
      },
    });
  });

  it('keeps policies in the rule order given', () => {
    const rules = ['z', 'a', 'm'].map((n) => rule(n, [{ any: true }], [{ any: true }]));
    const [f] = buildHttpRbacFilters(authz({ action: 'DENY', rules })) as Json[];
    expect(Object.keys(f!.typed_config.rules.policies)).toEqual(['z', 'a', 'm']);
  });

  it('a dry-run-only filter has no rules (nothing enforced)', () => {
    const [f] = buildHttpRbacFilters(authz({ action: 'ALLOW', shadowRules: [rule('r', [{ any: true }], [{ any: true }])] })) as Json[];
    expect(f!.typed_config).toEqual({
      '@type': TYPE.httpRbac,
      shadow_rules: { action: 'ALLOW', policies: { r: { permissions: [{ any: true }], principals: [{ any: true }] } } },
      shadow_rules_stat_prefix: 'istio_dry_run_allow_',
    });
  });

  it('an ALLOW with no rules keeps `rules` (deny all), and `rules` survives encoding', () => {
    const [f] = buildHttpRbacFilters(authz({ action: 'ALLOW', rules: [] })) as Json[];
    expect(f!.typed_config).toEqual({ '@type': TYPE.httpRbac, rules: { action: 'ALLOW', policies: {} }, rules_stat_prefix: 'allow.' });
    const type = protoType('envoy.extensions.filters.http.rbac.v3.RBAC');
    const { '@type': _, ...fields } = f!.typed_config;
    const bytes = type.encode(type.fromObject(fields)).finish();
    // Field 1 (rules) is on the wire (tag 0x0a) holding only `action: ALLOW` (08 00); the empty
    // policies map is not. Envoy: rules "present and empty: DENY".
    expect([...bytes.subarray(0, 4)]).toEqual([0x0a, 0x02, 0x08, 0x00]);
    expect(type.toObject(type.decode(bytes), { enums: String })).toMatchObject({ rules: { action: 'ALLOW' } });
  });

  it('is deterministic', () => {
    expect(JSON.stringify(buildHttpRbacFilters(EVERY_VARIANT_AUTHZ))).toBe(JSON.stringify(buildHttpRbacFilters(EVERY_VARIANT_AUTHZ)));
  });
});

describe('buildNetworkRbacFilters', () => {
  it('one network filter per action, each with its own stat_prefix', () => {
    const filters = buildNetworkRbacFilters(TCP_AUTHZ, 'inbound_127.0.0.1_18081') as Json[];
    expect(filters.map((f) => [f.name, f.typed_config['@type']])).toEqual(Array(3).fill([FILTER.networkRbac, TYPE.networkRbac]));
    expect(filters.map((f) => f.typed_config.stat_prefix)).toEqual([
      'tcp.inbound_127.0.0.1_18081.audit.',
      'tcp.inbound_127.0.0.1_18081.deny.',
      'tcp.inbound_127.0.0.1_18081.allow.',
    ]);
    expect(filters.map((f) => f.typed_config.rules.action)).toEqual(['LOG', 'DENY', 'ALLOW']);
    expect(filters.every((f) => f.typed_config.rules_stat_prefix === undefined)).toBe(true); // not a network field
  });

  it.each<[string, Permission, Principal]>([
    ['a header permission', { not: { or: [{ header: { name: ':method', match: { exact: 'GET' } } }] } }, { any: true }],
    ['a path permission', { and: [{ path: { exact: '/admin' } }] }, { any: true }],
    ['a header principal', { any: true }, { or: [{ header: { name: 'x-a', match: { present: true } } }] }],
  ])('refuses %s on TCP (Envoy would NACK a header, and a path never matches)', (_, perm, princ) => {
    const plan = authz({ action: 'DENY', shadowRules: [rule('ns[shop]-policy[p]-rule[0]', [perm], [princ])] });
    expect(() => buildNetworkRbacFilters(plan, 'inbound_127.0.0.1_18081')).toThrow(
      'invariant: DENY rule ns[shop]-policy[p]-rule[0] (shop/ns[shop]-policy[p]-rule[0]) has an HTTP-only matcher on TCP port inbound_127.0.0.1_18081',
    );
  });

  it('an ALLOW with no rules left on TCP is still a deny-all filter', () => {
    const [, , allow] = buildNetworkRbacFilters(TCP_AUTHZ, 'p') as Json[];
    expect(allow!.typed_config.rules).toEqual({ action: 'ALLOW', policies: {} });
    expect(allow!.typed_config.shadow_rules_stat_prefix).toBe('istio_dry_run_allow_');
  });
});

describe('inbound listeners carry RBAC on every chain', () => {
  const withMode = (p: InboundPlan, mode: InboundPlan['mtls']['mode']): InboundPlan => ({ ...p, mtls: { mode, scope: 'workload' } });
  const modes = ['STRICT', 'PERMISSIVE', 'DISABLE'] as const;

  it.each(modes)('HTTP, %s: RBAC filters before the router, normalize_path on', (mode) => {
    const listener = buildInboundListener(withMode(inboundPort('HTTP', 18080, EVERY_VARIANT_AUTHZ), mode), 'cluster.local');
    for (const chain of listener.filter_chains as Json[]) {
      expect(chain.filters).toHaveLength(1);
      const hcm = chain.filters[0].typed_config;
      expect(hcm.normalize_path).toEqual({ value: true });
      expect(hcm.http_filters.map((f: Json) => f.name)).toEqual([FILTER.httpRbac, FILTER.httpRbac, FILTER.httpRbac, FILTER.router]);
      expect(hcm.http_filters.slice(0, 3)).toEqual(buildHttpRbacFilters(EVERY_VARIANT_AUTHZ));
    }
    encodeCheck('envoy.config.listener.v3.Listener', listener);
  });

  it.each(modes)('TCP, %s: network RBAC filters before tcp_proxy', (mode) => {
    const listener = buildInboundListener(withMode(inboundPort('TCP', 18081, TCP_AUTHZ), mode), 'cluster.local');
    for (const chain of listener.filter_chains as Json[]) {
      expect(chain.filters.map((f: Json) => f.name)).toEqual([FILTER.networkRbac, FILTER.networkRbac, FILTER.networkRbac, FILTER.tcpProxy]);
      expect(chain.filters.slice(0, 3)).toEqual(buildNetworkRbacFilters(TCP_AUTHZ, 'inbound_127_0_0_1_18081'));
    }
    encodeCheck('envoy.config.listener.v3.Listener', listener);
  });

  it.each(modes)('no authz plan, %s: no RBAC filter anywhere', (mode) => {
    for (const protocol of ['HTTP', 'TCP'] as const) {
      const listener = buildInboundListener(withMode(inboundPort(protocol, 18080, undefined), mode), 'cluster.local');
      expect(JSON.stringify(listener)).not.toContain('rbac');
      encodeCheck('envoy.config.listener.v3.Listener', listener);
    }
  });

  it('every variant encodes on HTTP, HTTP2 and GRPC listeners', () => {
    for (const protocol of ['HTTP', 'HTTP2', 'GRPC'] as const) {
      encodeCheck('envoy.config.listener.v3.Listener', buildInboundListener(inboundPort(protocol, 18080, EVERY_VARIANT_AUTHZ), 'cluster.local'));
    }
  });

  it('outbound connection managers are unchanged: no normalize_path, router only', () => {
    const hcm = (buildTerminalFilter({ protocol: 'HTTP', statPrefix: 'o', cluster: 'c', routeName: 'r' }) as Json).typed_config;
    expect(hcm).not.toHaveProperty('normalize_path');
    expect(hcm.http_filters.map((f: Json) => f.name)).toEqual([FILTER.router]);
  });
});
