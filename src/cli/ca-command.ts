import { openStateDir } from '../ca/state-dir.ts';
import { WorkloadRoots } from '../ca/workload-roots.ts';
import { MeshplaneError } from '../errors.ts';
import { loadModelDir } from '../model/load-model.ts';
import { DEFAULT_CA } from '../model/parse-mesh.ts';
import { DEFAULT_ADMIN_ADDRESS, optional, required, type ArgValues } from './args.ts';

/**
 * `meshplane ca rotate-root`: makes the new root and records the rotation in the state dir. The
 * running control plane (or the next one to start) carries it through its phases, each only once
 * every connected proxy has ACKed the previous one.
 */
export async function rotateRootCommand(values: ArgValues): Promise<number> {
  const stateDir = required(values, 'state-dir');
  const configDir = typeof values.config === 'string' ? values.config : undefined;
  let ca = DEFAULT_CA;
  if (configDir) {
    const { model, violations } = await loadModelDir(configDir);
    if (!model) throw new MeshplaneError('CONFIG_INVALID', `${configDir}: the configuration is invalid`, violations);
    if (model.mesh.ca.intermediate) {
      throw new MeshplaneError('USAGE', `${configDir}: workload certificates come from the provided intermediate (Mesh spec.ca.intermediate); rotate it by replacing its files and restarting meshplane serve`);
    }
    ca = model.mesh.ca;
  }
  // The state dir must exist and be whole: a typo must not start a rotation of nothing.
  const { authority } = await openStateDir(stateDir, { ...ca, trustDomain: '', create: false });
  const trustDomain = /root CA (\S+)$/.exec(authority.caCert.subject)?.[1] ?? 'cluster.local';
  const { id, authority: next } = await WorkloadRoots.startRotation(stateDir, {
    keyAlgorithm: ca.keyAlgorithm,
    rootCertTtlSeconds: ca.rootCertTtlSeconds,
    trustDomain,
    reissue: values.reissue === true,
  });
  console.log(`root rotation started: new root ${id} (sha256 ${next.rootFingerprint.slice(0, 16)}…, ${ca.keyAlgorithm}, until ${next.caCert.notAfter.toISOString()})
  1. trust-both   every proxy gets a trust bundle with both roots
  2. issue-next   certificates come from the new root ${values.reissue === true ? '(all reissued at once: --reissue)' : '(as each one rotates; --reissue does it at once)'}
  3. stable       the old root leaves the bundle
Each phase starts once every connected proxy has ACKed the previous one. A running \`meshplane serve\`
on this state dir carries it on; follow it with \`meshplane ca status\`.`);
  return 0;
}

interface CaStatus {
  mode: string;
  phase: string;
  startedAt?: string;
  reissue?: boolean;
  waitingFor?: string[];
  signer: string;
  roots: { id?: string; fingerprint: string; notAfter?: string; signs: boolean }[];
  proxiesByRoot: Record<string, number>;
  xdsRoot: { fingerprint: string; notAfter: string };
  issued: { ok: number; failed: number };
}

/** `meshplane ca status`: the rotation phase, the roots in the bundle, and how many proxies are on each. */
export async function caStatusCommand(values: ArgValues): Promise<number> {
  const admin = optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS);
  let status: CaStatus;
  try {
    status = (await (await fetch(`http://${admin}/debug/ca`)).json()) as CaStatus;
  } catch (err) {
    console.error(`meshplane ca status: cannot reach the control plane admin at ${admin} (${(err as Error).message}); is \`meshplane serve\` running? Pass --admin-address.`);
    return 1;
  }
  if (values.output === 'json') {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  const short = (fp: string) => (fp.length > 16 ? `${fp.slice(0, 16)}…` : fp);
  const lines: [string, string][] = [
    ['CA', status.mode === 'provided' ? 'provided intermediate (Mesh spec.ca.intermediate)' : 'self-signed roots in the state dir'],
    ['phase', `${status.phase}${status.startedAt ? ` (rotation started ${status.startedAt}${status.reissue ? ', reissue' : ''})` : ''}`],
  ];
  for (const r of status.roots) {
    lines.push(['root', `${short(r.fingerprint)}${r.id ? ` ${r.id}` : ''}${r.notAfter ? ` until ${r.notAfter}` : ''}${r.signs ? '  (signs new certificates)' : ''}`]);
  }
  const counts = Object.entries(status.proxiesByRoot).map(([fp, n]) => `${n} on ${short(fp)}`);
  lines.push(['proxies', counts.length ? counts.join(', ') : 'none connected']);
  if (status.waitingFor?.length) lines.push(['waiting', `${status.waitingFor.join(', ')} (not yet ACKed this phase)`]);
  lines.push(['xDS root', `${short(status.xdsRoot.fingerprint)} until ${status.xdsRoot.notAfter} (pinned by every bootstrap)`]);
  lines.push(['issued', `${status.issued.ok} certificates, ${status.issued.failed} failed`]);
  console.log(lines.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n'));
  return 0;
}
