import { join } from 'node:path';
import { exists } from '../ca/state-files.ts';
import { readRevocations, REVOCATIONS_FILE, revokeTokens } from '../ca/token-revocations.ts';
import { TOKEN_KEY_FILE } from '../ca/tokens.ts';
import { MeshplaneError } from '../errors.ts';
import { dnsLabelProblem } from '../model/formats.ts';
import { required, type ArgValues } from './args.ts';

const REVOKE_USAGE = 'usage: meshplane token revoke --state-dir DIR NAMESPACE/NAME';

/**
 * `meshplane token revoke NS/NAME`: every xDS token of that workload issued until now is refused.
 * A running `meshplane serve` on the state dir ends its streams and stops renewing its
 * certificate; a bootstrap made afterwards lets it back in.
 */
export async function tokenRevokeCommand(values: ArgValues, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) {
    throw new MeshplaneError('USAGE', `${positionals.length === 0 ? 'name the workload whose tokens to revoke' : `one workload at a time (got ${positionals.join(' ')})`}; ${REVOKE_USAGE}`);
  }
  const ref = positionals[0]!;
  const [namespace, name, extra] = ref.split('/');
  const problem = !namespace || !name || extra !== undefined ? 'must be NAMESPACE/NAME' : (dnsLabelProblem(namespace) ?? dnsLabelProblem(name));
  if (problem) throw new MeshplaneError('USAGE', `workload "${ref}": ${problem}; ${REVOKE_USAGE}`);
  const stateDir = await existingStateDir(values);
  const nodeId = `${name}.${namespace}`;
  const at = new Date(await revokeTokens(stateDir, nodeId, new Date()));
  console.log(`revoked every xDS token of ${ref} (node.id ${nodeId}) issued until ${at.toISOString()}, recorded in ${join(stateDir, REVOCATIONS_FILE)}.
A running \`meshplane serve\` on this state dir ends its xDS streams and stops renewing its certificate.
To let it back in: \`meshplane bootstrap --workload ${ref} ...\` and restart its Envoy with the new bootstrap.`);
  return 0;
}

/** `meshplane token list`: the workloads whose tokens were revoked, and until when. */
export async function tokenListCommand(values: ArgValues): Promise<number> {
  const revocations = [...(await readRevocations(await existingStateDir(values)))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (values.output === 'json') {
    console.log(JSON.stringify(revocations.map(([nodeId, at]) => ({ nodeId, revokedAt: new Date(at).toISOString() })), null, 2));
    return 0;
  }
  if (revocations.length === 0) {
    console.log('no xDS tokens revoked');
    return 0;
  }
  const width = Math.max(4, ...revocations.map(([n]) => n.length));
  console.log(`${'NODE'.padEnd(width)}  TOKENS ISSUED UNTIL THIS ARE REVOKED`);
  for (const [nodeId, at] of revocations) console.log(`${nodeId.padEnd(width)}  ${new Date(at).toISOString()}`);
  return 0;
}

/** The --state-dir of a control plane: it must hold a token key, so a typo records nothing. */
async function existingStateDir(values: ArgValues): Promise<string> {
  const stateDir = required(values, 'state-dir');
  if (!(await exists(join(stateDir, TOKEN_KEY_FILE)))) {
    throw new MeshplaneError('USAGE', `${stateDir} holds no ${TOKEN_KEY_FILE}: pass the --state-dir of the running \`meshplane serve\``);
  }
  return stateDir;
}
