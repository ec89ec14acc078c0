/**
 * Builds and runs the go-control-plane peer (bench/peer-go) as a {@link PeerServer}.
 *
 *   const peer = await startPeer({ snapshotDir });   // builds bench/peer-go/bin/peer-go if needed
 *   ... point the load generator at peer.address; peer.rssBytes() ...
 *   await exporter.exportFromConfig(changedFiles, snapshotDir); await peer.reload();   // export-snapshots.ts
 *   await peer.stop();
 *
 * The binary is built with `go build` into bench/peer-go/bin/ (git-ignored) and rebuilt only when a
 * .go file, go.mod or go.sum is newer. Go is taken from $GO, else `go` on the PATH, else
 * /usr/local/go/bin/go. The first build downloads the modules of go.sum (Go module proxy) and takes
 * a minute or two on 2 cores; later ones are cached.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PeerServer } from './peer-contract.ts';

export const PEER_DIR = join(import.meta.dirname, '..', 'peer-go');
export const PEER_BINARY = join(PEER_DIR, 'bin', 'peer-go');

export interface StartPeerOptions {
  /** Directory of the exported snapshots (export-snapshots.ts), one *.json per node. */
  snapshotDir: string;
  /** Where to listen; default 127.0.0.1:0 (a free port, read back from the peer). */
  address?: string;
  /** Extra environment for the peer (e.g. GOMAXPROCS, GOGC); by default Go's own defaults. */
  env?: Record<string, string>;
  /** How long loading the snapshots may take before `peer listening`; default 5 minutes. */
  startTimeoutMs?: number;
  /** How long one reload may take; default 5 minutes. */
  reloadTimeoutMs?: number;
}

/** The Go command: $GO, `go` on the PATH, or /usr/local/go/bin/go; undefined if none exists. */
export function findGo(): string | undefined {
  const candidates = [process.env.GO, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'go')), '/usr/local/go/bin/go'];
  return candidates.find((c): c is string => !!c && existsSync(c) && statSync(c).isFile());
}

function newestSource(): number {
  return Math.max(...readdirSync(PEER_DIR).filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum').map((f) => statSync(join(PEER_DIR, f)).mtimeMs));
}

/** Builds the peer binary unless it is newer than its sources; returns its path. */
export function buildPeer(opts: { log?: (line: string) => void } = {}): string {
  if (existsSync(PEER_BINARY) && statSync(PEER_BINARY).mtimeMs >= newestSource()) return PEER_BINARY;
  const go = findGo();
  if (!go) {
    throw new Error(`the go-control-plane peer (${PEER_DIR}) needs Go to build: install Go 1.26 or newer, or set GO=/path/to/bin/go`);
  }
  (opts.log ?? ((l) => process.stderr.write(`${l}\n`)))(`building the go-control-plane peer with ${go} (a first build downloads its modules and takes a minute or two)`);
  // Built under a private name and renamed, so concurrent builds never run a half-written binary.
  const tmp = `${PEER_BINARY}.${process.pid}.tmp`;
  const built = spawnSync(go, ['build', '-o', tmp, '.'], { cwd: PEER_DIR, encoding: 'utf8', timeout: 15 * 60_000 });
  if (built.error || built.status !== 0) {
    rmSync(tmp, { force: true });
    const why = built.error ? built.error.message : `exit ${built.status ?? built.signal}`;
    throw new Error(`building the go-control-plane peer failed (${go} build in ${PEER_DIR}: ${why}):\n${(built.stderr ?? '').trim()}`);
  }
  renameSync(tmp, PEER_BINARY);
  return PEER_BINARY;
}

/** The resident set size of process `pid`, in bytes (VmRSS of /proc/<pid>/status); 0 once it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Builds the peer if needed, starts it on the snapshots of `snapshotDir`, and resolves once it listens. */
export async function startPeer(opts: StartPeerOptions): Promise<PeerServer> {
  const binary = buildPeer();
  if (!existsSync(opts.snapshotDir)) throw new Error(`the peer's snapshot directory ${opts.snapshotDir} does not exist (write it with export-snapshots.ts first)`);
  const child = spawn(binary, ['--address', opts.address ?? '127.0.0.1:0', '--snapshots', opts.snapshotDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<string>((resolve) => {
    child.on('close', (code, signal) => resolve(`the peer exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    child.on('error', (err) => resolve(`the peer could not run: ${err.message}`));
  });
  let gone: string | undefined;
  void exited.then((why) => (gone = why));

  // Every stdout line goes to whoever waits for the next one.
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(line));
  const nextLine = (what: string, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      if (gone) return reject(new Error(`${gone} before ${what}`));
      const giveUp = (why: string) => {
        const i = waiting.indexOf(take);
        if (i < 0) return; // the line came first
        waiting.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(why));
      };
      const timer = setTimeout(() => giveUp(`the peer (pid ${child.pid}) did not report ${what} within ${timeoutMs} ms`), timeoutMs);
      const take = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiting.push(take);
      void exited.then((why) => giveUp(`${why} before ${what}`));
    });

  let address: string;
  try {
    const line = await nextLine('that it listens', opts.startTimeoutMs ?? 5 * 60_000);
    const m = /^peer listening (\S+)$/.exec(line);
    if (!m) throw new Error(`unexpected first line from the peer: ${line}`);
    address = m[1]!;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  let reloads: Promise<unknown> = Promise.resolve();
  const pid = child.pid!;
  return {
    address,
    pid,
    rssBytes: () => rssOf(pid),
    reload() {
      // One at a time: SIGHUPs sent while one is being handled would be merged into one reload.
      const run = reloads.then(async () => {
        const line = nextLine('a reload', opts.reloadTimeoutMs ?? 5 * 60_000);
        child.kill('SIGHUP');
        const got = await line;
        if (!got.startsWith('peer reloaded ')) throw new Error(`the peer's reload failed: ${got.replace(/^peer reload-failed /, '')}`);
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
