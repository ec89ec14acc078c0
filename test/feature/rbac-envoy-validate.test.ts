/**
 * Real Envoy's own config validation (`envoy --mode validate`) on inbound listeners that carry
 * every RBAC variant the translator emits: proto field validation (PGV), RE2 compilation of every
 * safe_regex, and the RBAC filter factories themselves, none of which a protobuf round trip checks.
 *
 * The bootstrap is written as binary protobuf (`.pb`), encoded by protobufjs from the same objects
 * meshplane sends over xDS, so Envoy parses exactly the bytes it would receive. The listeners are
 * plaintext (DISABLE) and the clusters plain STATIC: an mTLS chain would need SDS from an ADS
 * server, and Envoy 1.40's validate mode segfaults on static clusters with transport_socket_matches
 * + SDS. The RBAC filters are the same on mTLS chains (see rbac-filters.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { protoType } from '../../protos/envoy-protos.ts';
import type { AuthzPlan } from '../../src/plan/authz-plan.ts';
import { buildLocalCluster } from '../../src/translate/clusters.ts';
import { buildInboundListener } from '../../src/translate/inbound-listener.ts';
import { EVERY_VARIANT_AUTHZ, TCP_AUTHZ, inboundPort, rule } from '../helpers/rbac-fixtures.ts';
import { envoyBinary } from '../helpers/envoy-binary.ts';
import { trackChild } from '../helpers/process-registry.ts';

const VALIDATE_TIMEOUT_MS = 30_000;
const work = mkdtempSync(join(tmpdir(), 'meshplane-rbac-validate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A static bootstrap: admin on 127.0.0.1:0, an HTTP (HCM) and a TCP (tcp_proxy) inbound listener. */
function bootstrap(httpAuthz: AuthzPlan, tcpAuthz: AuthzPlan) {
  const ports = [inboundPort('HTTP', 18080, httpAuthz), inboundPort('TCP', 18081, tcpAuthz)];
  return {
    node: { id: 'rbac-validate.test', cluster: 'test/rbac-validate' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: ports.map((p) => buildInboundListener(p, 'cluster.local')),
      clusters: ports.map(buildLocalCluster),
    },
  };
}

interface EnvoyResult {
  code: number | null;
  signal: string | null;
  output: string;
}

/** `envoy --mode validate -c <name>.pb`; resolves with the exit status and everything Envoy printed. */
function validate(name: string, config: object): Promise<EnvoyResult> {
  const type = protoType('envoy.config.bootstrap.v3.Bootstrap');
  const file = join(work, `${name}.pb`);
  writeFileSync(file, type.encode(type.fromObject(config)).finish());
  const args = ['--mode', 'validate', '-c', file, '--concurrency', '1', '--use-dynamic-base-id', '--log-level', 'info'];
  return new Promise((resolve) => {
    const child = execFile(envoyBinary(), args, { timeout: VALIDATE_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        output: `${stdout}${stderr}`,
      });
    });
    trackChild(child);
  });
}

describe('Envoy --mode validate accepts the RBAC filters', () => {
  it('every IR variant, on an HCM chain and on a tcp_proxy chain', async () => {
    const r = await validate('every-variant', bootstrap(EVERY_VARIANT_AUTHZ, TCP_AUTHZ));
    expect(r.code, `envoy rejected the config (signal ${r.signal}):\n${r.output}`).toBe(0);
    expect(r.output).toMatch(/configuration '.*every-variant\.pb' OK/);
    expect(r.output).toContain('loading 2 listener(s)');
  });

  it('a deny-all ALLOW (no rules) and a dry-run-only filter, on both chains', async () => {
    const edge: AuthzPlan = {
      policies: ['shop/allow-nothing', 'shop/dry'],
      filters: [
        { action: 'DENY', shadowRules: [rule('ns[shop]-policy[dry]-rule[0]', [{ any: true }], [{ not: { authenticated: { regex: '.+' } } }])] },
        { action: 'ALLOW', rules: [] },
      ],
      notes: [],
    };
    const r = await validate('edge-cases', bootstrap(edge, edge));
    expect(r.code, `envoy rejected the config (signal ${r.signal}):\n${r.output}`).toBe(0);
  });

  it('fails when Envoy rejects the config (an invalid RE2 regex), so a pass above means something', async () => {
    const broken: AuthzPlan = {
      policies: ['shop/broken'],
      filters: [{ action: 'ALLOW', rules: [rule('ns[shop]-policy[broken]-rule[0]', [{ any: true }], [{ authenticated: { regex: '(' } }])] }],
      notes: [],
    };
    const r = await validate('broken', bootstrap(broken, TCP_AUTHZ));
    expect(r.code, r.output).not.toBe(0);
    expect(r.signal, r.output).toBeNull(); // a clean rejection, not a crash
    expect(r.output).toContain("error initializing configuration");
    expect(r.output).toContain('missing ): ('); // RE2's complaint
  });
});
