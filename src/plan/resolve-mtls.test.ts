import { describe, expect, it } from 'vitest';
import type { PeerAuthentication, PeerAuthMode } from '../model/types.ts';
import { mtlsForPort, resolveMtls } from './resolve-mtls.ts';

const ROOT = 'mesh-system';
const SUBJECT = { namespace: 'shop', labels: { app: 'backend', version: 'v1' } };

function pa(
  name: string,
  namespace: string,
  mode: PeerAuthMode,
  extra: { selector?: Record<string, string>; ports?: Record<number, PeerAuthMode>; created?: string } = {},
): PeerAuthentication {
  return {
    kind: 'PeerAuthentication',
    source: { file: `${name}.yaml`, index: 0 },
    metadata: { name, namespace, labels: {}, annotations: {}, ...(extra.created && { creationTimestamp: extra.created }) },
    ...(extra.selector && { selector: extra.selector }),
    mode,
    portLevelMtls: new Map(Object.entries(extra.ports ?? {}).map(([p, m]) => [Number(p), m])),
  };
}

const MODES: PeerAuthMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'];
/** The scope underneath each case sets this mode, so UNSET visibly inherits it. */
const PARENT = 'STRICT';
const INHERITING_PARENT = 'DISABLE';

describe('resolveMtls: each scope against each mode', () => {
  it('no policy at all = PERMISSIVE', () => {
    expect(resolveMtls([], ROOT, SUBJECT).workload).toEqual({ mode: 'PERMISSIVE', scope: 'default' });
  });

  describe.each(MODES)('mesh policy %s', (mode) => {
    it(mode === 'UNSET' ? 'UNSET = PERMISSIVE default' : `= ${mode} from mesh`, () => {
      const r = resolveMtls([pa('mesh', ROOT, mode)], ROOT, SUBJECT);
      expect(r.workload).toEqual(mode === 'UNSET' ? { mode: 'PERMISSIVE', scope: 'default' } : { mode, scope: 'mesh', policy: 'mesh-system/mesh' });
    });
  });

  describe.each(MODES)(`namespace policy %s under mesh ${INHERITING_PARENT}`, (mode) => {
    it(mode === 'UNSET' ? 'UNSET inherits the mesh mode' : `overrides the mesh with ${mode}`, () => {
      const r = resolveMtls([pa('mesh', ROOT, INHERITING_PARENT), pa('ns', 'shop', mode)], ROOT, SUBJECT);
      expect(r.workload).toEqual(
        mode === 'UNSET' ? { mode: INHERITING_PARENT, scope: 'mesh', policy: 'mesh-system/mesh' } : { mode, scope: 'namespace', policy: 'shop/ns' },
      );
    });
  });

  describe.each(MODES)('workload policy %s under namespace STRICT', (mode) => {
    it(mode === 'UNSET' ? 'UNSET inherits the namespace mode' : `overrides the namespace with ${mode}`, () => {
      const r = resolveMtls([pa('ns', 'shop', PARENT), pa('wl', 'shop', mode, { selector: { app: 'backend' } })], ROOT, SUBJECT);
      expect(r.workload).toEqual(mode === 'UNSET' ? { mode: PARENT, scope: 'namespace', policy: 'shop/ns' } : { mode, scope: 'workload', policy: 'shop/wl' });
    });
  });

  describe.each(MODES)('port-level %s under workload DISABLE', (mode) => {
    it(mode === 'UNSET' ? 'UNSET inherits the workload mode' : `overrides port 8080 only with ${mode}`, () => {
      const r = resolveMtls([pa('wl', 'shop', 'DISABLE', { selector: { app: 'backend' }, ports: { 8080: mode } })], ROOT, SUBJECT);
      const expected = mode === 'UNSET' ? { mode: 'DISABLE', scope: 'workload', policy: 'shop/wl' } : { mode, scope: 'port', policy: 'shop/wl' };
      expect(mtlsForPort(r, 8080)).toEqual(expected);
      expect(mtlsForPort(r, 9090)).toEqual({ mode: 'DISABLE', scope: 'workload', policy: 'shop/wl' });
    });
  });
});

describe('resolveMtls: which policies apply', () => {
  it('a namespace policy of another namespace does not apply', () => {
    expect(resolveMtls([pa('other', 'web', 'STRICT')], ROOT, SUBJECT).workload.mode).toBe('PERMISSIVE');
  });

  it('a selector that does not match the labels does not apply', () => {
    const r = resolveMtls([pa('wl', 'shop', 'STRICT', { selector: { app: 'frontend' } })], ROOT, SUBJECT);
    expect(r.workload.mode).toBe('PERMISSIVE');
  });

  it('a selector matches when its labels are a subset of the workload labels', () => {
    const r = resolveMtls([pa('wl', 'shop', 'STRICT', { selector: { version: 'v1' } })], ROOT, SUBJECT);
    expect(r.workload).toEqual({ mode: 'STRICT', scope: 'workload', policy: 'shop/wl' });
  });

  it('a selector policy in the root namespace is ignored, as in Istio', () => {
    const r = resolveMtls([pa('wl', ROOT, 'STRICT', { selector: { app: 'backend' } })], ROOT, SUBJECT);
    expect(r.workload.mode).toBe('PERMISSIVE');
  });

  it('portLevelMtls only applies through the chosen workload policy', () => {
    const r = resolveMtls([pa('wl', 'shop', 'STRICT', { selector: { app: 'backend' }, ports: { 8080: 'DISABLE' } })], ROOT, SUBJECT);
    expect(mtlsForPort(r, 8080).mode).toBe('DISABLE');
    expect(mtlsForPort(r, 8081).mode).toBe('STRICT');
  });

  it('for a workload in the root namespace the mesh policy is its namespace policy', () => {
    const r = resolveMtls([pa('mesh', ROOT, 'STRICT')], ROOT, { namespace: ROOT, labels: {} });
    expect(r.workload).toEqual({ mode: 'STRICT', scope: 'mesh', policy: 'mesh-system/mesh' });
  });
});

describe('resolveMtls: ties', () => {
  it.each([
    ['mesh', ROOT, {}],
    ['namespace', 'shop', {}],
    ['workload', 'shop', { selector: { app: 'backend' } }],
  ] as const)('two %s policies: the oldest wins whatever the order given', (_scope, ns, extra) => {
    const older = pa('zz-older', ns, 'DISABLE', { ...extra, created: '2026-01-01T00:00:00Z' });
    const newer = pa('aa-newer', ns, 'STRICT', { ...extra, created: '2026-02-01T00:00:00Z' });
    expect(resolveMtls([newer, older], ROOT, SUBJECT).workload.mode).toBe('DISABLE');
    expect(resolveMtls([older, newer], ROOT, SUBJECT).workload.mode).toBe('DISABLE');
  });

  it('same creation time: the name decides (alphabetical first)', () => {
    const t = '2026-01-01T00:00:00Z';
    const r = resolveMtls([pa('b', 'shop', 'STRICT', { created: t }), pa('a', 'shop', 'DISABLE', { created: t })], ROOT, SUBJECT);
    expect(r.workload).toEqual({ mode: 'DISABLE', scope: 'namespace', policy: 'shop/a' });
  });

  it('a policy with a creation time is older than one without', () => {
    const r = resolveMtls([pa('a', 'shop', 'STRICT'), pa('b', 'shop', 'DISABLE', { created: '2026-01-01T00:00:00Z' })], ROOT, SUBJECT);
    expect(r.workload.mode).toBe('DISABLE');
  });

  it('the losing workload policy contributes nothing, not even its port-level settings', () => {
    const older = pa('older', 'shop', 'STRICT', { selector: { app: 'backend' }, created: '2026-01-01T00:00:00Z' });
    const newer = pa('newer', 'shop', 'STRICT', { selector: { app: 'backend' }, ports: { 8080: 'DISABLE' }, created: '2026-03-01T00:00:00Z' });
    expect(mtlsForPort(resolveMtls([newer, older], ROOT, SUBJECT), 8080).mode).toBe('STRICT');
  });
});
