import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MESH_YAML, serviceYaml } from '../model/model-test-helpers.ts';
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
