import { chmodSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { issueWorkloadCert } from '../ca/issue.ts';
import { controlPlaneSpiffeId, xdsClientSpiffeId } from '../ca/spiffe.ts';
import { openStateDir } from '../ca/state-dir.ts';
import { readRevocations } from '../ca/token-revocations.ts';
import { DEFAULT_TOKEN_TTL_SECONDS, issueWorkloadToken, TOKEN_METADATA_KEY } from '../ca/tokens.ts';
import { MeshplaneError } from '../errors.ts';
import { splitHostPort } from '../host-port.ts';
import { formatDuration, parseDuration } from '../model/formats.ts';
import { loadModelDir } from '../model/load-model.ts';
import { qualifiedName, type MeshModel, type Workload } from '../model/types.ts';
import { buildBootstrap } from '../translate/bootstrap.ts';
import { buildGrpcBootstrap } from '../translate/grpc-bootstrap.ts';
import { DEFAULT_XDS_ADDRESS, required } from './args.ts';

/** Prints a complete Envoy bootstrap for one sidecar workload. */
export async function bootstrapCommand(values: Record<string, string | boolean | undefined>): Promise<number> {
  const configDir = required(values, 'config');
  const ref = required(values, 'workload');
  const insecure = values['insecure-xds'] === true;
  const [namespace, name, extra] = ref.split('/');
  if (!namespace || !name || extra !== undefined) throw new MeshplaneError('USAGE', `--workload "${ref}" must be NAMESPACE/NAME`);
  const adminPort = Number(values['admin-port'] ?? 15000);
  if (!Number.isInteger(adminPort) || adminPort < 1 || adminPort > 65535) throw new MeshplaneError('USAGE', `--admin-port "${values['admin-port']}" must be a port number`);
  const xds = splitHostPort(typeof values['xds-address'] === 'string' ? values['xds-address'] : DEFAULT_XDS_ADDRESS, '--xds-address');
  const tokenTtlSeconds = tokenTtl(values['token-ttl']);

  const { model, violations } = await loadModelDir(configDir);
  if (!model) throw new MeshplaneError('CONFIG_INVALID', `${configDir}: the configuration is invalid`, violations);
  const workload = model.workloads.find((w) => w.metadata.namespace === namespace && w.metadata.name === name);
  if (!workload) {
    const known = model.workloads.filter((w) => w.sidecar).map((w) => `${w.metadata.namespace}/${w.metadata.name}`);
    throw new MeshplaneError('USAGE', `workload ${ref} not found in ${configDir}; sidecar workloads: ${known.join(', ') || 'none'}`);
  }
  if (!workload.sidecar) throw new MeshplaneError('USAGE', `workload ${ref} has sidecar: false; it gets no Envoy`);
  if (values.format !== undefined && values.format !== 'envoy' && values.format !== 'grpc') {
    throw new MeshplaneError('USAGE', `--format "${String(values.format)}" must be envoy (an Envoy bootstrap, the default) or grpc (a proxyless gRPC xDS bootstrap)`);
  }
  if (workload.proxyless || values.format === 'grpc') return grpcBootstrapCommand(values, ref, workload, xds, insecure);

  const stateDir = insecure ? undefined : required(values, 'state-dir');
  const { yaml, tokenExpires } = await renderBootstrapWithExpiry({ model, workload, stateDir, xds, adminPort, delta: values.delta === true, tokenTtlSeconds });
  const text =
    `# Envoy bootstrap for ${ref} (node.id ${qualifiedName(workload.metadata)}); made by meshplane bootstrap.\n` +
    (insecure ? '' : "# It holds this workload's xDS client key and token: keep it as private as a key (mode 0600).\n") +
    (tokenExpires ? `# Its xDS token expires at ${tokenExpires.toISOString()}: make a new bootstrap before then.\n` : '') +
    yaml;
  const output = values.output;
  if (typeof output === 'string' && output !== '') {
    writeFileSync(output, text, { mode: 0o600 });
    chmodSync(output, 0o600); // an existing file keeps its mode on write
  } else {
    process.stdout.write(text);
  }
  return 0;
}

/** `--token-ttl DURATION` in seconds (a Go duration, as Mesh workloadCertTTL), or the default. */
function tokenTtl(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_TOKEN_TTL_SECONDS;
  const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
  if (seconds === undefined || seconds < 60 || seconds > MAX_TOKEN_TTL_SECONDS) {
    throw new MeshplaneError('USAGE', `--token-ttl "${String(value)}" must be a duration between 1m and ${formatDuration(MAX_TOKEN_TTL_SECONDS)}, e.g. 720h (default ${formatDuration(DEFAULT_TOKEN_TTL_SECONDS)})`);
  }
  return seconds;
}

/** Ten years: the default root's lifetime, which bounds the bootstrap's client certificate anyway. */
const MAX_TOKEN_TTL_SECONDS = 87600 * 3600;

type BootstrapInput = { model: MeshModel; workload: Workload; stateDir: string | undefined; xds: { host: string; port: number }; adminPort: number; delta?: boolean; tokenTtlSeconds?: number };

/**
 * The bootstrap YAML for one sidecar workload. With a state dir the xDS channel is TLS pinned to
 * the mesh root plus this workload's token; without one it is plaintext (`--insecure-xds`).
 */
export async function renderBootstrap(o: BootstrapInput): Promise<string> {
  return (await renderBootstrapWithExpiry(o)).yaml;
}

async function renderBootstrapWithExpiry(o: BootstrapInput): Promise<{ yaml: string; tokenExpires?: Date }> {
  const { model, workload, stateDir, xds, adminPort, delta } = o;
  const nodeId = qualifiedName(workload.metadata);
  let xdsTls = null;
  let tokenExpires: Date | undefined;
  if (stateDir !== undefined) {
    const { ca, trustDomain } = model.mesh;
    const { authority, tokenKey } = await openStateDir(stateDir, { keyAlgorithm: ca.keyAlgorithm, rootCertTtlSeconds: ca.rootCertTtlSeconds, trustDomain, create: false });
    // A bootstrap lives as long as its Envoy: the client certificate lasts as long as the root.
    const client = await issueWorkloadCert(authority, {
      spiffeId: xdsClientSpiffeId(trustDomain, workload.metadata.namespace, workload.metadata.name),
      ttlSeconds: Math.max(60, Math.floor((authority.caCert.notAfter.getTime() - Date.now()) / 1000)),
      keyAlgorithm: ca.keyAlgorithm,
    });
    // Issued after any revocation of this node, even within its millisecond or after a clock step back.
    const revokedAt = (await readRevocations(stateDir)).get(nodeId) ?? -1;
    const iat = Math.max(Date.now(), revokedAt + 1);
    tokenExpires = new Date(iat + Math.round((o.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) * 1000));
    xdsTls = {
      trustedCaPem: authority.trustBundlePem,
      serverSpiffeId: controlPlaneSpiffeId(trustDomain),
      clientCertPem: client.certChainPem,
      clientKeyPem: client.privateKeyPem,
      token: issueWorkloadToken(tokenKey, { node: nodeId, iat, exp: tokenExpires.getTime() }),
      tokenHeader: TOKEN_METADATA_KEY,
    };
  }
  const bootstrap = buildBootstrap({
    nodeId,
    nodeCluster: `${workload.metadata.namespace}/${workload.serviceAccount}`,
    xdsHost: xds.host,
    xdsPort: xds.port,
    adminPort,
    delta,
    xdsTls,
  });
  return { yaml: stringify(bootstrap, { lineWidth: 0 }), tokenExpires };
}

/**
 * `--format grpc`: the xDS bootstrap JSON of a proxyless gRPC workload (GRPC_XDS_BOOTSTRAP file,
 * or the text in GRPC_XDS_BOOTSTRAP_CONFIG). Plaintext xDS only, hence `--insecure-xds`: see
 * translate/grpc-bootstrap.ts for why grpc-js-xds cannot meet meshplane's secure xDS.
 */
function grpcBootstrapCommand(values: Record<string, string | boolean | undefined>, ref: string, workload: Workload, xds: { host: string; port: number }, insecure: boolean): number {
  if (!workload.proxyless) {
    throw new MeshplaneError('USAGE', `workload ${ref} has an Envoy sidecar: --format grpc is for proxyless workloads (spec.proxyless: true); drop --format grpc`);
  }
  if (values.format !== 'grpc') {
    throw new MeshplaneError('USAGE', `workload ${ref} is proxyless (spec.proxyless: true): its app is the xDS client and needs a gRPC bootstrap, not an Envoy one: add --format grpc`);
  }
  if (!insecure) {
    throw new MeshplaneError(
      'USAGE',
      `workload ${ref} is proxyless, and gRPC's xDS client (grpc-js-xds 1.14) supports only channel_creds "insecure" and "google_default": it cannot send meshplane's xDS token or present an xDS client certificate. Run \`meshplane serve --insecure-xds\` (debugging or a trusted network only) and add --insecure-xds here`,
    );
  }
  const bootstrap = buildGrpcBootstrap({
    nodeId: qualifiedName(workload.metadata),
    nodeCluster: `${workload.metadata.namespace}/${workload.serviceAccount}`,
    xdsHost: xds.host,
    xdsPort: xds.port,
  });
  const text = `${JSON.stringify(bootstrap, null, 2)}\n`; // JSON has no comments: no header here
  const output = values.output;
  if (typeof output === 'string' && output !== '') {
    writeFileSync(output, text, { mode: 0o600 });
    chmodSync(output, 0o600);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
