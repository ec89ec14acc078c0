import { describe, expect, it } from 'vitest';
import { ModelParser } from '../model/model-parser.ts';
import type { MeshModel } from '../model/types.ts';
import { buildProxyPlans } from './build-proxy-plans.ts';
import { ProxyPlanner } from './proxy-planner.ts';

/**
 * The planner gives buildProxyPlans's plans; after a change that only touches AuthorizationPolicies
 * it plans again only the workloads those policies select, and any plan equal to the last one of
 * its node is that same object (what lets the control plane skip translating it).
 */
const mesh = (ttl = '24h') => `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec: {trustDomain: cluster.local, rootNamespace: mesh-system, ca: {workloadCertTTL: ${ttl}}}
`;
const TOPOLOGY = ['backend', 'frontend', 'other']
  .map(
    (app) => `apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: ${app}, namespace: shop}
spec: {ports: [{name: http-api}, {name: tcp-data}]}
`,
  )
  .concat(
    [
      ['backend-1', 'backend', 11],
      ['backend-2', 'backend', 12],
      ['frontend-1', 'frontend', 13],
      ['other-1', 'other', 14],
    ].map(
      ([name, app, n]) => `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop, labels: {app: ${app}}}
spec:
  serviceAccount: ${app}
  address: 127.0.0.${n}
  inbound:
    - {service: ${app}, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: ${app}, port: tcp-data, listenPort: 18090, targetPort: 9090}
  outbound: [{service: backend, port: http-api, listenPort: 19001, bind: 127.0.0.${n}}]
`,
    ),
  )
  .join('---\n');
const policy = (name: string, namespace: string, selector: string, path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  ${selector ? `selector: {matchLabels: {app: ${selector}}}` : ''}
  rules: [{to: [{operation: {methods: [GET], paths: ["${path}"], ports: ["8080"]}}]}]
`;
const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: mesh-system}
spec: {mtls: {mode: STRICT}}
`;

/** Models as the control plane gets them: from a ModelParser, unchanged documents as the same objects. */
function models() {
  const parser = new ModelParser();
  return (files: Record<string, string>): MeshModel => {
    const { model, violations } = parser.parse(Object.entries(files).map(([file, text]) => ({ file, text })));
    if (!model) throw new Error(violations.map((v) => `${v.file}: ${v.message}`).join('\n'));
    return model;
  };
}

const BASE = { 'mesh.yaml': mesh(), 'topology.yaml': TOPOLOGY, 'policies.yaml': policy('b', 'shop', 'backend', '/v1/*') };

describe('ProxyPlanner', () => {
  it('plans again only the workloads a changed policy selects; every other plan is the same object', () => {
    const model = models();
    const planner = new ProxyPlanner();
    const first = planner.plan(model(BASE)).plans;
    expect(planner.planned).toBe(4);

    const next = model({ ...BASE, 'policies.yaml': policy('b', 'shop', 'backend', '/v2/*') });
    const second = planner.plan(next).plans;
    expect(second).toStrictEqual(buildProxyPlans(next));
    expect(planner.planned).toBe(2);
    const byNode = (plans: typeof first) => new Map(plans.map((p) => [p.nodeId, p]));
    const [before, after] = [byNode(first), byNode(second)];
    expect(after.get('backend-1.shop')).not.toBe(before.get('backend-1.shop'));
    expect(after.get('backend-2.shop')).not.toBe(before.get('backend-2.shop'));
    expect(after.get('frontend-1.shop')).toBe(before.get('frontend-1.shop'));
    expect(after.get('other-1.shop')).toBe(before.get('other-1.shop'));

    // The same model again: nothing planned.
    expect(planner.plan(next).plans).toBe(second);
    expect(planner.planned).toBe(0);
  });

  it('a policy that moves to other workloads re-plans those it left and those it reaches', () => {
    const model = models();
    const planner = new ProxyPlanner();
    planner.plan(model(BASE));
    const moved = model({ ...BASE, 'policies.yaml': policy('b', 'shop', 'frontend', '/v1/*') });
    expect(planner.plan(moved).plans).toStrictEqual(buildProxyPlans(moved));
    expect(planner.planned).toBe(3); // backend-1, backend-2 (left) and frontend-1 (reached)
  });

  it('follows every kind of change as buildProxyPlans does, reusing the plans that came out equal', () => {
    const model = models();
    const planner = new ProxyPlanner();
    const moved = TOPOLOGY.replace('address: 127.0.0.14', 'address: 127.0.0.24').replace('bind: 127.0.0.14', 'bind: 127.0.0.24');
    const steps: Record<string, string>[] = [
      BASE,
      { ...BASE, 'policies.yaml': `${policy('b', 'shop', 'backend', '/v1/*')}---\n${policy('all', 'mesh-system', '', '/all/*')}` }, // mesh-wide: all four
      { ...BASE, 'policies.yaml': '# none\n' }, // removed: all four again
      { ...BASE, 'peer.yaml': STRICT }, // topology: full plan
      { ...BASE, 'peer.yaml': STRICT, 'topology.yaml': moved },
      { ...BASE, 'peer.yaml': STRICT, 'topology.yaml': moved, 'mesh.yaml': mesh('12h') },
      BASE,
    ];
    const planned: number[] = [];
    let last = new Map<string, unknown>();
    const reused: string[][] = [];
    for (const files of steps) {
      const m = model(files);
      const { plans } = planner.plan(m);
      expect(plans).toStrictEqual(buildProxyPlans(m));
      planned.push(planner.planned);
      reused.push(plans.filter((p) => last.get(p.nodeId) === p).map((p) => p.nodeId));
      last = new Map(plans.map((p) => [p.nodeId, p]));
    }
    expect(planned).toEqual([4, 4, 4, 4, 4, 4, 4]);
    // other-1 moved: its own plan changed, and so did every plan with an outbound to... backend only: none else.
    expect(reused[4]).toEqual(['backend-1.shop', 'backend-2.shop', 'frontend-1.shop']);
    // A Mesh change that no plan depends on: planned in full, every plan came out equal.
    expect(reused[5]).toHaveLength(4);
  });
});
