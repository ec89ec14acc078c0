import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml, violationLines } from './model-test-helpers.ts';

const policy = (spec: string, namespace = 'shop') =>
  parseTestYaml(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: ${namespace}}
${spec}
`);

describe('PeerAuthentication', () => {
  it('defaults to mode UNSET without selector or ports', () => {
    for (const spec of ['', 'spec: {}', 'spec: {mtls: {}}', 'spec: {selector: {}}', 'spec: {selector: {matchLabels: {}}, mtls: null}']) {
      const result = policy(spec);
      expect(result.violations).toEqual([]);
      const p = result.model!.peerAuthentications[0]!;
      expect(p.mode).toBe('UNSET');
      expect(p.selector).toBeUndefined();
      expect(p.portLevelMtls).toEqual(new Map());
    }
  });

  it('reads selector, mode and portLevelMtls with numeric or quoted port keys, sorted', () => {
    const result = policy(`spec:
  selector: {matchLabels: {app: backend}}
  mtls: {mode: STRICT}
  portLevelMtls:
    "9090": {mode: PERMISSIVE}
    8080: {mode: DISABLE}
    7070: {}`);
    expect(result.violations).toEqual([]);
    const p = result.model!.peerAuthentications[0]!;
    expect(p.selector).toEqual({ app: 'backend' });
    expect(p.mode).toBe('STRICT');
    expect([...p.portLevelMtls]).toEqual([
      [7070, 'UNSET'],
      [8080, 'DISABLE'],
      [9090, 'PERMISSIVE'],
    ]);
  });

  it('rejects portLevelMtls without a selector, as Istio does', () => {
    expect(errorLines(policy('spec: {mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}}'))).toEqual([
      'test.yaml: spec.portLevelMtls: portLevelMtls requires a selector (Istio rejects it on namespace- and mesh-wide policies): add spec.selector.matchLabels for the workloads these ports belong to',
    ]);
    expect(errorLines(policy('spec: {selector: {matchLabels: {}}, portLevelMtls: {8080: {mode: DISABLE}}}'))).toHaveLength(1);
  });

  it('rejects an empty portLevelMtls, bad ports and bad modes with paths', () => {
    expect(errorLines(policy('spec: {selector: {matchLabels: {app: a}}, portLevelMtls: {}}'))).toEqual([
      'test.yaml: spec.portLevelMtls: must not be empty: remove it, or list ports such as portLevelMtls: {8080: {mode: DISABLE}}',
    ]);
    expect(errorLines(policy(`spec:
  selector: {matchLabels: {app: a}}
  mtls: {mode: strict}
  portLevelMtls:
    8080: {mode: OFF}
    0: {mode: STRICT}
    http: {mode: STRICT}
    70000: {mode: STRICT}
    9090: DISABLE
    "8080": {mode: STRICT}`))).toEqual([
      'test.yaml: spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got "strict" (did you mean "STRICT"?)',
      'test.yaml: spec.portLevelMtls[8080]: key "8080" appears more than once (for example as a number and as a quoted string): keep one',
      'test.yaml: spec.portLevelMtls[8080].mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got "OFF"',
      'test.yaml: spec.portLevelMtls[0]: key "0" is not a port: portLevelMtls keys are workload targetPorts from 1 to 65535',
      'test.yaml: spec.portLevelMtls[http]: key "http" is not a port: portLevelMtls keys are workload targetPorts from 1 to 65535',
      'test.yaml: spec.portLevelMtls[70000]: key "70000" is not a port: portLevelMtls keys are workload targetPorts from 1 to 65535',
      'test.yaml: spec.portLevelMtls[9090]: must be a mapping, got the string "DISABLE"',
    ]);
  });

  it('rejects fields Istio has but we do not support, and unknown ones', () => {
    expect(errorLines(policy('spec: {selector: {matchLabels: {app: a}, matchExpressions: []}, targetRefs: [], mtls: {mode: STRICT, enabled: true}}'))).toEqual([
      'test.yaml: spec.targetRefs: field "targetRefs" is not supported: PeerAuthentication selects workloads with spec.selector.matchLabels only; remove it',
      'test.yaml: spec.selector.matchExpressions: field "matchExpressions" is not supported: Istio workload selectors support matchLabels only; express the selection with matchLabels',
      'test.yaml: spec.mtls.enabled: unknown field "enabled": remove it (supported fields here: mode)',
    ]);
  });

  it('warns that a selector policy in the root namespace is ignored', () => {
    const result = policy('spec: {selector: {matchLabels: {app: a}}, mtls: {mode: STRICT}}', 'mesh-system');
    expect(result.model).toBeDefined();
    expect(violationLines(result)).toEqual([
      'test.yaml: spec.selector: warning: a PeerAuthentication with a selector in the root namespace "mesh-system" is ignored (as in Istio): move it to the namespace of the workloads it selects, or remove the selector to make it mesh-wide',
    ]);
    // The root namespace comes from the Mesh.
    const custom = parseTestYaml(
      `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {rootNamespace: istio-system}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: mesh-system}
spec: {selector: {matchLabels: {app: a}}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: istio-system}
spec: {selector: {matchLabels: {app: a}}}
`,
      { withMesh: false },
    );
    expect(custom.violations.map((v) => `${v.file} ${v.path} ${v.severity}`)).toEqual(['test.yaml:11 spec.selector warning']);
  });

  it('warns when several namespace-wide policies compete (only the oldest applies)', () => {
    const result = parseTestYaml(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: a, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b, namespace: shop}
spec: {mtls: {mode: DISABLE}}
`);
    expect(result.model).toBeDefined();
    expect(violationLines(result)).toEqual([
      'test.yaml:1: metadata.name: warning: namespace "shop" has 2 namespace-wide PeerAuthentications (a, b): only the oldest applies (creationTimestamp, then name), the others are ignored; keep one',
      'test.yaml:6: metadata.name: warning: namespace "shop" has 2 namespace-wide PeerAuthentications (a, b): only the oldest applies (creationTimestamp, then name), the others are ignored; keep one',
    ]);
  });
});
