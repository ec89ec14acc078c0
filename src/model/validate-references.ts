/**
 * Checks across documents: exactly one Mesh, unique names, inbound/outbound references to
 * Services and their ports, listener address:port clashes, PeerAuthentication placement,
 * what AuthorizationPolicies select (validate-authorization-policies) and what proxyless
 * workloads can do (validate-proxyless).
 */
import type { Violation } from '../errors.ts';
import type { AuthorizationPolicy, ExternalService, Mesh, PeerAuthentication, Service, Workload } from './types.ts';
import { qualifiedName } from './types.ts';
import { suggest } from './did-you-mean.ts';
import { DEFAULT_ROOT_NAMESPACE } from './parse-mesh.ts';
import { policyScope, validateAuthorizationPolicy, type PolicyScope } from './validate-authorization-policies.ts';
import { validateInboundTargets } from './validate-inbound-targets.ts';
import { validateProxyless, validateProxylessPolicy } from './validate-proxyless.ts';

export interface Located<T> {
  /** As violations name it: `file.yaml` or `file.yaml#2`. */
  file: string;
  value: T;
}
export interface LocatedWorkload extends Located<Workload> {
  inboundPaths: readonly string[];
  outboundPaths: readonly string[];
}
export interface LocatedAuthorizationPolicy extends Located<AuthorizationPolicy> {
  /** The document parsed without error, so its rule and value indices match the YAML. */
  valid: boolean;
}
export interface ResourceSet {
  meshes: readonly Located<Mesh>[];
  services: readonly Located<Service>[];
  externalServices: readonly Located<ExternalService>[];
  workloads: readonly LocatedWorkload[];
  peerAuthentications: readonly Located<PeerAuthentication>[];
  authorizationPolicies: readonly LocatedAuthorizationPolicy[];
}

/** `file` of violations about the directory as a whole. */
export const CONFIG_FILE = '(config)';
const MESH_EXAMPLE =
  '{apiVersion: meshplane.dev/v1alpha1, kind: Mesh, metadata: {name: default}, spec: {trustDomain: cluster.local, rootNamespace: mesh-system}}';

type Destination = { kind: 'Service'; at: Located<Service> } | { kind: 'ExternalService'; at: Located<ExternalService> };

/**
 * Every cross-document check. Two parts that can be run apart: what AuthorizationPolicies are not
 * part of (validateTopology) and what only they are (validatePolicyReferences), so a reload that
 * changed only policies can keep the first part's result (model-parser.ts). No document gets
 * violations from both parts, so their order within a document is the same either way.
 */
export function validateReferences(set: ResourceSet): Violation[] {
  return [...validateTopology(set), ...validatePolicyReferences(set)];
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
type Report = (file: string, path: string, message: string) => void;

/** A resource whose namespace/name is already taken in `seen` is an error; true when it is the first. */
function claim<T extends { kind: string; metadata: { name: string; namespace: string } }>(seen: Map<string, Located<T>>, at: Located<T>, error: Report): boolean {
  const m = at.value.metadata;
  const first = seen.get(key(m.namespace, m.name));
  if (!first) {
    seen.set(key(m.namespace, m.name), at);
    return true;
  }
  const shared = first.value.kind !== at.value.kind
    ? ` (Services and ExternalServices share one set of names because outbounds reference both)`
    : '';
  error(
    at.file,
    'metadata.name',
    `${at.value.kind} ${JSON.stringify(m.name)} in namespace ${JSON.stringify(m.namespace)} clashes with the ${first.value.kind} of the same name in ${first.file}${shared}: rename one of them`,
  );
  return false;
}

/** The root namespace as the (first) Mesh sets it. */
const rootNamespaceOf = (set: Pick<ResourceSet, 'meshes'>) => set.meshes[0]?.value.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;

/**
 * The AuthorizationPolicies' checks against one topology (its workloads, services and root
 * namespace), remembered per policy: while the topology is the same objects, a policy that is the
 * same object has the same warnings (model-parser.ts keeps one per topology).
 */
export class PolicyChecks {
  readonly #scope: PolicyScope;
  readonly #proxyless: readonly Workload[];
  readonly #known = new Map<LocatedAuthorizationPolicy, Violation[]>();

  constructor(set: Omit<ResourceSet, 'authorizationPolicies'>) {
    this.#scope = policyScope(set.workloads, set.services, rootNamespaceOf(set));
    this.#proxyless = set.workloads.filter((w) => w.value.proxyless).map((w) => w.value);
  }

  /** One policy's warnings (what it selects; proxyless workloads), in the order validateReferences reports them. */
  of(at: LocatedAuthorizationPolicy): Violation[] {
    let found = this.#known.get(at);
    if (!found) {
      const out: Violation[] = [];
      const warning = (file: string, path: string, message: string) => out.push({ file, path, message, severity: 'warning' });
      validateAuthorizationPolicy(at, this.#scope, warning);
      validateProxylessPolicy(at, this.#proxyless, this.#scope.rootNamespace, warning);
      this.#known.set(at, (found = out));
    }
    return found;
  }

  /** Forgets the policies not in `live`. */
  retain(live: readonly LocatedAuthorizationPolicy[]): void {
    const keep = new Set(live);
    for (const at of this.#known.keys()) if (!keep.has(at)) this.#known.delete(at);
  }
}

/** AuthorizationPolicies: unique names, and what they select (warnings). `checks` must be of the same topology as `set`. */
export function validatePolicyReferences(set: ResourceSet, checks: PolicyChecks = new PolicyChecks(set)): Violation[] {
  const out: Violation[] = [];
  const error = (file: string, path: string, message: string) => out.push({ file, path, message, severity: 'error' });
  const authzSeen = new Map<string, Located<AuthorizationPolicy>>();
  for (const at of set.authorizationPolicies) claim(authzSeen, at, error);
  for (const at of set.authorizationPolicies) out.push(...checks.of(at));
  return out;
}

/** Everything but the AuthorizationPolicies: the Mesh, unique names, references, listeners, PeerAuthentications, proxyless workloads. */
export function validateTopology(set: Omit<ResourceSet, 'authorizationPolicies'>): Violation[] {
  const out: Violation[] = [];
  const error = (file: string, path: string, message: string) => out.push({ file, path, message, severity: 'error' });
  const warning = (file: string, path: string, message: string) => out.push({ file, path, message, severity: 'warning' });

  // Exactly one Mesh.
  const [mesh, ...extraMeshes] = set.meshes;
  if (!mesh) error(CONFIG_FILE, '', `no Mesh found: add exactly one Mesh document, e.g. a file mesh.yaml with ${MESH_EXAMPLE}`);
  for (const extra of extraMeshes) {
    error(extra.file, '', `only one Mesh is allowed and one is already defined in ${mesh!.file}: remove this one or merge the two`);
  }
  const rootNamespace = rootNamespaceOf(set);

  // Unique names. Services and ExternalServices share names because outbounds reference both.
  const destinations = new Map<string, Destination>();
  const destinationSeen = new Map<string, Located<Service | ExternalService>>();
  for (const at of set.services) {
    if (claim(destinationSeen, at, error)) destinations.set(key(at.value.metadata.namespace, at.value.metadata.name), { kind: 'Service', at });
  }
  for (const at of set.externalServices) {
    if (claim(destinationSeen, at, error)) {
      destinations.set(key(at.value.metadata.namespace, at.value.metadata.name), { kind: 'ExternalService', at });
    }
  }
  const workloadSeen = new Map<string, Located<Workload>>();
  for (const at of set.workloads) claim(workloadSeen, at, error);
  const policySeen = new Map<string, Located<PeerAuthentication>>();
  for (const at of set.peerAuthentications) claim(policySeen, at, error);

  const namesIn = (namespace: string) =>
    [...destinations.values()].filter((d) => d.at.value.metadata.namespace === namespace).map((d) => d.at.value.metadata.name);
  const portList = (s: Service) => s.ports.map((p) => p.name).join(', ') || '(none)';
  const suggestion = (word: string, candidates: Iterable<string>) => {
    const s = suggest(word, candidates);
    return s === undefined ? '' : `; did you mean ${JSON.stringify(s)}?`;
  };

  for (const w of set.workloads) {
    const ns = w.value.metadata.namespace;
    const served = new Map<string, string>();
    w.value.inbound.forEach((port, i) => {
      const path = w.inboundPaths[i]!;
      const dest = destinations.get(key(ns, port.service));
      if (!dest) {
        error(
          w.file,
          `${path}.service`,
          `service ${JSON.stringify(port.service)} not found in namespace ${JSON.stringify(ns)}: define a Service named ${port.service} in namespace ${ns}, or fix ${path}.service${suggestion(port.service, namesIn(ns))}`,
        );
        return;
      }
      if (dest.kind === 'ExternalService') {
        error(
          w.file,
          `${path}.service`,
          `${JSON.stringify(port.service)} is an ExternalService (${dest.at.file}); inbound ports serve a Service of the mesh: define a Service, or fix ${path}.service`,
        );
        return;
      }
      const service = dest.at.value;
      if (!service.ports.some((p) => p.name === port.port)) {
        error(
          w.file,
          `${path}.port`,
          `Service ${JSON.stringify(qualifiedName(service.metadata))} has no port named ${JSON.stringify(port.port)} (its ports: ${portList(service)}): use one of them, or add the port to the Service in ${dest.at.file}${suggestion(port.port, service.ports.map((p) => p.name))}`,
        );
        return;
      }
      const id = `${port.service}/${port.port}`;
      const first = served.get(id);
      if (first !== undefined) {
        error(w.file, `${path}.port`, `port ${port.port} of Service ${port.service} is already served by ${first}: remove one of the two inbound entries`);
      } else served.set(id, path);
    });

    w.value.outbound.forEach((port, i) => {
      const path = w.outboundPaths[i]!;
      const parts = port.service.split('.');
      if (parts.length > 2) return; // malformed, reported by parseWorkload
      const [name, namespace = ns] = parts as [string, string?];
      const dest = destinations.get(key(namespace, name));
      if (!dest) {
        error(
          w.file,
          `${path}.service`,
          `service ${JSON.stringify(port.service)} not found: define a Service named ${name} in namespace ${namespace}, or fix ${path}.service${suggestion(name, namesIn(namespace))}`,
        );
        return;
      }
      const target = qualifiedName(dest.at.value.metadata);
      if (dest.kind === 'Service') {
        const service = dest.at.value;
        if (port.port === undefined) {
          error(w.file, `${path}.port`, `"port" is required for Service ${JSON.stringify(target)}: set it to one of its port names: ${portList(service)}`);
        } else if (!service.ports.some((p) => p.name === port.port)) {
          error(
            w.file,
            `${path}.port`,
            `Service ${JSON.stringify(target)} has no port named ${JSON.stringify(port.port)} (its ports: ${portList(service)}): use one of them, or add the port to the Service in ${dest.at.file}${suggestion(port.port, service.ports.map((p) => p.name))}`,
          );
        }
      } else {
        const ext = dest.at.value;
        if (port.port !== undefined && port.port !== String(ext.port)) {
          error(
            w.file,
            `${path}.port`,
            `ExternalService ${JSON.stringify(target)} has the single port ${ext.port}: set port to "${ext.port}" or omit it`,
          );
        }
      }
    });
  }

  validateListeners(set.workloads, error);
  validateInboundTargets(set.workloads, set.services, error);
  validatePeerAuthentications(set.peerAuthentications, set.workloads, rootNamespace, warning);
  validateProxyless(set, rootNamespace, error, warning);
  return out;
}

interface Socket {
  address: string;
  port: number;
  owner: string;
  file: string;
  path: string;
  /**
   * A proxyless gRPC server: grpc-js-xds binds the port on every address, whatever address its
   * Listener names (server.ts: `tcpServer.listen(port)`), so on one host it clashes with any
   * loopback listener on that port.
   */
  everyLoopback?: boolean;
}

const isLoopback = (address: string) => address.startsWith('127.');

/** Two listeners on one address:port (0.0.0.0 overlaps every address) cannot both bind. */
function validateListeners(workloads: readonly LocatedWorkload[], error: Report): void {
  const byPort = new Map<number, Socket[]>();
  const add = (s: Socket) => {
    if (s.address === '') return;
    const list = byPort.get(s.port) ?? [];
    list.push(s);
    byPort.set(s.port, list);
  };
  for (const w of workloads) {
    const owner = `Workload ${qualifiedName(w.value.metadata)}`;
    const everyLoopback = w.value.proxyless && isLoopback(w.value.address);
    w.value.inbound.forEach((p, i) =>
      add({ address: w.value.address, port: p.listenPort, owner, file: w.file, path: `${w.inboundPaths[i]!}.listenPort`, everyLoopback }),
    );
    w.value.outbound.forEach((p, i) => {
      if (p.bind === undefined || p.listenPort === undefined) return; // proxyless: nothing listens
      add({ address: p.bind, port: p.listenPort, owner, file: w.file, path: `${w.outboundPaths[i]!}.listenPort` });
    });
  }
  const overlap = (a: Socket, b: Socket) =>
    a.address === b.address ||
    a.address === '0.0.0.0' ||
    b.address === '0.0.0.0' ||
    ((a.everyLoopback === true || b.everyLoopback === true) && isLoopback(a.address) && isLoopback(b.address));
  for (const sockets of byPort.values()) {
    // Only sockets that can overlap are compared (same address, 0.0.0.0, proxyless on loopback):
    // comparing every pair made 5,000 workloads on one listenPort cost seconds.
    const order = new Map(sockets.map((s, i) => [s, i]));
    const byAddress = new Map<string, Socket[]>();
    for (const s of sockets) {
      const list = byAddress.get(s.address);
      if (list) list.push(s);
      else byAddress.set(s.address, [s]);
    }
    const wildcard = byAddress.get('0.0.0.0') ?? [];
    const everyLoopback = sockets.filter((s) => s.everyLoopback === true);
    const loopback = everyLoopback.length > 0 ? sockets.filter((s) => isLoopback(s.address)) : [];
    const candidatesOf = (s: Socket): readonly Socket[] => {
      if (s.address === '0.0.0.0') return sockets;
      const same = byAddress.get(s.address)!;
      const extra = [...wildcard, ...(isLoopback(s.address) ? (s.everyLoopback ? loopback : everyLoopback) : [])];
      if (extra.length === 0) return same;
      return [...new Set([...same, ...extra])].sort((a, b) => order.get(a)! - order.get(b)!);
    };
    for (const s of sockets) {
      const others = candidatesOf(s).filter((o) => o !== s && overlap(o, s));
      if (others.length === 0) continue;
      const shown = others.slice(0, 3).map((o) => `${o.owner} ${o.path} (${o.file}, ${o.address}:${o.port})`);
      const names = others.length > shown.length ? `${shown.join('; ')} and ${others.length - shown.length} more` : shown.join('; ');
      const why = s.everyLoopback || others.some((o) => o.everyLoopback) ? ' (a proxyless gRPC server binds its port on every address)' : '';
      error(s.file, s.path, `${s.address}:${s.port} is also listened on by ${names}${why}: give each listener its own address:port`);
    }
  }
}

function validatePeerAuthentications(
  policies: readonly Located<PeerAuthentication>[],
  workloads: readonly LocatedWorkload[],
  rootNamespace: string,
  warning: (file: string, path: string, message: string) => void,
): void {
  const wide = new Map<string, Located<PeerAuthentication>[]>();
  for (const at of policies) {
    const p = at.value;
    const ns = p.metadata.namespace;
    if (!p.selector) {
      wide.set(ns, [...(wide.get(ns) ?? []), at]);
      continue;
    }
    if (ns === rootNamespace) {
      warning(
        at.file,
        'spec.selector',
        `a PeerAuthentication with a selector in the root namespace ${JSON.stringify(rootNamespace)} is ignored (as in Istio): move it to the namespace of the workloads it selects, or remove the selector to make it mesh-wide`,
      );
      continue;
    }
    checkPortKeys(at, workloads, warning);
  }
  for (const [ns, list] of wide) {
    if (list.length < 2) continue;
    const scope = ns === rootNamespace ? 'mesh-wide' : 'namespace-wide';
    const names = list.map((l) => l.value.metadata.name).join(', ');
    for (const at of list) {
      warning(
        at.file,
        'metadata.name',
        `namespace ${JSON.stringify(ns)} has ${list.length} ${scope} PeerAuthentications (${names}): only the oldest applies (creationTimestamp, then name), the others are ignored; keep one`,
      );
    }
  }
}

/** portLevelMtls keys are targetPorts (Istio issue 49098): flag keys no selected workload has. */
function checkPortKeys(
  at: Located<PeerAuthentication>,
  workloads: readonly LocatedWorkload[],
  warning: (file: string, path: string, message: string) => void,
): void {
  const p = at.value;
  const selected = workloads.filter(
    (w) =>
      w.value.sidecar &&
      w.value.metadata.namespace === p.metadata.namespace &&
      Object.entries(p.selector ?? {}).every(([k, v]) => w.value.metadata.labels[k] === v),
  );
  if (selected.length === 0) return;
  const targetPorts = new Set(selected.flatMap((w) => w.value.inbound.map((i) => i.targetPort)));
  for (const port of p.portLevelMtls.keys()) {
    if (targetPorts.has(port)) continue;
    const listen = selected
      .flatMap((w) => w.value.inbound.map((i, n) => ({ w, i, n })))
      .find(({ i }) => i.listenPort === port);
    const hint = listen
      ? `; ${port} is the listenPort of ${qualifiedName(listen.w.value.metadata)} ${listen.w.inboundPaths[listen.n]!}, use its targetPort ${listen.i.targetPort}`
      : '';
    const known = [...targetPorts].sort((a, b) => a - b).join(', ') || 'none';
    warning(
      at.file,
      `spec.portLevelMtls[${port}]`,
      `port ${port} is not a targetPort of any workload this policy selects (their targetPorts: ${known}), so it has no effect: portLevelMtls keys are the ports the application listens on${hint}`,
    );
  }
}
