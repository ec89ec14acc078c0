/**
 * `meshplane advise strict`: asks the running control plane (/debug/advise-strict) who would break
 * if the scope went STRICT, and prints it per workload and port. Exit 0 when safe to enforce,
 * 3 when not (plaintext callers seen, or a sidecar gave no reports), 1 when it could not ask.
 */
import type { PortAdvice, StrictAdvice, WorkloadAdvice } from '../edges/advise-strict.ts';
import { callerName } from '../edges/advise-strict.ts';
import { DEFAULT_WINDOW } from '../edges/connection-reports.ts';
import { MeshplaneError } from '../errors.ts';
import { DEFAULT_ADMIN_ADDRESS, optional, type ArgValues } from './args.ts';

export const NOT_SAFE_EXIT = 3;

export async function adviseStrictCommand(values: ArgValues): Promise<number> {
  const admin = optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS);
  const query = new URLSearchParams({ since: optional(values, 'since', DEFAULT_WINDOW) });
  if (typeof values.namespace === 'string') query.set('namespace', values.namespace);
  if (typeof values.workload === 'string') query.set('workload', values.workload);
  let res: Response;
  try {
    res = await fetch(`http://${admin}/debug/advise-strict?${query}`);
  } catch (err) {
    console.error(`meshplane advise strict: cannot reach the control plane admin at ${admin} (${(err as Error).message}); is \`meshplane serve\` running? Pass --admin-address.`);
    return 1;
  }
  if (res.status === 400) throw new MeshplaneError('USAGE', (await res.text()).trim());
  if (!res.ok) {
    console.error(`meshplane advise strict: the control plane answered ${res.status}: ${(await res.text()).trim()}`);
    return 1;
  }
  const advice = (await res.json()) as StrictAdvice;
  if (values.output === 'json') console.log(JSON.stringify(advice, null, 2));
  else console.log(render(advice, query.get('since')!));
  return advice.verdict === 'SAFE' ? 0 : NOT_SAFE_EXIT;
}

function render(a: StrictAdvice, window: string): string {
  const lines = [`STRICT readiness of ${a.scope}, from callers seen in the last ${window} (since ${a.since})`, `change: ${a.change}`, ''];
  for (const w of a.workloads) lines.push(...renderWorkload(w), '');
  lines.push(a.verdict === 'UNKNOWN' ? `UNKNOWN: ${a.summary}` : a.summary);
  return lines.join('\n');
}

function renderWorkload(w: WorkloadAdvice): string[] {
  const head = `${w.workload}  ${w.verdict}: ${w.reason}${w.connectedSince ? `  [sidecar connected since ${w.connectedSince}]` : ''}`;
  return [head, ...w.ports.flatMap(renderPort)];
}

function renderPort(p: PortAdvice): string[] {
  const change = p.modeNow === p.modeAfter ? p.modeNow : `${p.modeNow} -> ${p.modeAfter}`;
  const lines = [`  port ${p.targetPort} (${p.service}, sidecar :${p.listenPort})  ${change}  ${p.verdict}: ${p.reason}`];
  for (const c of p.plaintextCallers) {
    const refused = c.refused > 0 ? `, ${c.refused} refused` : '';
    lines.push(`    plaintext  ${callerName(c)}  ${c.count} seen${refused}, last ${c.lastSeen}`);
  }
  for (const c of p.mtlsCallers) lines.push(`    mTLS       ${c.identity}  ${c.count} seen, last ${c.lastSeen}`);
  if (p.plaintextCallers.length === 0 && p.mtlsCallers.length === 0) lines.push('    (no callers seen)');
  return lines;
}
