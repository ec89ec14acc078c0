import { MeshplaneError } from '../errors.ts';
import { loadModelDir } from '../model/load-model.ts';
import { explain, type ExplainCaller, type Explanation } from '../plan/explain.ts';
import { isIP } from 'node:net';
import { required } from './args.ts';

export type ExplainArgs = Record<string, string | boolean | string[] | undefined>;

/** `meshplane explain`: the mTLS mode on the way and the ALLOW/DENY decision, with what decided it. */
export async function explainCommand(values: ExplainArgs): Promise<number> {
  const dir = required(values as Record<string, string>, 'config');
  const from = parseFrom(required(values as Record<string, string>, 'from'));
  const [to, port] = parseTo(required(values as Record<string, string>, 'to'));
  const headers = parseHeaders(values.header);
  const { model, violations } = await loadModelDir(dir);
  if (!model) throw new MeshplaneError('CONFIG_INVALID', `${dir}: the configuration has errors; fix them first (meshplane validate --config ${dir})`, violations);
  const result = explain(model, {
    from,
    to,
    port,
    ...(typeof values.method === 'string' && { method: values.method }),
    ...(typeof values.path === 'string' && { path: values.path }),
    ...(headers && { headers }),
  });
  console.log(values.output === 'json' ? JSON.stringify(result, null, 2) : formatExplanation(result));
  return 0;
}

function parseFrom(value: string): ExplainCaller {
  if (value.startsWith('plaintext@')) {
    const ip = value.slice('plaintext@'.length);
    if (!isIP(ip)) throw new MeshplaneError('USAGE', `--from ${value}: plaintext@ needs an IP address, e.g. plaintext@127.0.0.13`);
    return { plaintextIp: ip };
  }
  if (!/^[^/\s]+\/[^/\s]+$/.test(value)) throw new MeshplaneError('USAGE', `--from ${value}: use NAMESPACE/NAME of a Workload, or plaintext@IP for a caller without a sidecar`);
  return { workload: value };
}

function parseTo(value: string): [string, string] {
  const m = /^([^/\s]+\/[^/\s:]+):([^:\s]+)$/.exec(value);
  if (!m) throw new MeshplaneError('USAGE', `--to ${value}: use NAMESPACE/NAME:PORT, PORT being the targetPort (as policies name it) or the port name`);
  return [m[1]!, m[2]!];
}

function parseHeaders(raw: ExplainArgs[string]): Record<string, string> | undefined {
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  const headers: Record<string, string> = {};
  for (const item of Array.isArray(raw) ? raw : [raw]) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new MeshplaneError('USAGE', `--header ${item}: use NAME=VALUE, e.g. --header x-user=alice`);
    const name = item.slice(0, eq).trim().toLowerCase();
    const value = item.slice(eq + 1);
    // A header given twice reaches the filters comma-joined, as Envoy joins repeated headers.
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return headers;
}

export function formatExplanation(e: Explanation): string {
  const from = e.from.workload
    ? `${e.from.workload} (${e.from.sidecar ? `sidecar, ${e.from.identity}` : e.from.proxyless ? 'proxyless gRPC, no identity' : 'no sidecar'}, source ${e.from.sourceIp})`
    : `plaintext caller at ${e.from.sourceIp} (no sidecar, no identity)`;
  const to = `${e.to.workload} port ${e.to.targetPort} (${e.to.service}:${e.to.portName}, ${e.to.protocol}; ${e.to.sidecar ? 'sidecar' : e.to.proxyless ? 'proxyless gRPC app' : 'app'} at ${e.to.listen})`;
  const mode = e.mtls.mode === 'NONE' ? 'none (no sidecar)' : `${e.mtls.mode} on port ${e.to.targetPort} (${e.mtls.policy ? `${e.mtls.scope} policy ${e.mtls.policy}` : 'default: no PeerAuthentication'})`;
  const decided =
    e.decidedBy.stage === 'authorization' ? `  [${e.to.proxyless ? 'gRPC' : 'Envoy'} RBAC policy ${e.decidedBy.envoyPolicy}]` : '';
  const lines: [string, string][] = [
    ['from', from],
    ['to', to],
    ['mTLS', `${mode}; caller sends ${e.mtls.callerSpeaksMtls ? 'mTLS' : 'plaintext'} (${e.mtls.why})`],
  ];
  if (e.request) lines.push(['request', `${e.request.method} ${e.request.path}${Object.entries(e.request.headers).map(([k, v]) => `  ${k}: ${v}`).join('')}`]);
  lines.push(['policies', e.policies.length ? e.policies.join(', ') : 'none select this workload']);
  lines.push(['decision', `${e.decision}: ${e.reason}${decided}`]);
  for (const a of e.audited) lines.push(['audit', `matched ${a}`]);
  for (const d of e.dryRun) lines.push(['dry run', `${d.action} policies would ${d.wouldAllow ? 'allow' : 'deny'}${d.envoyPolicy ? ` (${d.envoyPolicy} matched)` : ''}`]);
  for (const n of e.notes) lines.push(['note', n]);
  return lines.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
}
