/**
 * What a proxyless gRPC workload (`spec.proxyless: true`) can and cannot do. Its app speaks xDS
 * itself (grpc-js-xds), gets no certificate from meshplane and so sends and receives plaintext:
 *
 * - it speaks gRPC only: its inbound and outbound Service ports must be GRPC (errors);
 * - its ports cannot be STRICT: STRICT promises that no plaintext reaches the app (error);
 * - it cannot call an ExternalService through xDS (error), nor STRICT sidecars (warning: those
 *   endpoints are left out of what it is sent);
 * - AuthorizationPolicy principals and namespaces never match a plaintext caller, and grpc-js has
 *   no AUDIT action and no dry run (warnings).
 */
import type { AuthzRule, Service, Workload } from './types.ts';
import { qualifiedName } from './types.ts';
import { authorizationPolicySelects } from './select-workloads.ts';
import type { LocatedAuthorizationPolicy, ResourceSet } from './validate-references.ts';
// Effective mTLS needs Istio's precedence rules, which live in the plan layer; they are pure.
import { mtlsForPort, resolveMtls, type EffectiveMtls } from '../plan/resolve-mtls.ts';

type Report = (file: string, path: string, message: string) => void;

const nameOf = (w: Workload) => `${w.metadata.namespace}/${w.metadata.name}`;

export function validateProxyless(set: Omit<ResourceSet, 'authorizationPolicies'>, rootNamespace: string, error: Report, warning: Report): void {
  const proxyless = set.workloads.filter((w) => w.value.proxyless);
  if (proxyless.length === 0) return;
  const services = new Map(set.services.map((s) => [`${s.value.metadata.namespace}/${s.value.metadata.name}`, s.value]));
  const externals = new Set(set.externalServices.map((s) => `${s.value.metadata.namespace}/${s.value.metadata.name}`));
  const peerAuths = set.peerAuthentications.map((p) => p.value);
  const modeOf = (w: Workload, targetPort: number) =>
    mtlsForPort(resolveMtls(peerAuths, rootNamespace, { namespace: w.metadata.namespace, labels: w.metadata.labels }), targetPort);
  const fileOf = (policy: string | undefined) =>
    set.peerAuthentications.find((p) => `${p.value.metadata.namespace}/${p.value.metadata.name}` === policy)?.file;

  for (const w of proxyless) {
    const ns = w.value.metadata.namespace;
    w.value.inbound.forEach((port, i) => {
      const path = w.inboundPaths[i]!;
      const protocol = services.get(`${ns}/${port.service}`)?.ports.find((p) => p.name === port.port)?.protocol;
      if (protocol !== undefined && protocol !== 'GRPC') {
        error(w.file, `${path}.port`, `port ${port.port} of Service ${port.service} is ${protocol}, and a proxyless workload speaks gRPC only: set protocol: GRPC on that Service port, or run this workload with an Envoy sidecar (remove proxyless)`);
      }
      const mtls = modeOf(w.value, port.targetPort);
      if (mtls.mode === 'STRICT') {
        const by = mtls.policy ? `PeerAuthentication ${mtls.policy}${fileOf(mtls.policy) ? ` (${fileOf(mtls.policy)})` : ''}` : 'the mesh default';
        error(
          w.file,
          path,
          `${by} makes port ${port.targetPort} STRICT, but a proxyless workload gets no certificate from meshplane and serves plaintext only, so nothing would enforce STRICT: add a PeerAuthentication in namespace ${ns} selecting this workload's labels with mtls.mode PERMISSIVE or DISABLE (or portLevelMtls ${port.targetPort}), or run it with an Envoy sidecar (remove proxyless)`,
        );
      }
    });
    w.value.outbound.forEach((out, i) => {
      const path = w.outboundPaths[i]!;
      const [name, namespace = ns] = out.service.split('.') as [string, string?];
      if (externals.has(`${namespace}/${name}`)) {
        error(w.file, `${path}.service`, `${out.service} is an ExternalService; a proxyless workload reaches only mesh Services through xDS: have the application connect to it directly and remove this outbound, or use an Envoy sidecar`);
        return;
      }
      const service = services.get(`${namespace}/${name}`);
      const protocol = service?.ports.find((p) => p.name === out.port)?.protocol;
      if (!service || protocol === undefined) return; // reported by validateReferences
      if (protocol !== 'GRPC') {
        error(w.file, `${path}.port`, `port ${out.port} of Service ${qualifiedName(service.metadata)} is ${protocol}, and a proxyless workload speaks gRPC only: set protocol: GRPC on that Service port, or use an Envoy sidecar`);
        return;
      }
      warnStrictEndpoints(set, service, out.port!, modeOf, (message) => warning(w.file, `${path}.service`, message));
    });
  }
}

/**
 * An AuthorizationPolicy on proxyless workloads (`proxyless`: every proxyless workload): identity
 * conditions that never match plaintext, AUDIT and dry run (warnings).
 */
export function validateProxylessPolicy(at: LocatedAuthorizationPolicy, proxyless: readonly Workload[], rootNamespace: string, warning: Report): void {
  if (!at.valid || proxyless.length === 0) return;
  const selected = proxyless.filter((w) => authorizationPolicySelects(at.value, w, rootNamespace));
  if (selected.length > 0) warnPolicy(at, selected, warning);
}

/** Sidecars that are STRICT on the port refuse plaintext: the plan leaves them out of the client's endpoints. */
function warnStrictEndpoints(
  set: Pick<ResourceSet, 'workloads'>,
  service: Service,
  portName: string,
  modeOf: (w: Workload, targetPort: number) => EffectiveMtls,
  warn: (message: string) => void,
): void {
  const servers = set.workloads
    .map((w) => w.value)
    .filter((w) => w.metadata.namespace === service.metadata.namespace)
    .flatMap((w) => w.inbound.filter((p) => p.service === service.metadata.name && p.port === portName).map((p) => ({ w, p })));
  const strict = servers.filter(({ w, p }) => w.sidecar && !w.proxyless && modeOf(w, p.targetPort).mode === 'STRICT');
  if (strict.length === 0) return;
  const names = strict.map(({ w }) => nameOf(w)).join(', ');
  const none = strict.length === servers.length ? ': the client is left with no endpoint' : '';
  warn(
    `${names} serve${strict.length === 1 ? 's' : ''} ${qualifiedName(service.metadata)}:${portName} with STRICT mTLS, refusing this proxyless client's plaintext, so it is not sent ${strict.length === 1 ? 'that endpoint' : 'those endpoints'}${none}; make that port PERMISSIVE, or call the service through an Envoy sidecar`,
  );
}

const IDENTITY_CONDITIONS = ['source.principal', 'source.namespace'];

/** Identity fields of a rule, as `from.source.principals` / `when source.namespace`, once each. */
function identityFields(rule: AuthzRule): string[] {
  const fields = [
    ...rule.from.flatMap((f) => (['principals', 'notPrincipals', 'namespaces', 'notNamespaces'] as const).filter((k) => f[k] !== undefined).map((k) => `from.source.${k}`)),
    ...rule.when.filter((c) => IDENTITY_CONDITIONS.includes(c.key)).map((c) => `when ${c.key}`),
  ];
  return [...new Set(fields)];
}

function warnPolicy(at: LocatedAuthorizationPolicy, selected: readonly Workload[], warning: Report): void {
  const p = at.value;
  const names = selected.map(nameOf).sort().join(', ');
  const which = selected.length === 1 ? `proxyless workload ${names}` : `proxyless workloads ${names}`;
  if (p.action === 'AUDIT' || p.dryRun) {
    const what = p.action === 'AUDIT' ? 'an AUDIT policy' : 'a dry-run policy';
    warning(
      at.file,
      p.action === 'AUDIT' ? 'spec.action' : 'metadata.annotations["istio.io/dry-run"]',
      `${what} is not evaluated on ${which}: grpc-js-xds has no RBAC LOG action and no shadow rules, so meshplane leaves it out for ${selected.length === 1 ? 'it' : 'them'}`,
    );
    return;
  }
  p.rules.forEach((rule, i) => {
    const fields = identityFields(rule);
    if (fields.length === 0) return;
    warning(
      at.file,
      `spec.rules[${i}]`,
      `${fields.join(', ')} compare the caller's mesh identity, and ${which} receive${selected.length === 1 ? 's' : ''} plaintext only (no peer certificate): there principals and namespaces never match and their not* forms always do, so this ${p.action} rule does not do what it says; match those callers by ipBlocks, or run the workload with an Envoy sidecar`,
    );
  });
}
