import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.ts';
import { watchConfigDir } from './watch-config-dir.ts';

const open: { close(): void }[] = [];
const dirs: string[] = [];
afterEach(() => {
  open.splice(0).forEach((w) => w.close());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** A watched temp dir; `changes()` counts onChange calls. Without `dirCheckMs`, only events count. */
function watched(dirCheckMs = 3_600_000) {
  const base = mkdtempSync(join(tmpdir(), 'meshplane-watch-'));
  dirs.push(base);
  const dir = join(base, 'config');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.yaml'), 'v1');
  let count = 0;
  open.push(watchConfigDir(dir, () => count++, { dirCheckMs }));
  /** Runs `change` and waits until it was reported. */
  const seen = async (what: string, change: () => void) => {
    const before = count;
    change();
    await waitFor(() => count > before, { what, timeoutMs: 5000, intervalMs: 20 });
  };
  return { base, dir, seen };
}

describe('watchConfigDir', () => {
  it('sees an in-place edit after an atomic save (rename over the file), again and again', async () => {
    const { dir, seen } = watched();
    for (let i = 0; i < 3; i++) {
      await seen(`atomic save ${i}`, () => {
        writeFileSync(join(dir, '.a.yaml.tmp'), `v${i}`);
        renameSync(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
      });
      await seen(`in-place edit ${i}`, () => writeFileSync(join(dir, 'a.yaml'), `edited ${i}`));
    }
  });

  it('sees a file turned into a directory and back', async () => {
    const { dir, seen } = watched();
    await seen('file -> directory', () => (rmSync(join(dir, 'a.yaml')), mkdirSync(join(dir, 'a.yaml'))));
    await seen('directory -> file', () => (rmSync(join(dir, 'a.yaml'), { recursive: true }), writeFileSync(join(dir, 'a.yaml'), 'back')));
    await seen('edit', () => writeFileSync(join(dir, 'a.yaml'), 'edited'));
  });

  it('sees files in a new subdirectory, and in-place edits of a symlinked file target', async () => {
    const { base, dir, seen } = watched();
    await seen('new subdirectory', () => mkdirSync(join(dir, 'shop')));
    await seen('file in it', () => writeFileSync(join(dir, 'shop', 'b.yaml'), 'b'));
    await seen('edit in it', () => writeFileSync(join(dir, 'shop', 'b.yaml'), 'b2'));
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', 'c.yaml'), 'c');
    await seen('symlink', () => symlinkSync(join(base, 'elsewhere', 'c.yaml'), join(dir, 'c.yaml')));
    await seen('target edited', () => writeFileSync(join(base, 'elsewhere', 'c.yaml'), 'c2'));
  });

  it('a deleted directory is reported, and watched again once recreated or swapped', async () => {
    const { base, dir, seen } = watched(50);
    await seen('rm -rf', () => rmSync(dir, { recursive: true }));
    await seen('mkdir', () => mkdirSync(dir));
    await seen('file in the new directory', () => writeFileSync(join(dir, 'a.yaml'), 'new'));
    mkdirSync(join(base, 'next'));
    await seen('directory swapped (mv)', () => (renameSync(dir, join(base, 'old')), renameSync(join(base, 'next'), dir)));
    await seen('file in the swapped-in directory', () => writeFileSync(join(dir, 'a.yaml'), 'swapped'));
  });
});
