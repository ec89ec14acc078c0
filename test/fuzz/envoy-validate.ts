/**
 * Real Envoy's verdict on translated resources: a bootstrap with one proxy's listeners, clusters
 * and secrets as static resources, written as binary protobuf (the bytes protobufjs produces from
 * the objects meshplane sends over xDS), checked with `envoy --mode validate`. That runs Envoy's
 * proto validation (PGV), RE2 compilation, the filter factories and the TLS context factories.
 *
 * SDS: the translator points every TLS context at secrets over ADS (`sds_config: {ads: {}}`),
 * which a static bootstrap cannot serve, and Envoy 1.40's validate mode segfaults on static
 * clusters with transport_socket_matches + ADS SDS (see test/feature/rbac-envoy-validate.test.ts).
 * So each `sds_config` is removed, which makes the same secret name refer to the static secret of
 * that name, and the proxy's real `default` and `ROOTCA` secrets (a real key and certificates from
 * a throwaway CA) go in static_resources.secrets. Nothing else is changed: mTLS chains, SAN
 * matchers and transport_socket_matches are all validated.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { protoType } from '../../protos/envoy-protos.ts';
import { loadOrCreateRootDir, type Authority } from '../../src/ca/authority.ts';
import { issueWorkloadCert } from '../../src/ca/issue.ts';
import type { ProxyPlan } from '../../src/plan/proxy-plan.ts';
import { translateProxy } from '../../src/translate/translate-proxy.ts';
import { envoyBinary } from '../helpers/envoy-binary.ts';
import { trackChild } from '../helpers/process-registry.ts';

const VALIDATE_TIMEOUT_MS = 30_000;

export interface EnvoyVerdict {
  name: string;
  code: number | null;
  signal: string | null;
  output: string;
}

/** A throwaway root CA in `dir`, to issue the proxies' real certificates. */
export async function throwawayCa(dir: string): Promise<Authority> {
  const { authority } = await loadOrCreateRootDir(join(dir, 'ca'), { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 24 * 3600, trustDomain: 'fuzz' });
  return authority;
}

/** Every `sds_config` dropped: the secret name then refers to a static secret. */
export function withStaticSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withStaticSecrets) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'sds_config').map(([k, v]) => [k, withStaticSecrets(v)])) as T;
  }
  return value;
}

/** The static bootstrap of one Envoy sidecar: what it would get over ADS, with real certificates. */
export async function staticBootstrap(plan: ProxyPlan, authority: Authority): Promise<object> {
  const cert = await issueWorkloadCert(authority, { spiffeId: plan.spiffeId, ttlSeconds: 3600, keyAlgorithm: 'ECDSA_P256' });
  const r = translateProxy(plan, { certChainPem: cert.certChainPem, privateKeyPem: cert.privateKeyPem, trustBundlePem: authority.trustBundlePem });
  return {
    node: { id: plan.nodeId, cluster: `${plan.workload.namespace}/${plan.workload.serviceAccount}` },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { listeners: withStaticSecrets(r.listeners), clusters: withStaticSecrets(r.clusters), secrets: r.secrets },
  };
}

/** `envoy --mode validate -c <dir>/<name>.pb`: the exit status and everything Envoy printed. */
export function envoyValidate(dir: string, name: string, bootstrap: object): Promise<EnvoyVerdict> {
  const type = protoType('envoy.config.bootstrap.v3.Bootstrap');
  const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.pb`);
  writeFileSync(file, type.encode(type.fromObject(bootstrap)).finish());
  const args = ['--mode', 'validate', '-c', file, '--concurrency', '1', '--use-dynamic-base-id', '--log-level', 'warn'];
  return new Promise((resolve) => {
    const child = execFile(envoyBinary(), args, { timeout: VALIDATE_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string }) | null;
      resolve({ name, code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, output: `${stdout}${stderr}` });
    });
    trackChild(child);
  });
}

/** Runs `jobs` with at most `limit` at a time, in order of results. */
export async function inBatches<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
