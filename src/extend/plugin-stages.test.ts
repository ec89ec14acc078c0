import { describe, expect, it } from 'vitest';
import type { ProxyResources } from '../translate/translate-proxy.ts';
import { runPlugins } from './run-plugins.ts';
import type { PluginContext, TranslatorPlugin } from './translator-plugin.ts';

const context: PluginContext = { nodeId: 'web-1.shop', workload: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } }, proxyless: false };
const input = (): ProxyResources => ({
  listeners: [
    { name: 'inbound:127.0.0.1:18080', traffic_direction: 'INBOUND' },
    { name: 'outbound:127.0.0.1:19001', traffic_direction: 'OUTBOUND' },
    { name: 'xds:///db.shop:grpc', api_listener: { api_listener: {} } },
  ],
  clusters: [{ name: 'inbound:127.0.0.1:8080' }, { name: 'outbound:db.shop:tcp' }],
  secrets: [{ name: 'default' }],
});

describe('plugin stages', () => {
  it('run in the documented order: plugin by plugin; within one, listeners, clusters, then the whole set', () => {
    const calls: string[] = [];
    const recorder = (name: string): TranslatorPlugin => ({
      name,
      onResources: (r) => (calls.push(`${name}.onResources`), r),
      onCluster: (c) => (calls.push(`${name}.onCluster ${c.name}`), c),
      onListener: (l) => (calls.push(`${name}.onListener ${l.name}`), l),
    });
    expect(runPlugins([recorder('a'), recorder('b')], input(), context).ok).toBe(true);
    expect(calls).toEqual([
      'a.onListener inbound:127.0.0.1:18080',
      'a.onListener outbound:127.0.0.1:19001',
      'a.onListener xds:///db.shop:grpc',
      'a.onCluster inbound:127.0.0.1:8080',
      'a.onCluster outbound:db.shop:tcp',
      'a.onResources',
      'b.onListener inbound:127.0.0.1:18080',
      'b.onListener outbound:127.0.0.1:19001',
      'b.onListener xds:///db.shop:grpc',
      'b.onCluster inbound:127.0.0.1:8080',
      'b.onCluster outbound:db.shop:tcp',
      'b.onResources',
    ]);
  });

  it('onListener is told the direction (a proxyless API listener is outbound) and the proxy', () => {
    const seen: string[] = [];
    const spy: TranslatorPlugin = { name: 'spy', onListener: (l, ctx) => (seen.push(`${l.name} ${ctx.direction} ${ctx.nodeId} ${ctx.proxyless}`), l) };
    runPlugins([spy], input(), context);
    expect(seen).toEqual(['inbound:127.0.0.1:18080 INBOUND web-1.shop false', 'outbound:127.0.0.1:19001 OUTBOUND web-1.shop false', 'xds:///db.shop:grpc OUTBOUND web-1.shop false']);
  });

  it('what a stage changes is tagged with the plugin; a later plugin sees it', () => {
    const tagInbound: TranslatorPlugin = { name: 'tag', onListener: (l, { direction }) => (direction === 'INBOUND' ? { ...l, tagged: true } : l) };
    const timeouts: TranslatorPlugin = { name: 'timeouts', onCluster: (c) => (c.name.startsWith('outbound:') ? { ...c, connect_timeout: '5s' } : c) };
    let sawTag = false;
    const after: TranslatorPlugin = { name: 'after', onListener: (l) => ((sawTag ||= l.tagged === true), l) };
    const run = runPlugins([tagInbound, timeouts, after], input(), context);
    expect(run.ok && run.touched).toEqual([
      { plugin: 'tag', type: 'listeners', name: 'inbound:127.0.0.1:18080' },
      { plugin: 'timeouts', type: 'clusters', name: 'outbound:db.shop:tcp' },
    ]);
    expect(sawTag).toBe(true);
  });

  it('a stage that returns no resource object, or throws, is an error of that plugin naming the stage and resource', () => {
    const cases: [TranslatorPlugin, RegExp][] = [
      [{ name: 'p', onListener: () => undefined as never }, /failed for web-1\.shop: onListener returned undefined, not a listener object \(in onListener \(listener "inbound:127\.0\.0\.1:18080"\)\)$/],
      [{ name: 'p', onListener: (l) => [l] as never }, /onListener returned an array, not a listener object/],
      [{ name: 'p', onCluster: (c) => Promise.resolve(c) as never }, /onCluster returned a Promise; it must return the cluster synchronously \(in onCluster \(cluster "inbound:127\.0\.0\.1:8080"\)\)/],
      [{ name: 'p', onCluster: (c) => ({ ...c, name: '' }) }, /onCluster returned a cluster without a name/],
      [{ name: 'p', onCluster: (c) => ({ ...c, name: 'same' }) }, /clusters has two resources named "same" \(in onCluster\)/],
      [{ name: 'p', onListener: (l) => { if (l.traffic_direction === 'OUTBOUND') throw new Error('no outbound'); return l; } }, /: no outbound \(in onListener \(listener "outbound:127\.0\.0\.1:19001"\)\)$/],
    ];
    for (const [plugin, message] of cases) {
      const run = runPlugins([plugin], input(), context);
      expect(run.ok).toBe(false);
      expect(!run.ok && run.error.message).toMatch(message);
    }
  });

  it('skip-plugin drops everything that plugin did in any stage, even stages that worked', () => {
    const halfway: TranslatorPlugin = {
      name: 'halfway',
      onError: 'skip-plugin',
      onListener: (l) => ({ ...l, changed: true }),
      onResources: () => {
        throw new Error('late');
      },
    };
    const run = runPlugins([halfway], input(), context);
    expect(run.ok && run.resources).toEqual(input());
    expect(run.ok && run.skipped.map((s) => s.error.message)).toEqual(['plugin "halfway" failed for web-1.shop: late (in onResources)']);
  });

  it("a plugin writing to its context or its input cannot change the next plugin's or the caller's", () => {
    const original = input();
    const vandal: TranslatorPlugin = {
      name: 'vandal',
      onListener: (l, ctx) => {
        (ctx.workload.labels as Record<string, string>).app = 'changed';
        (l as Record<string, unknown>).mutated = true;
        return l;
      },
    };
    const labels: string[] = [];
    const reader: TranslatorPlugin = { name: 'reader', onCluster: (c, ctx) => (labels.push(ctx.workload.labels.app!), c) };
    const run = runPlugins([vandal, reader], original, context);
    expect(labels).toEqual(['web', 'web']);
    expect(original).toEqual(input());
    expect(run.ok && run.resources.listeners.every((l) => l.mutated === true)).toBe(true);
  });

  it('runs for proxyless apps with RDS/EDS lists, told so', () => {
    const proxyless: ProxyResources = { ...input(), secrets: [], routes: [{ name: 'r' }], endpoints: [{ cluster_name: 'outbound:db.shop:tcp' }] };
    const flags: boolean[] = [];
    const run = runPlugins([{ name: 'p', onResources: (r, ctx) => (flags.push(ctx.proxyless), r) }], proxyless, { ...context, proxyless: true });
    expect(flags).toEqual([true]);
    expect(run.ok && run.resources).toEqual(proxyless);
  });
});
