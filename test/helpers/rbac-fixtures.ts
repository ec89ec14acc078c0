import type { AuthzPlan, Permission, Principal, RbacRule } from '../../src/plan/authz-plan.ts';
import type { InboundPlan } from '../../src/plan/proxy-plan.ts';

/**
 * Test fixtures: AuthzPlans that use every IR variant, shared by the unit tests and the test that
 * runs real Envoy's config validation on them. Not used by the translator itself.
 */

/** Every Permission variant, each StringMatch kind, ignore_case on and off. */
export const EVERY_PERMISSION: Permission = {
  and: [
    { or: [{ header: { name: ':method', match: { exact: 'GET' } } }, { header: { name: ':method', match: { exact: 'HEAD' } } }] },
    { or: [{ path: { prefix: '/api/' } }, { path: { suffix: '.json' } }, { path: { regex: '/v[0-9]+/.*' } }] },
    { header: { name: ':authority', match: { exact: 'backend.shop', ignoreCase: true } } },
    { header: { name: ':authority', match: { prefix: 'backend.', ignoreCase: true } } },
    { header: { name: ':authority', match: { suffix: '.shop', ignoreCase: true } } },
    { not: { or: [{ path: { exact: '/admin' } }] } },
  ],
};

/** Every Principal variant. */
export const EVERY_PRINCIPAL: Principal = {
  and: [
    {
      or: [
        { authenticated: { exact: 'spiffe://cluster.local/ns/shop/sa/frontend' } },
        { authenticated: { prefix: 'spiffe://cluster.local/' } },
        { authenticated: { regex: '.*/ns/shop/.*' } },
      ],
    },
    { or: [{ directRemoteIp: { address: '127.0.0.0', prefixLen: 8 } }, { directRemoteIp: { address: '::1', prefixLen: 128 } }] },
    { not: { or: [{ remoteIp: { address: '10.0.0.0', prefixLen: 8 } }] } },
    { header: { name: 'x-canary', match: { present: true } } },
    { header: { name: 'x-tenant', match: { exact: 'acme' } } },
  ],
};

export const rule = (name: string, permissions: Permission[], principals: Principal[]): RbacRule => ({
  name,
  policy: 'shop/' + name,
  rule: 0,
  permissions,
  principals,
});

/** AUDIT, DENY (enforced + dry run), ALLOW (enforced + dry run), every variant somewhere. */
export const EVERY_VARIANT_AUTHZ: AuthzPlan = {
  policies: ['shop/audit', 'shop/deny', 'shop/allow'],
  filters: [
    { action: 'AUDIT', rules: [rule('ns[shop]-policy[audit]-rule[0]', [{ any: true }], [{ any: true }])] },
    {
      action: 'DENY',
      rules: [rule('ns[shop]-policy[deny]-rule[0]', [{ path: { exact: '/admin' } }], [{ not: { authenticated: { regex: '.+' } } }])],
      shadowRules: [rule('ns[shop]-policy[deny-dry]-rule[0]', [{ header: { name: ':method', match: { exact: 'DELETE' } } }], [{ any: true }])],
    },
    {
      action: 'ALLOW',
      rules: [
        rule('ns[shop]-policy[allow]-rule[0]', [EVERY_PERMISSION], [EVERY_PRINCIPAL]),
        rule('ns[shop]-policy[allow]-rule[1]', [{ any: true }], [{ directRemoteIp: { address: '127.0.0.1', prefixLen: 32 } }]),
      ],
      shadowRules: [rule('ns[shop]-policy[allow-dry]-rule[0]', [{ any: true }], [{ authenticated: { exact: 'spiffe://cluster.local/ns/shop/sa/frontend' } }])],
    },
  ],
  notes: [],
};

const TCP_PRINCIPAL: Principal = {
  and: [
    { or: [{ authenticated: { exact: 'spiffe://cluster.local/ns/shop/sa/frontend' } }, { authenticated: { regex: '.*/ns/shop/.*' } }] },
    { not: { directRemoteIp: { address: '192.168.0.0', prefixLen: 16 } } },
  ],
};

/**
 * What the plan leaves for a TCP port: no HTTP-only fields (headers, paths), ALLOW with no rule
 * left (deny all) plus a dry-run rule, a DENY on peers, an AUDIT.
 */
export const TCP_AUTHZ: AuthzPlan = {
  policies: ['shop/allow', 'shop/audit', 'shop/deny'],
  filters: [
    { action: 'AUDIT', rules: [rule('ns[shop]-policy[audit]-rule[0]', [{ any: true }], [{ directRemoteIp: { address: '127.0.0.1', prefixLen: 32 } }])] },
    {
      action: 'DENY',
      rules: [rule('ns[shop]-policy[deny]-rule[0]', [{ any: true }], [{ or: [{ remoteIp: { address: '10.0.0.0', prefixLen: 8 } }] }])],
    },
    {
      action: 'ALLOW',
      rules: [],
      shadowRules: [rule('ns[shop]-policy[allow-dry]-rule[0]', [{ any: true }], [TCP_PRINCIPAL])],
    },
  ],
  notes: ['shop/allow rule 0 uses HTTP-only fields: skipped on TCP port'],
};

/** A plaintext (DISABLE) inbound port: no SDS, so the listener stands alone in a static bootstrap. */
export function inboundPort(protocol: InboundPlan['protocol'], listenPort: number, authz: AuthzPlan | undefined): InboundPlan {
  return {
    service: 'backend.shop',
    portName: protocol === 'TCP' ? 'tcp' : 'http',
    protocol,
    listenAddress: '127.0.0.1',
    listenPort,
    targetAddress: '127.0.0.1',
    targetPort: listenPort + 1000,
    mtls: { mode: 'DISABLE', scope: 'workload' },
    ...(authz && { authz }),
  };
}
