/**
 * fast-check generators of structurally plausible meshes: one Mesh, Services, ExternalServices,
 * Workloads (sidecar, proxyless, no sidecar) with inbound and outbound ports, PeerAuthentications
 * at every scope (mesh, namespace, workload, portLevelMtls) and AuthorizationPolicies using every
 * field and action. References point at things that exist and listener ports never clash, so
 * most generated meshes are valid; the values themselves (paths, hosts, header values, ...) are
 * adversarial: unicode, control characters, wildcards in every allowed position.
 * `mutations.ts` breaks these documents on purpose.
 */
import fc from 'fast-check';

export type Doc = Record<string, unknown>;
type Gen = fc.GeneratorValue;

/** A real (public) CA certificate for ExternalService caCertificates; its key was thrown away. */
export const EXTERNAL_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBoTCCAUegAwIBAgIUdm9ZPXSFPknxQl0yDFfc2Zd/W/owCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwabWVzaHBsYW5lIGZ1enogZXh0ZXJuYWwgQ0EwIBcNMjYxMTI5
MTI1ODM5WhgPMjEyNjExMDUxMjU4MzlaMCUxIzAhBgNVBAMMGm1lc2hwbGFuZSBm
dXp6IGV4dGVybmFsIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzh4KICMS
1eBsgVRt8cuOjqvCIDfwY0U6y0OnHhxcdRk5+9ZA+9cVvjSZLxOkttKBw7tFwdlE
k5QNTDjCmVBKpqNTMFEwHQYDVR0OBBYEFLxfQxn+H2ZfJRa9lWMw0ne/ZO4DMB8G
A1UdIwQYMBaAFLxfQxn+H2ZfJRa9lWMw0ne/ZO4DMA8GA1UdEwEB/wQFMAMBAf8w
CgYIKoZIzj0EAwIDSAAwRQIhAI2uwHKYKwg3YT0JkX9hk5MZolp0vRt11Gjt/X+S
vn36AiAk9GQGeho/mxmGx4Vasq85hX5fkIEYQExcDX1wfrvFbg==
-----END CERTIFICATE-----
`;

/** Mostly good CA bundles; the rest look like PEM to a glance but not to Envoy. */
const CA_BUNDLES = [
  EXTERNAL_CA_PEM,
  EXTERNAL_CA_PEM + EXTERNAL_CA_PEM,
  EXTERNAL_CA_PEM,
  '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
  `${EXTERNAL_CA_PEM}-----BEGIN CERTIFICATE-----\nMIIBoTCCAUegAwIBAgIU\n`,
  `${EXTERNAL_CA_PEM}-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n`,
];

const MESHPLANE = 'meshplane.dev/v1alpha1';
const NAMESPACES = ['shop', 'pay'] as const;
const PREFIXES = ['http', 'http2', 'grpc', 'tcp', 'web', 'db'] as const;
const PROTOCOL_OF: Readonly<Record<string, string>> = { http: 'HTTP', http2: 'HTTP2', grpc: 'GRPC', tcp: 'TCP' };
const MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

/*
 * Random choices go through one stable arbitrary: fc.gen() caches every (builder, args) pair it
 * sees and compares new args deeply against all of them, so varying args (`{max: n}`, fresh
 * arbitraries) made generation quadratic.
 */
const NAT = fc.nat({ max: 0x7fffffff });
const builders = new WeakMap<fc.Arbitrary<unknown>, () => fc.Arbitrary<unknown>>();
/** A value of `arb`, drawn through a builder that stays the same for the same arbitrary. */
export function draw<T>(g: Gen, arb: fc.Arbitrary<T>): T {
  let builder = builders.get(arb);
  if (!builder) builders.set(arb, (builder = () => arb));
  return g(builder as () => fc.Arbitrary<T>);
}
export const rnd = (g: Gen): number => draw(g, NAT);
export const pick = <T>(g: Gen, items: readonly T[]): T => items[rnd(g) % items.length]!;
export const chance = (g: Gen, percent: number) => rnd(g) % 100 < percent;
export const count = (g: Gen, min: number, max: number) => min + (rnd(g) % (max - min + 1));
/** Between min and max of `items`, in their order. */
export const some = <T>(g: Gen, items: readonly T[], min = 0, max = items.length): T[] => {
  const chosen = items.filter(() => chance(g, 50));
  const extra = items.filter((i) => !chosen.includes(i));
  return [...chosen, ...extra.slice(0, Math.max(0, min - chosen.length))].slice(0, max);
};
const doc = (kind: string, metadata: Doc, spec: unknown, apiVersion = MESHPLANE): Doc => ({ apiVersion, kind, metadata, ...(spec !== undefined && { spec }) });

/** Strings Envoy is picky about: NUL, control characters, unpaired surrogates (invalid UTF-8 on the wire). */
const NASTY = fc.constantFrom('a\u0000b', '\u0001', '\uD800', 'x\uDFFF', '\u007f', '\r\n');
const FREE_TEXT = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), weight: 2 },
  { arbitrary: NASTY, weight: 1 },
);
const IPV4 = fc.ipV4();
const IPV6 = fc.ipV6();
const DOMAIN = fc.domain();
/** Text for values that are compared, never parsed: printable unicode, or any code point at all. */
const freeText = (g: Gen, max = 12): string => [...draw(g, FREE_TEXT).replace(/[*{]/g, 'x')].slice(0, max).join('') || 'x';
/** Istio's value forms: exact, `prefix*`, `*suffix`, `*`. */
const wildcard = (g: Gen, value: string) => pick(g, [value, value, `${value}*`, `*${value}`, '*']);

interface ServiceInfo { ns: string; name: string; ports: { name: string; protocol: string }[] }
interface ExternalInfo { ns: string; name: string; port: number }
interface WorkloadInfo { ns: string; name: string; labels: Record<string, string>; sa: string; targetPorts: number[] }

/** A whole mesh as documents (plain objects, ready for YAML). */
export const meshDocsArb: fc.Arbitrary<Doc[]> = fc.gen().map((g) => {
  const trustDomain = pick(g, ['cluster.local', 'example.org', 'fuzz_td.test']);
  const rootNamespace = pick(g, ['mesh-system', 'istio-system']);
  const namespaces = [...NAMESPACES, rootNamespace];
  let nextPort = count(g, 1024, 60_000);
  const port = () => (nextPort = nextPort >= 65_535 ? 1024 : nextPort + 1);

  const intermediate = { intermediate: { certFile: 'ca/ca-cert.pem', keyFile: '/etc/mesh/ca-key.pem', rootCertFile: 'ca/root.pem', ...(chance(g, 50) && { chainFile: 'ca/chain.pem' }) } };
  const ca = chance(g, 40)
    ? { keyAlgorithm: pick(g, ['ECDSA_P256', 'RSA_2048']), workloadCertTTL: pick(g, ['24h', '1h30m', '90s', '3600s']), rotationRatio: pick(g, [0.5, 0.25, 0.9]), rootCertTTL: pick(g, ['87600h', '8760h']), ...(chance(g, 15) && intermediate) }
    : undefined;
  const docs: Doc[] = [doc('Mesh', { name: 'default' }, { trustDomain, rootNamespace, ...(ca && { ca }) })];

  const services: ServiceInfo[] = Array.from({ length: count(g, 1, 4) }, (_, i) => {
    const ports = Array.from({ length: count(g, 1, 3) }, (__, j) => {
      const prefix = pick(g, PREFIXES);
      const known = PROTOCOL_OF[prefix];
      const protocol = known ?? pick(g, ['HTTP', 'HTTP2', 'GRPC', 'TCP']);
      return { name: `${prefix}-p${j}`, protocol, written: known && chance(g, 50) ? undefined : pick(g, [protocol, protocol.toLowerCase()]) };
    });
    const s = { ns: pick(g, NAMESPACES), name: `svc-${i}`, ports };
    docs.push(doc('Service', { name: s.name, namespace: s.ns }, { ports: ports.map((p) => ({ name: p.name, ...(p.written && { protocol: p.written }) })) }));
    return s;
  });
  const externals: ExternalInfo[] = Array.from({ length: count(g, 0, 2) }, (_, i) => {
    const tls = pick(g, ['DISABLE', 'SIMPLE']);
    const host = pick(g, ['api.example.com', 'Telemetry.Example', 'x']);
    const address = chance(g, 50) ? draw(g, IPV4) : host;
    const e = { ns: pick(g, NAMESPACES), name: `ext-${i}`, port: count(g, 1, 65_535) };
    const simple = tls === 'SIMPLE' ? { ...(chance(g, 50) && { sni: host }), ...(chance(g, 40) && { caCertificates: pick(g, CA_BUNDLES) }) } : {};
    docs.push(doc('ExternalService', { name: e.name, namespace: e.ns }, { address, port: e.port, protocol: pick(g, ['HTTP', 'HTTP2', 'GRPC', 'TCP']), tls, ...simple }));
    return e;
  });

  const workloads: WorkloadInfo[] = Array.from({ length: count(g, 1, 5) }, (_, i) => {
    const ns = pick(g, NAMESPACES);
    const kind = pick(g, ['sidecar', 'sidecar', 'sidecar', 'proxyless', 'plain']);
    const address = `127.${count(g, 0, 255)}.${i}.${count(g, 1, 254)}`;
    const labels = { app: pick(g, ['a', 'b', 'c']), ...(chance(g, 30) && { version: pick(g, ['v1', 'v2']) }) };
    const local = services.filter((s) => s.ns === ns).flatMap((s) => s.ports.filter((p) => kind !== 'proxyless' || p.protocol === 'GRPC').map((p) => ({ s, p })));
    const targetPorts: number[] = [];
    const inbound = some(g, local, 0, 3).map(({ s, p }) => {
      const listenPort = port();
      if (kind !== 'sidecar') return { service: s.name, port: p.name, listenPort, ...(chance(g, 30) && { targetPort: listenPort }) };
      const targetPort = chance(g, 50) ? pick(g, [8080, 9090, 5000]) : port();
      targetPorts.push(targetPort);
      return { service: s.name, port: p.name, listenPort, targetPort, ...(chance(g, 20) && { targetAddress: pick(g, ['127.0.0.1', '127.0.0.2']) }) };
    });
    const ref = (target: { ns: string; name: string }) => (target.ns === ns && chance(g, 50) ? target.name : `${target.name}.${target.ns}`);
    const destinations = [
      ...services.flatMap((s) => s.ports.filter((p) => kind !== 'proxyless' || p.protocol === 'GRPC').map((p) => ({ service: ref(s), port: p.name as string | number | undefined }))),
      ...(kind === 'sidecar' ? externals.map((e) => ({ service: ref(e), port: pick(g, [undefined, e.port, String(e.port)]) })) : []),
    ];
    const outbound = kind === 'plain' ? [] : some(g, destinations, 0, 3).map((d) => ({
      service: d.service,
      ...(d.port !== undefined && { port: d.port }),
      ...(kind === 'sidecar' && { listenPort: port(), ...(chance(g, 20) && { bind: pick(g, ['127.0.0.1', address]) }) }),
    }));
    const spec = {
      address,
      ...(chance(g, 70) && { serviceAccount: pick(g, ['default', 'sa-a', 'sa.b']) }),
      ...(kind === 'plain' && { sidecar: false }),
      ...(kind === 'proxyless' && { proxyless: true }),
      ...(kind === 'sidecar' && chance(g, 20) && { sidecar: true }),
      inbound,
      ...(outbound.length > 0 && { outbound }),
    };
    docs.push(doc('Workload', { name: `wl-${i}`, namespace: ns, labels }, spec));
    return { ns, name: `wl-${i}`, labels, sa: (spec.serviceAccount as string | undefined) ?? 'default', targetPorts };
  });

  for (let i = 0, n = count(g, 0, 4); i < n; i++) docs.push(peerAuthentication(g, i, rootNamespace, workloads));
  for (let i = 0, n = count(g, 0, 4); i < n; i++) docs.push(authorizationPolicy(g, i, namespaces, trustDomain, workloads));
  return docs;
});

function peerAuthentication(g: Gen, i: number, rootNamespace: string, workloads: readonly WorkloadInfo[]): Doc {
  const scope = pick(g, ['mesh', 'namespace', 'workload', 'workload']);
  const target = pick(g, workloads);
  const ns = scope === 'mesh' ? rootNamespace : scope === 'namespace' ? pick(g, NAMESPACES) : target.ns;
  const mtls = chance(g, 85) ? { mtls: chance(g, 90) ? { mode: pick(g, MODES) } : {} } : {};
  const selector = scope === 'workload' ? { selector: { matchLabels: Object.fromEntries(some(g, Object.entries(target.labels), 1)) } } : {};
  const ports = scope === 'workload' && chance(g, 60) ? [...new Set([...some(g, target.targetPorts, 0, 2), ...(chance(g, 30) ? [count(g, 1, 65_535)] : [])])] : [];
  const portLevelMtls = ports.length > 0 ? { portLevelMtls: Object.fromEntries(ports.map((p) => [p, { mode: pick(g, MODES) }])) } : {};
  const created = chance(g, 30) ? { creationTimestamp: pick(g, ['2024-05-01T12:00:00Z', '2023-01-01T00:00:00+02:00']) } : {};
  return doc('PeerAuthentication', { name: `pa-${i}`, namespace: ns, ...created }, { ...selector, ...mtls, ...portLevelMtls }, pick(g, ['security.istio.io/v1', 'security.istio.io/v1beta1']));
}

function authorizationPolicy(g: Gen, i: number, namespaces: readonly string[], trustDomain: string, workloads: readonly WorkloadInfo[]): Doc {
  const action = pick(g, ['ALLOW', 'ALLOW', 'DENY', 'DENY', 'AUDIT', 'AUDIT', undefined, undefined, 'CUSTOM']);
  const w = pick(g, workloads);
  const ns = chance(g, 70) ? w.ns : pick(g, namespaces);
  const ports = [...w.targetPorts, count(g, 1, 65_535)];
  const rules = Array.from({ length: count(g, action === 'DENY' ? 1 : 0, 3) }, () => rule(g, trustDomain, w, ports));
  const annotations = chance(g, 20) ? { annotations: { 'istio.io/dry-run': pick(g, ['true', 'false', '1', 'T']) } } : {};
  const spec = {
    ...(chance(g, 60) && { selector: { matchLabels: chance(g, 80) ? { app: w.labels.app } : {} } }),
    ...(action && { action }),
    ...((rules.length > 0 || chance(g, 50)) && { rules }),
  };
  return doc('AuthorizationPolicy', { name: `authz-${i}`, namespace: ns, ...annotations }, spec, pick(g, ['security.istio.io/v1', 'security.istio.io/v1beta1']));
}

function rule(g: Gen, td: string, w: WorkloadInfo, ports: readonly number[]): Doc {
  const principal = () => wildcard(g, `${td}/ns/${w.ns}/sa/${w.sa}`);
  const namespace = () => wildcard(g, pick(g, [w.ns, 'sh', 'op', freeText(g, 6)]));
  const cidr = () => (chance(g, 70) ? `${draw(g, IPV4)}${chance(g, 50) ? `/${count(g, 0, 32)}` : ''}` : `${draw(g, IPV6)}${chance(g, 50) ? `/${count(g, 0, 128)}` : ''}`);
  const host = () => wildcard(g, chance(g, 60) ? `${draw(g, DOMAIN)}${chance(g, 30) ? `:${count(g, 1, 65_535)}` : ''}` : freeText(g));
  const portValue = () => { const p = pick(g, ports); return chance(g, 50) ? p : String(p); };
  const method = () => pick(g, ['GET', 'POST', 'DELETE', 'get', 'PURGE', '*', 'G*', freeText(g, 6)]);
  const path = () => pick(g, ['/', '/api/*', '*.json', '*', `/${freeText(g)}`, `/${freeText(g)}*`, `*${freeText(g)}`]);
  const values = <T>(make: () => T) => Array.from({ length: count(g, 1, 3) }, make);
  const fields = (makers: Record<string, () => unknown>) =>
    Object.fromEntries(some(g, Object.entries(makers), 0, 3).map(([k, make]) => [k, values(make)]));
  const from = Array.from({ length: count(g, 0, 2) }, () => ({
    source: fields({ principals: principal, notPrincipals: principal, namespaces: namespace, notNamespaces: namespace, ipBlocks: cidr, notIpBlocks: cidr, remoteIpBlocks: cidr, notRemoteIpBlocks: cidr }),
  }));
  const to = Array.from({ length: count(g, 0, 2) }, () => ({
    operation: fields({ hosts: host, notHosts: host, ports: portValue, notPorts: portValue, methods: method, notMethods: method, paths: path, notPaths: path }),
  }));
  const header = () => pick(g, ['x-user', 'X-Tenant', 'x-ü', ':authority', `x-${freeText(g, 5).replace(/[\s\]\[]/g, '')}`]);
  const when = Array.from({ length: count(g, 0, 2) }, () => {
    const [key, make] = pick(g, [
      ['source.ip', cidr], ['remote.ip', cidr], ['source.namespace', namespace], ['source.principal', principal],
      ['destination.port', () => String(pick(g, ports))], [`request.headers[${header()}]`, () => wildcard(g, freeText(g))],
    ] as [string, () => unknown][]);
    const which = pick(g, ['values', 'notValues', 'both']);
    return { key, ...(which !== 'notValues' && { values: values(make) }), ...(which !== 'values' && { notValues: values(make) }) };
  });
  return { ...(from.length > 0 && { from }), ...(to.length > 0 && { to }), ...(when.length > 0 && { when }) };
}
