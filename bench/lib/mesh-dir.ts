/**
 * A generated mesh on disk for one benchmark run: a config dir and a state dir under a temporary
 * directory (removed by `remove()`), and config edits written the way the README asks (a dotfile
 * renamed over the old name), timed from just before the write.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMesh, type MeshSize } from '../mesh/generate-mesh.ts';
import { removeOnExit } from './child-processes.ts';

export interface MeshDir {
  root: string;
  configDir: string;
  stateDir: string;
  /** Atomically replaces (or adds) `file` in the config dir; returns the epoch ms just before writing. */
  write(file: string, text: string): number;
  remove(): void;
}

export function createMeshDir(size: MeshSize, extraFiles: Record<string, string> = {}): MeshDir {
  const root = mkdtempSync(join(tmpdir(), 'meshplane-loadbench-'));
  const cleanup = removeOnExit(root);
  const configDir = join(root, 'config');
  const stateDir = join(root, 'state');
  mkdirSync(configDir);
  for (const [file, text] of Object.entries({ ...generateMesh(size), ...extraFiles })) writeFileSync(join(configDir, file), text);
  return {
    root,
    configDir,
    stateDir,
    write(file, text) {
      const at = Date.now();
      const tmp = join(configDir, `.${file}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(configDir, file));
      return at;
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
      cleanup.forget();
    },
  };
}
