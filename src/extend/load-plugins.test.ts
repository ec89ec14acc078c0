import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importPluginModule, loadPlugins, pluginsOf } from './load-plugins.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshplane-plugins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a plugin module and returns its path. */
function moduleFile(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

describe('loadPlugins (serve --plugin)', () => {
  it('loads a default-exported plugin, an array of them and a factory, in order (TypeScript too)', async () => {
    const one = moduleFile('one.mjs', `export default { name: 'one', onResources: (r) => r };`);
    const many = moduleFile('many.ts', `const p = (name: string) => ({ name, onError: 'skip-plugin' as const, onListener: (l: unknown) => l });\nexport default [p('two'), p('three')];`);
    const factory = moduleFile('factory.mjs', `export default (options) => ({ name: 'four-' + Object.keys(options).length, onCluster: (c) => c });`);
    const plugins = await loadPlugins([one, many, factory]);
    expect(plugins.map((p) => [p.plugin.name, p.plugin.onError, p.file, p.listedIn])).toEqual([
      ['one', undefined, one, '--plugin'],
      ['two', 'skip-plugin', many, '--plugin'],
      ['three', 'skip-plugin', many, '--plugin'],
      ['four-0', undefined, factory, '--plugin'],
    ]);
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
      ['empty.mjs', `export default [];`, /empty\.mjs default is an empty array of plugins/],
      ['string.mjs', `export default 'plugin';`, /string\.mjs default is string, not a plugin object/],
      ['noname.mjs', `export default { onResources: (r) => r };`, /noname\.mjs default\.name must be a non-empty string/],
      ['typo.mjs', `export default [{ name: 'ok', onResources: (r) => r }, { name: 'typo', onResource: (r) => r }];`, /typo\.mjs default\[1\] \(plugin "typo"\) has no stage: define onListener, onCluster or onResources \("onResource": did you mean "onResources"\?\)/],
      ['policy.mjs', `export default { name: 'p', onError: 'ignore', onResources: (r) => r };`, /policy\.mjs default\.onError must be one of fail-closed, skip-plugin, got "ignore"/],
      ['stage.mjs', `export default { name: 'p', onListener: 'yes' };`, /stage\.mjs default\.onListener must be a function, got string/],
      ['factory-throws.mjs', `export default () => { throw new Error('header is required'); };`, /factory-throws\.mjs factory failed: header is required/],
      ['factory-fn.mjs', `export default () => () => ({});`, /factory-fn\.mjs default\(options\) returned a function/],
      ['factory-bad.mjs', `export default () => [{ name: 'a', onResources: (r) => r }, {}];`, /factory-bad\.mjs default\(options\)\[1\]\.name must be a non-empty string/],
    ];
    for (const [file, source, message] of cases) {
      const err = await loadPlugins([moduleFile(file, source)]).then(() => undefined, (e: unknown) => e);
      expect(err, file).toMatchObject({ code: 'PLUGIN_FAILED', message: expect.stringMatching(message) });
    }
  });

  it('two plugins with one name are refused', async () => {
    const a = moduleFile('dup-a.mjs', `export default { name: 'same', onResources: (r) => r };`);
    const b = moduleFile('dup-b.mjs', `export default { name: 'same', onResources: (r) => r };`);
    await expect(loadPlugins([a, b])).rejects.toThrow(/two plugins are named "same"/);
  });
});

describe('pluginsOf', () => {
  const where = { shown: 'x.mjs', file: '/abs/x.mjs', listedIn: 'mesh.yaml: spec.plugins[0]' };

  it('calls a factory (sync or async) with a frozen copy of the options', async () => {
    const options = { header: 'x-a', nested: { n: 1 } };
    let given: Record<string, unknown> | undefined;
    const factory = async (o: Record<string, unknown>) => ((given = o), { name: `h-${String(o.header)}`, onResources: (r: unknown) => r });
    const [loaded] = await pluginsOf(factory, { ...where, options });
    expect(loaded!.plugin.name).toBe('h-x-a');
    expect(given).toEqual(options);
    expect(given).not.toBe(options);
    expect(Object.isFrozen(given)).toBe(true);
  });

  it('options for an export that is no factory are an error', async () => {
    await expect(pluginsOf({ name: 'p', onResources: (r: unknown) => r }, { ...where, options: { a: 1 } })).rejects.toThrow(/x\.mjs is given options but its default export is not a factory function/);
  });

  it('the Mesh entry’s onError overrides the plugin’s own; stages keep the plugin as `this`', async () => {
    class Counter {
      readonly name = 'counter';
      readonly onError = 'fail-closed' as const;
      calls = 0;
      onResources<T>(r: T): T {
        this.calls++;
        return r;
      }
    }
    const counter = new Counter();
    const [loaded] = await pluginsOf(counter, { ...where, onError: 'skip-plugin' });
    expect(loaded!.plugin.onError).toBe('skip-plugin');
    loaded!.plugin.onResources!({ listeners: [], clusters: [], secrets: [] }, { nodeId: 'a.b', workload: { name: 'a', namespace: 'b', labels: {} }, proxyless: false });
    expect(counter.calls).toBe(1);
  });
});

describe('importPluginModule', () => {
  it('`fresh` gives a new module instance, so an edited file is read again', async () => {
    const file = moduleFile('edited.mjs', `export default { name: 'v1', onResources: (r) => r };`);
    expect(await importPluginModule(file, file, '1')).toMatchObject({ name: 'v1' });
    writeFileSync(file, `export default { name: 'v2', onResources: (r) => r };`);
    expect(await importPluginModule(file, file, '1')).toMatchObject({ name: 'v1' }); // same key: cached
    expect(await importPluginModule(file, file, '2')).toMatchObject({ name: 'v2' });
  });
});
