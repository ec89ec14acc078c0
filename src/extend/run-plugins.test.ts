import { describe, expect, it } from 'vitest';
import type { ProxyResources } from '../translate/translate-proxy.ts';
import { runPlugins } from './run-plugins.ts';
import type { PluginContext, TranslatorPlugin } from './translator-plugin.ts';

const context: PluginContext = { nodeId: 'web-1.shop', workload: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } }, proxyless: false };
const input = (): ProxyResources => ({
  listeners: [{ name: 'inbound:18080', port: 18080 }],
  clusters: [{ name: 'inbound:8080', connect_timeout: '1s' }, { name: 'outbound:db.shop:tcp', connect_timeout: '1s' }],
  secrets: [{ name: 'ROOTCA' }, { name: 'default' }],
});

const addListener: TranslatorPlugin = {
  name: 'add-listener',
  onResources: (r, ctx) => ({ ...r, listeners: [...r.listeners, { name: `extra:${ctx.workload.labels.app}` }] }),
};
const changeTimeout: TranslatorPlugin = {
  name: 'timeouts',
  onResources: (r) => ({ ...r, clusters: r.clusters.map((c) => (c.name.startsWith('outbound:') ? { ...c, connect_timeout: '5s' } : c)) }),
};
const thrower = (onError?: TranslatorPlugin['onError']): TranslatorPlugin => ({
  name: 'broken',
  ...(onError && { onError }),
  onResources: (r) => {
    r.listeners.push({ name: 'half-done' }); // mutates its copy, then fails
    throw new Error('boom');
  },
});

describe('runPlugins', () => {
  it('runs the plugins in order, each seeing the previous output and the proxy context', () => {
    const seen: string[][] = [];
    const spy: TranslatorPlugin = { name: 'spy', onResources: (r) => (seen.push(r.listeners.map((l) => l.name)), r) };
    const run = runPlugins([addListener, spy, changeTimeout], input(), context);
    expect(run.ok).toBe(true);
    if (!run.ok) return;
    expect(seen).toEqual([['extra:web', 'inbound:18080']]);
    expect(run.resources.listeners.map((l) => l.name)).toEqual(['extra:web', 'inbound:18080']);
    expect(run.resources.clusters[1]).toEqual({ name: 'outbound:db.shop:tcp', connect_timeout: '5s' });
  });

  it('reports which plugin added or changed which resource; unchanged ones are not listed', () => {
    const run = runPlugins([addListener, changeTimeout, { name: 'noop', onResources: (r) => r }], input(), context);
    expect(run.ok && run.touched).toEqual([
      { plugin: 'add-listener', type: 'listeners', name: 'extra:web' },
      { plugin: 'timeouts', type: 'clusters', name: 'outbound:db.shop:tcp' },
    ]);
  });

  it('never lets a plugin change its caller’s objects', () => {
    const original = input();
    const before = JSON.stringify(original);
    runPlugins([{ name: 'mutator', onResources: (r) => (r.clusters[0]!.connect_timeout = '9s', r) }], original, context);
    expect(JSON.stringify(original)).toBe(before);
  });

  it('fail-closed (the default): a throw stops the run and names the plugin and the node', () => {
    for (const plugin of [thrower(), thrower('fail-closed')]) {
      const run = runPlugins([addListener, plugin, changeTimeout], input(), context);
      expect(run.ok).toBe(false);
      if (run.ok) return;
      expect(run.plugin).toBe('broken');
      expect(run.error.code).toBe('PLUGIN_FAILED');
      expect(run.error.message).toBe('plugin "broken" failed for web-1.shop: boom (in onResources)');
    }
  });

  it('skip-plugin: the failing plugin’s changes (even partial ones) are dropped, the others apply', () => {
    const run = runPlugins([addListener, thrower('skip-plugin'), changeTimeout], input(), context);
    expect(run.ok).toBe(true);
    if (!run.ok) return;
    expect(run.resources.listeners.map((l) => l.name)).toEqual(['extra:web', 'inbound:18080']);
    expect(run.skipped.map((s) => [s.plugin, s.error.message])).toEqual([['broken', 'plugin "broken" failed for web-1.shop: boom (in onResources)']]);
    expect(run.touched.map((t) => t.plugin)).toEqual(['add-listener', 'timeouts']);
  });

  it('a malformed result counts as the plugin failing', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /returned undefined/],
      [Promise.resolve(input()), /returned a Promise/],
      [{ listeners: [], clusters: [] }, /no secrets array/],
      [{ ...input(), listeners: [{ port: 1 }] }, /listeners\[0\] has no name/],
      [{ ...input(), clusters: [{ name: 'a' }, { name: 'a' }] }, /two resources named "a"/],
    ];
    for (const [output, message] of cases) {
      const run = runPlugins([{ name: 'bad', onResources: () => output as ProxyResources }], input(), context);
      expect(!run.ok && run.error.message).toMatch(message);
    }
  });

  it('returns the lists sorted by name, as the translator does', () => {
    const run = runPlugins([{ name: 'prepend', onResources: (r) => ({ ...r, secrets: [{ name: 'zz' }, ...r.secrets] }) }], input(), context);
    expect(run.ok && run.resources.secrets.map((s) => s.name)).toEqual(['ROOTCA', 'default', 'zz']);
  });

  it('routes and endpoints (optional lists; CLAs are named by cluster_name) are checked and tracked too', () => {
    const withEds: ProxyResources = { ...input(), endpoints: [{ cluster_name: 'outbound:db.shop:tcp', endpoints: [] }] };
    const addLocality: TranslatorPlugin = {
      name: 'eds',
      onResources: (r) => ({ ...r, endpoints: r.endpoints!.map((e) => ({ ...e, endpoints: [{ locality: { zone: 'a' } }] })), routes: [{ name: 'r1' }] }),
    };
    const run = runPlugins([addLocality], withEds, context);
    expect(run.ok && run.touched).toEqual([
      { plugin: 'eds', type: 'routes', name: 'r1' },
      { plugin: 'eds', type: 'endpoints', name: 'outbound:db.shop:tcp' },
    ]);
    // Absent stays absent; a CLA without cluster_name is malformed.
    const plain = runPlugins([{ name: 'noop', onResources: (r) => r }], input(), context);
    expect(plain.ok && 'routes' in plain.resources).toBe(false);
    const bad = runPlugins([{ name: 'bad', onResources: (r) => ({ ...r, endpoints: [{ name: 'x' }] }) as unknown as ProxyResources }], input(), context);
    expect(!bad.ok && bad.error.message).toMatch(/endpoints\[0\] has no cluster_name/);
  });

  it('no plugins (or none with a stage): the input as it was', () => {
    const resources = input();
    const run = runPlugins([{ name: 'stageless' }], resources, context);
    expect(run).toEqual({ ok: true, resources, touched: [], skipped: [] });
  });
});
