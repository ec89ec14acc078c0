import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlugins } from './load-plugins.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshplane-plugins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a plugin module and returns its path. */
function moduleFile(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

describe('loadPlugins', () => {
  it('loads a default-exported plugin and an array of them, in order (TypeScript too)', async () => {
    const one = moduleFile('one.mjs', `export default { name: 'one', onResources: (r) => r };`);
    const many = moduleFile('many.ts', `const p = (name: string) => ({ name, onError: 'skip-plugin' as const, onResources: (r: unknown) => r });\nexport default [p('two'), p('three')];`);
    const plugins = await loadPlugins([one, many]);
    expect(plugins.map((p) => [p.name, p.onError])).toEqual([['one', undefined], ['two', 'skip-plugin'], ['three', 'skip-plugin']]);
  });

  it('a module that cannot be loaded names the file and why', async () => {
    await expect(loadPlugins([join(dir, 'missing.mjs')])).rejects.toThrow(/plugin module .*missing\.mjs cannot be loaded: .*(Cannot find|not find)/);
    const broken = moduleFile('syntax.mjs', 'export default {');
    await expect(loadPlugins([broken])).rejects.toThrow(/plugin module .*syntax\.mjs cannot be loaded/);
    const throws = moduleFile('throws.mjs', `throw new Error('no config for me');`);
    await expect(loadPlugins([throws])).rejects.toThrow(/throws\.mjs cannot be loaded: no config for me/);
  });

  it('a default export that is not a plugin is an error saying what is wrong', async () => {
    const cases: [string, string, RegExp][] = [
      ['nodefault.mjs', `export const plugin = { name: 'x', onResources: (r) => r };`, /nodefault\.mjs has no default export/],
      ['empty.mjs', `export default [];`, /empty\.mjs exports an empty array/],
      ['string.mjs', `export default 'plugin';`, /string\.mjs default is string, not a plugin object/],
      ['noname.mjs', `export default { onResources: (r) => r };`, /noname\.mjs default\.name must be a non-empty string/],
      ['typo.mjs', `export default [{ name: 'ok', onResources: (r) => r }, { name: 'typo', onResource: (r) => r }];`, /typo\.mjs default\[1\] \(plugin "typo"\) has no onResources function/],
      ['policy.mjs', `export default { name: 'p', onError: 'ignore', onResources: (r) => r };`, /policy\.mjs default\.onError must be one of fail-closed, skip-plugin, got "ignore"/],
    ];
    for (const [file, source, message] of cases) {
      const err = await loadPlugins([moduleFile(file, source)]).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'PLUGIN_FAILED', message: expect.stringMatching(message) });
    }
  });

  it('two plugins with one name are refused', async () => {
    const a = moduleFile('dup-a.mjs', `export default { name: 'same', onResources: (r) => r };`);
    const b = moduleFile('dup-b.mjs', `export default { name: 'same', onResources: (r) => r };`);
    await expect(loadPlugins([a, b])).rejects.toThrow(/two plugins are named "same"/);
  });
});
