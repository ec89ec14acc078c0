import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateDir } from '../../src/ca/state-dir.ts';
import { checkWorkloadToken } from '../../src/ca/tokens.ts';
import { readRevocations } from '../../src/ca/token-revocations.ts';

/** `meshplane token revoke|list` through the real CLI, and bootstraps made around a revocation. */
const MESHPLANE = join(import.meta.dirname, '../../bin/meshplane');
const EXAMPLE = join(import.meta.dirname, '../../examples/demo');
const work = mkdtempSync(join(tmpdir(), 'meshplane-cli-token-'));
const stateDir = join(work, 'state');
let tokenKey: Buffer;
beforeAll(async () => {
  ({ tokenKey } = await openStateDir(stateDir, { keyAlgorithm: 'ECDSA_P256', rootCertTtlSeconds: 3600 * 24, trustDomain: 'cluster.local', create: true }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MESHPLANE, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const tokenOf = async (workload: string) => {
  const { stdout } = await run('bootstrap', '--config', EXAMPLE, '--state-dir', stateDir, '--workload', workload);
  return /x-meshplane-token\n\s+value: (\S+)/.exec(stdout)![1]!;
};

describe('meshplane token revoke', () => {
  it('records the revocation (mode 0600): older tokens are refused, a bootstrap made afterwards works', async () => {
    const before = await tokenOf('shop/frontend-1');
    const other = await tokenOf('shop/backend-1');
    const r = await run('token', 'revoke', '--state-dir', stateDir, 'shop/frontend-1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^revoked every xDS token of shop\/frontend-1 \(node\.id frontend-1\.shop\) issued until \d{4}-\d\d-\d\dT[\d:.]+Z/);
    expect(r.stdout).toContain('meshplane bootstrap --workload shop/frontend-1');
    const file = join(stateDir, 'xds-revocations.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).revoked)).toEqual(['frontend-1.shop']);

    const revocations = await readRevocations(stateDir);
    const at = { now: Date.now(), revokedAt: revocations.get('frontend-1.shop') };
    const refused = checkWorkloadToken(tokenKey, 'frontend-1.shop', before, at);
    expect(refused.ok ? 'accepted' : refused.reason).toMatch(/^the xDS token of frontend-1\.shop was revoked at /);
    expect(checkWorkloadToken(tokenKey, 'frontend-1.shop', await tokenOf('shop/frontend-1'), at).ok).toBe(true);
    expect(checkWorkloadToken(tokenKey, 'backend-1.shop', other, { now: Date.now(), revokedAt: revocations.get('backend-1.shop') }).ok).toBe(true);
  });

  it('`token list` shows the revoked workloads, as a table or JSON', async () => {
    const table = await run('token', 'list', '--state-dir', stateDir);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NODE\s+TOKENS ISSUED UNTIL THIS ARE REVOKED\nfrontend-1\.shop\s+\d{4}-\d\d-\d\dT[\d:.]+Z\n$/);
    const json = JSON.parse((await run('token', 'list', '--state-dir', stateDir, '--output', 'json')).stdout);
    expect(json).toEqual([{ nodeId: 'frontend-1.shop', revokedAt: expect.stringMatching(/Z$/) }]);
  });

  it.concurrent.for([
    [['token', 'revoke', '--state-dir', 'X'], 'name the workload whose tokens to revoke; usage: meshplane token revoke --state-dir DIR NAMESPACE/NAME'],
    [['token', 'revoke', '--state-dir', 'X', 'shop/a-1', 'shop/b-1'], 'one workload at a time (got shop/a-1 shop/b-1)'],
    [['token', 'revoke', '--state-dir', 'X', 'a-1.shop'], 'workload "a-1.shop": must be NAMESPACE/NAME; usage:'],
    [['token', 'revoke', '--state-dir', 'X', 'Shop/a-1'], 'workload "Shop/a-1": "Shop" is not a valid name'],
    [['token', 'revoke', 'shop/a-1'], '--state-dir is required'],
    [['token', 'revoke', '--state-dir', join(work, 'typo'), 'shop/a-1'], `${join(work, 'typo')} holds no xds-token.key: pass the --state-dir of the running \`meshplane serve\``],
    [['token', 'revoke', '--state', 'X', 'shop/a-1'], "Unknown option '--state'"],
  ] as const)('%j is a usage error (exit 2) that says what to fix', async ([args, message], { expect }) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('other commands still refuse bare arguments', async () => {
    const r = await run('validate', '--config', EXAMPLE, 'extra');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unexpected argument 'extra'");
  });
});
