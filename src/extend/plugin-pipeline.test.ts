import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { Mesh, MeshPlugin } from '../model/types.ts';
import type { ProxyResources } from '../translate/translate-proxy.ts';
import { loadMeshPlugins } from './mesh-plugins.ts';
import { PluginPipeline } from './plugin-pipeline.ts';
import type { PluginContext } from './translator-plugin.ts';

const root = mkdtempSync(join(tmpdir(), 'meshplane-mesh-plugins-'));
const configDir = join(root, 'config');
mkdirSync(configDir);
mkdirSync(join(root, 'plugins'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const write = (rel: string, source: string) => writeFileSync(join(root, rel), source);
const meshWith = (plugins: Omit<MeshPlugin, 'path'>[]): Mesh => ({
  kind: 'Mesh',
  source: { file: 'mesh.yaml', index: 0 },
  metadata: { name: 'default', namespace: 'default', labels: {}, annotations: {} },
  trustDomain: 'cluster.local',
  rootNamespace: 'mesh-system',
  ca: { keyAlgorithm: 'ECDSA_P256', workloadCertTtlSeconds: 86400, rotationRatio: 0.5, rootCertTtlSeconds: 3600 * 87600 },
  plugins: plugins.map((p, i) => ({ ...p, path: `spec.plugins[${i}]` })),
});
const context: PluginContext = { nodeId: 'web-1.shop', workload: { name: 'web-1', namespace: 'shop', labels: {} }, proxyless: false };
const resources = (): ProxyResources => ({ listeners: [{ name: 'l' }], clusters: [{ name: 'c' }], secrets: [{ name: 'default' }] });
const silent = pino({ level: 'silent' });

write('plugins/tagger.mjs', `export default (options) => ({ name: options.name ?? 'tagger', onError: 'fail-closed', onListener: (l) => ({ ...l, tag: options.tag ?? 'x' }) });`);
write('plugins/throws.mjs', `export default { name: 'throws', onCluster: () => { throw new Error('nope'); } };`);
write('plugins/secrets.mjs', `export default { name: 'secrets', onResources: (r) => ({ ...r, secrets: r.secrets.map((s) => ({ ...s, seen: true })) }) };`);

describe('loadMeshPlugins', () => {
  it('resolves files against the config dir, passes options, applies the entry’s onError, and keeps the order', async () => {
    const mesh = meshWith([
      { file: '../plugins/tagger.mjs', options: { name: 'first', tag: 'a' }, onError: 'skip-plugin' },
      { file: join(root, 'plugins/tagger.mjs'), options: { name: 'second' } },
    ]);
    const load = await loadMeshPlugins(mesh, configDir);
    expect(load.ok && load.plugins.map((p) => [p.plugin.name, p.plugin.onError, p.file, p.listedIn])).toEqual([
      ['first', 'skip-plugin', join(root, 'plugins/tagger.mjs'), 'mesh.yaml: spec.plugins[0]'],
      ['second', 'fail-closed', join(root, 'plugins/tagger.mjs'), 'mesh.yaml: spec.plugins[1]'],
    ]);
  });

  it('problems are violations at the entry’s field path, with the fix', async () => {
    const load = await loadMeshPlugins(meshWith([{ file: '../plugins/missing.ts' }, { file: '../plugins/tagger.mjs' }, { file: '../plugins/tagger.mjs' }]), configDir);
    expect(load.ok).toBe(false);
    const lines = !load.ok ? load.violations.map((v) => `${v.file}: ${v.path}: ${v.message}`) : [];
    expect(lines[0]).toMatch(/^mesh\.yaml: spec\.plugins\[0\]\.file: plugin module \.\.\/plugins\/missing\.ts does not exist: the path is relative to the config directory .*config \(resolved to .*plugins\/missing\.ts\); fix it or remove the entry$/);
    expect(lines[1]).toBe('mesh.yaml: spec.plugins[2]: two plugins are named "tagger" (mesh.yaml: spec.plugins[1] and mesh.yaml: spec.plugins[2]); plugin names must be unique: rename one, or remove the duplicate entry');
    const shape = await loadMeshPlugins(meshWith([{ file: '../plugins/throws.mjs', options: { a: 1 } }]), configDir);
    expect(!shape.ok && shape.violations.map((v) => v.path)).toEqual(['spec.plugins[0]']);
    write('plugins/syntax.mjs', 'export default {');
    const syntax = await loadMeshPlugins(meshWith([{ file: '../plugins/syntax.mjs' }]), configDir);
    expect(!syntax.ok && syntax.violations.map((v) => `${v.path}: ${v.message}`)).toEqual([expect.stringMatching(/^spec\.plugins\[0\]\.file: plugin module \.\.\/plugins\/syntax\.mjs cannot be loaded: .+; fix the module or remove the entry$/)]);
  });

  it('a Mesh plugin may not take the name of a `serve --plugin` one', async () => {
    const cli = [{ plugin: { name: 'tagger', onResources: (r: ProxyResources) => r }, file: '/x.mjs', listedIn: '--plugin' }];
    const load = await loadMeshPlugins(meshWith([{ file: '../plugins/tagger.mjs' }]), configDir, cli);
    expect(!load.ok && load.violations[0]!.message).toMatch(/two plugins are named "tagger" \(mesh\.yaml: spec\.plugins\[0\] and --plugin\)/);
  });
});

describe('PluginPipeline', () => {
  it('loads on prepare+commit only when the Mesh list or a file changed; a rejected prepare changes nothing', async () => {
    const pipeline = new PluginPipeline(silent);
    const mesh = meshWith([{ file: '../plugins/tagger.mjs', options: { tag: 'one' } }]);
    const first = await pipeline.prepare(mesh, configDir);
    expect(first.ok && first.changed).toBe(true);
    if (first.ok) first.commit();
    expect(pipeline.apply(resources(), context)!.listeners).toEqual([{ name: 'l', tag: 'one' }]);

    const same = await pipeline.prepare(meshWith([{ file: '../plugins/tagger.mjs', options: { tag: 'one' } }]), configDir);
    expect(same.ok && same.changed).toBe(false);

    // The file edited (new mtime): loaded again, the new code runs.
    write('plugins/tagger.mjs', `export default (options) => ({ name: 'tagger', onListener: (l) => ({ ...l, tag: 'edited-' + options.tag }) });`);
    utimesSync(join(root, 'plugins/tagger.mjs'), new Date(), new Date(Date.now() + 5000));
    const edited = await pipeline.prepare(mesh, configDir);
    expect(edited.ok && edited.changed).toBe(true);
    expect(pipeline.apply(resources(), context)!.listeners).toEqual([{ name: 'l', tag: 'one' }]); // not committed yet
    if (edited.ok) edited.commit();
    expect(pipeline.apply(resources(), context)!.listeners).toEqual([{ name: 'l', tag: 'edited-one' }]);

    const broken = await pipeline.prepare(meshWith([{ file: '../plugins/nope.mjs' }]), configDir);
    expect(broken.ok).toBe(false);
    expect(pipeline.describe().map((p) => p.name)).toEqual(['tagger']);
  });

  it('reports per proxy what plugins touched and skipped, and a fail-closed failure over the config still served', async () => {
    const pipeline = new PluginPipeline(silent, [{ plugin: { name: 'cli', onCluster: (c) => ({ ...c, cli: true }) }, file: '/cli.mjs', listedIn: '--plugin' }]);
    const prepared = await pipeline.prepare(meshWith([{ file: '../plugins/secrets.mjs' }, { file: '../plugins/throws.mjs', onError: 'skip-plugin' }]), configDir);
    if (prepared.ok) prepared.commit();
    expect(pipeline.describe()).toEqual([
      { name: 'secrets', file: join(root, 'plugins/secrets.mjs'), listedIn: 'mesh.yaml: spec.plugins[0]', onError: 'fail-closed', stages: ['onResources'] },
      { name: 'throws', file: join(root, 'plugins/throws.mjs'), listedIn: 'mesh.yaml: spec.plugins[1]', onError: 'skip-plugin', stages: ['onCluster'] },
      { name: 'cli', file: '/cli.mjs', listedIn: '--plugin', onError: 'fail-closed', stages: ['onCluster'] },
    ]);
    const out = pipeline.apply(resources(), context)!;
    expect(out.secrets).toEqual([{ name: 'default', seen: true }]);
    expect(pipeline.report(context.nodeId)).toEqual({
      touched: [
        { plugin: 'secrets', type: 'secrets', name: 'default' },
        { plugin: 'cli', type: 'clusters', name: 'c' },
      ],
      skipped: [{ plugin: 'throws', error: 'plugin "throws" failed for web-1.shop: nope (in onCluster (cluster "c"))' }],
    });

    const failing = await pipeline.prepare(meshWith([{ file: '../plugins/throws.mjs' }]), configDir);
    if (failing.ok) failing.commit();
    expect(pipeline.apply(resources(), context)).toBeUndefined();
    expect(pipeline.report(context.nodeId)).toMatchObject({
      touched: [{ plugin: 'secrets' }, { plugin: 'cli' }],
      failed: { plugin: 'throws', error: 'plugin "throws" failed for web-1.shop: nope (in onCluster (cluster "c"))' },
    });
    pipeline.retain(new Set());
    expect(pipeline.report(context.nodeId)).toBeUndefined();
  });
});
