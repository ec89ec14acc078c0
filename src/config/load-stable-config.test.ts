import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MESH_YAML, serviceYaml } from '../model/model-test-helpers.ts';
import { readModelDir } from '../model/load-model.ts';
import { loadStableConfig } from './load-stable-config.ts';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadStableConfig', () => {
  it('parses only content that two reads agree on: a file still growing is waited for', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshplane-stable-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH_YAML);
    const pending = ['a', 'b', 'c'];
    let unsettled = 0;
    const loaded = (await loadStableConfig(dir, {
      quietMs: 5,
      // Called between the reads: a writer appending one valid document each time, then done.
      stopped: () => {
        const name = pending.shift();
        if (name) appendFileSync(join(dir, 'mesh.yaml'), `---\n${serviceYaml(name, 'shop', '[{name: http}]')}`);
        return false;
      },
      onUnsettled: () => unsettled++,
    }))!;
    expect(loaded.model?.services.map((s) => s.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(unsettled).toBe(3);
  });

  it('a missing directory settles too, as its violation; a stopped caller gets undefined', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshplane-stable-'));
    const missing = (await loadStableConfig(join(dir, 'gone'), { quietMs: 10 }))!;
    expect(missing.model).toBeUndefined();
    expect(missing.violations[0]!.message).toMatch(/^cannot read directory: ENOENT/);
    expect(await loadStableConfig(dir, { quietMs: 10, stopped: () => true })).toBeUndefined();
  });
});

describe('loadStableConfig with a read taken when the change was first seen', () => {
  it('uses it as the first read: once it is quietMs old, no wait', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshplane-stable-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH_YAML);
    const earlier = { read: await readModelDir(dir), at: Date.now() - 10_000 };
    const started = Date.now();
    // With the wait it would take 5 s at least.
    const loaded = (await loadStableConfig(dir, { quietMs: 5000, earlier }))!;
    expect(loaded.model).toBeDefined();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a change after that read is seen: the reads differ, and the next pair decides', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshplane-stable-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH_YAML);
    const earlier = { read: await readModelDir(dir), at: Date.now() - 1000 };
    appendFileSync(join(dir, 'mesh.yaml'), `---\n${serviceYaml('late', 'shop', '[{name: http}]')}`);
    let unsettled = 0;
    const loaded = (await loadStableConfig(dir, { quietMs: 5, earlier, onUnsettled: () => unsettled++ }))!;
    expect(loaded.model?.services.map((s) => s.metadata.name)).toEqual(['late']);
    expect(unsettled).toBe(1);
  });

  it('a read younger than quietMs: the second read waits until quietMs after it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshplane-stable-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH_YAML);
    const at = Date.now();
    const earlier = { read: await readModelDir(dir), at };
    await loadStableConfig(dir, { quietMs: 300, earlier });
    expect(Date.now() - at).toBeGreaterThanOrEqual(299);
  });
});
