import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseModelFiles } from '../model/load-model.ts';
import { buildProxyPlans } from '../plan/build-proxy-plans.ts';
import { buildProxylessPlans } from '../plan/build-proxyless-plans.ts';
import type { ProxyPlan } from '../plan/proxy-plan.ts';
import { compareStrings } from '../plan/resolve-mtls.ts';
import { translateProxyless } from './grpc-proxyless.ts';
import { encodeCheck } from '../../test/helpers/encode-check.ts';
import { translateProxy, type ProxyResources } from './translate-proxy.ts';

/**
 * Golden files: testdata/in/<case>.yaml (a whole config directory as one multi-document file)
 * -> testdata/out/<case>.{plan,listeners,clusters,secrets}.yaml, each a map of node id to what
 * that proxy gets (Envoy sidecars and proxyless gRPC apps alike), plus {routes,endpoints}.yaml
 * for cases where some node gets RDS/EDS resources. Update with
 * `npx vitest run src/translate --update`; review the diff like code.
 */
const root = join(import.meta.dirname, '../../testdata');
const cases = readdirSync(join(root, 'in')).filter((f) => f.endsWith('.yaml')).map((f) => basename(f, '.yaml')).sort();
const KINDS = ['listeners', 'clusters', 'secrets'] as const;
const OPTIONAL_KINDS = ['routes', 'endpoints'] as const;

/** Fixed, readable stand-ins for CA output, so goldens do not change with every key. */
function testCertificates(plan: ProxyPlan) {
  return {
    certChainPem: `<certificate chain for ${plan.spiffeId}>`,
    privateKeyPem: `<private key of ${plan.nodeId}>`,
    trustBundlePem: '<mesh trust bundle>',
  };
}

function translateCase(name: string) {
  const file = `${name}.yaml`;
  const { model, violations } = parseModelFiles([{ file, text: readFileSync(join(root, 'in', file), 'utf8') }]);
  expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  const envoy = buildProxyPlans(model!);
  const proxyless = buildProxylessPlans(model!);
  const resources = new Map<string, ProxyResources>(
    [
      ...envoy.map((p) => [p.nodeId, translateProxy(p, testCertificates(p))] as const),
      ...proxyless.map((p) => [p.nodeId, translateProxyless(p)] as const),
    ].sort(([a], [b]) => compareStrings(a, b)),
  );
  const plans = [...envoy, ...proxyless].sort((a, b) => compareStrings(a.nodeId, b.nodeId));
  const kinds = [...KINDS, ...OPTIONAL_KINDS.filter((k) => [...resources.values()].some((r) => r[k] !== undefined))];
  return { plans, resources, kinds };
}

const toYaml = (value: unknown) => stringify(value, { sortMapEntries: false, lineWidth: 0, aliasDuplicateObjects: false });

describe.each(cases)('golden %s', (name) => {
  const { plans, resources, kinds } = translateCase(name);

  it('plan matches testdata/out', async () => {
    const byNode = Object.fromEntries(plans.map((p) => [p.nodeId, p]));
    await expect(toYaml(byNode)).toMatchFileSnapshot(join(root, 'out', `${name}.plan.yaml`));
  });

  it.each(kinds)('%s match testdata/out', async (kind) => {
    const byNode = Object.fromEntries([...resources].map(([node, r]) => [node, r[kind] ?? []]));
    await expect(toYaml(byNode)).toMatchFileSnapshot(join(root, 'out', `${name}.${kind}.yaml`));
  });

  it('no listener has two filter chains with the same match (Envoy would reject the whole listener)', () => {
    for (const r of resources.values()) {
      for (const l of r.listeners) {
        const matches = ((l.filter_chains ?? []) as { filter_chain_match?: object }[]).map((c) => JSON.stringify(c.filter_chain_match ?? {}));
        expect(new Set(matches).size, `${l.name}: ${matches.join(' ')}`).toBe(matches.length);
      }
    }
  });

  it('every resource encodes to protobuf and back without losing a field or an Any', () => {
    for (const r of resources.values()) {
      for (const l of r.listeners) encodeCheck('envoy.config.listener.v3.Listener', l);
      for (const c of r.clusters) encodeCheck('envoy.config.cluster.v3.Cluster', c);
      for (const s of r.secrets) encodeCheck('envoy.extensions.transport_sockets.tls.v3.Secret', s);
      for (const rc of r.routes ?? []) encodeCheck('envoy.config.route.v3.RouteConfiguration', rc);
      for (const e of r.endpoints ?? []) encodeCheck('envoy.config.endpoint.v3.ClusterLoadAssignment', e);
    }
  });
});

it('no orphan golden files', () => {
  const outputs = readdirSync(join(root, 'out'));
  const orphans = outputs.filter((f) => !cases.includes(f.split('.')[0]!));
  expect(orphans).toEqual([]);
});
