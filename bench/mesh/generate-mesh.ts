/**
 * Generated meshes for the benchmarks: a config directory's files (name -> YAML) with `workloads`
 * sidecars spread over `services` services and `namespaces` namespaces, each workload with an HTTP
 * and a TCP inbound port and `outbounds` outbound ports to other services, plus `policies`
 * AuthorizationPolicies and one mesh-wide PeerAuthentication.
 *
 * With the defaults of `proxySize` each proxy gets 2 + outbounds listeners, outbounds + 2 clusters
 * (about 20 with outbounds = 8) and 2 secrets (its certificate and the trust bundle).
 */
export interface MeshSize {
  workloads: number;
  services: number;
  policies: number;
  outbounds: number;
  namespaces: number;
  /** Mesh-wide PeerAuthentication mode (default PERMISSIVE). */
  mode?: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
}

export const FILES = { mesh: 'mesh.yaml', peerAuthentication: 'peer-authentication.yaml', services: 'services.yaml', workloads: 'workloads.yaml', policies: 'policies.yaml' } as const;

export const serviceName = (s: number) => `svc-${s}`;
export const namespaceOf = (s: number, size: MeshSize) => `ns-${s % size.namespaces}`;
export const workloadName = (w: number) => `w-${w}`;
/** The node id of workload `w` (what the load generator announces). */
export const nodeIdOf = (w: number, size: MeshSize) => `${workloadName(w)}.${namespaceOf(w % size.services, size)}`;

/** A distinct address per workload (never bound: the load generator only speaks xDS). */
const addressOf = (w: number) => `10.${(w >> 16) & 255}.${(w >> 8) & 255}.${w & 255}`;

export function generateMesh(size: MeshSize): Record<string, string> {
  const docs = (items: string[]) => items.join('---\n');
  const services: string[] = [];
  for (let s = 0; s < size.services; s++) {
    services.push(`apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: ${serviceName(s)}, namespace: ${namespaceOf(s, size)}}\nspec: {ports: [{name: http-api}, {name: tcp-data}]}\n`);
  }
  const workloads: string[] = [];
  for (let w = 0; w < size.workloads; w++) {
    const s = w % size.services;
    const ns = namespaceOf(s, size);
    const outbound: string[] = [];
    for (let j = 0; j < size.outbounds; j++) {
      const t = (s + 1 + j) % size.services;
      outbound.push(`    - {service: ${serviceName(t)}.${namespaceOf(t, size)}, port: ${j % 2 === 0 ? 'http-api' : 'tcp-data'}, listenPort: ${20000 + j}, bind: ${addressOf(w)}}`);
    }
    workloads.push(`apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${workloadName(w)}, namespace: ${ns}, labels: {app: ${serviceName(s)}}}
spec:
  serviceAccount: ${serviceName(s)}
  address: ${addressOf(w)}
  inbound:
    - {service: ${serviceName(s)}, port: http-api, listenPort: 18080, targetPort: 8080}
    - {service: ${serviceName(s)}, port: tcp-data, listenPort: 18090, targetPort: 9090}
${outbound.length > 0 ? `  outbound:\n${outbound.join('\n')}\n` : ''}`);
  }
  return {
    [FILES.mesh]: 'apiVersion: meshplane.dev/v1alpha1\nkind: Mesh\nmetadata: {name: default}\nspec: {trustDomain: cluster.local, rootNamespace: mesh-system}\n',
    [FILES.peerAuthentication]: peerAuthentication(size.mode ?? 'PERMISSIVE'),
    [FILES.services]: docs(services),
    [FILES.workloads]: docs(workloads),
    [FILES.policies]: docs(Array.from({ length: size.policies }, (_, p) => authorizationPolicy(p, size))) || '# none\n',
  };
}

export function peerAuthentication(mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE'): string {
  return `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: mesh-system}\nspec: {mtls: {mode: ${mode}}}\n`;
}

/**
 * Policy `p` selects the workloads of service `p % services` (each policy its own service while
 * policies <= services) and allows GETs from the service before it. `variant` changes only its
 * paths: a one-policy change that touches that service's workloads and no others.
 */
export function authorizationPolicy(p: number, size: MeshSize, variant = 0): string {
  const s = p % size.services;
  const caller = (s + size.services - 1) % size.services;
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-${p}, namespace: ${namespaceOf(s, size)}}
spec:
  selector: {matchLabels: {app: ${serviceName(s)}}}
  action: ALLOW
  rules:
    - from: [{source: {principals: [cluster.local/ns/${namespaceOf(caller, size)}/sa/${serviceName(caller)}]}}]
      to: [{operation: {methods: [GET], paths: ["/api/v${variant}/*"], ports: ["8080"]}}]
`;
}

/** The workloads (indexes) policy `p` selects. */
export function workloadsOfPolicy(p: number, size: MeshSize): number[] {
  const s = p % size.services;
  const out: number[] = [];
  for (let w = s; w < size.workloads; w += size.services) out.push(w);
  return out;
}
