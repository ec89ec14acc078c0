/**
 * Istio `PeerAuthentication` (security.istio.io/v1, v1beta1) with Istio's validation rules:
 * portLevelMtls needs a selector, keys are ports 1..65535, the map is not empty.
 * Root-namespace checks need the Mesh and live in validate-references.
 */
import type { Metadata, PeerAuthMode, PeerAuthentication, Source } from './types.ts';
import { indexPath, type Issues, ObjectFields, readMap } from './fields.ts';
import { readWorkloadSelector } from './parse-metadata.ts';

export const PEER_AUTH_MODES: readonly PeerAuthMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

const SPEC_HINTS: Readonly<Record<string, string>> = {
  targetRef: 'PeerAuthentication selects workloads with spec.selector.matchLabels only; remove it',
  targetRefs: 'PeerAuthentication selects workloads with spec.selector.matchLabels only; remove it',
};

export function parsePeerAuthentication(
  spec: unknown,
  base: { source: Source; metadata: Metadata },
  issues: Issues,
): PeerAuthentication {
  const policy: PeerAuthentication = { kind: 'PeerAuthentication', ...base, mode: 'UNSET', portLevelMtls: new Map() };
  if (spec === undefined || spec === null) return policy;
  const f = ObjectFields.read(issues, spec, 'spec', ['selector', 'mtls', 'portLevelMtls'] as const, { hints: SPEC_HINTS });
  if (!f) return policy;

  const selector = readWorkloadSelector(f, issues);
  if (selector) policy.selector = selector;

  const mtls = f.object('mtls', ['mode'] as const);
  policy.mode = mtls?.enumValue('mode', PEER_AUTH_MODES) ?? 'UNSET';

  const rawPorts = f.raw('portLevelMtls');
  if (rawPorts === undefined) return policy;
  const portsPath = f.pathOf('portLevelMtls');
  const entries = readMap(issues, rawPorts, portsPath, 'a mapping of port numbers to {mode: ...}', (key) => indexPath(portsPath, key));
  if (!entries) return policy;
  if (entries.length === 0) {
    f.error('portLevelMtls', 'must not be empty: remove it, or list ports such as portLevelMtls: {8080: {mode: DISABLE}}');
    return policy;
  }
  if (!policy.selector) {
    f.error(
      'portLevelMtls',
      'portLevelMtls requires a selector (Istio rejects it on namespace- and mesh-wide policies): add spec.selector.matchLabels for the workloads these ports belong to',
    );
  }

  const ports: [number, PeerAuthMode][] = [];
  for (const entry of entries) {
    const port = typeof entry.rawKey === 'number' ? entry.rawKey : /^\d+$/.test(entry.key) ? Number(entry.key) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      issues.error(entry.path, `key ${JSON.stringify(entry.key)} is not a port: portLevelMtls keys are workload targetPorts from 1 to 65535`);
      continue;
    }
    if (ports.some(([p]) => p === port)) {
      issues.error(entry.path, `port ${port} is listed more than once: keep one entry`);
      continue;
    }
    const value = ObjectFields.read(issues, entry.value, entry.path, ['mode'] as const);
    if (!value) continue;
    ports.push([port, value.enumValue('mode', PEER_AUTH_MODES) ?? 'UNSET']);
  }
  ports.sort(([a], [b]) => a - b);
  policy.portLevelMtls = new Map(ports);
  return policy;
}
