import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginPipeline } from './extend/plugin-pipeline.ts';
import { ServedConfigs } from './served-configs.ts';
import type { ProxyResources } from './translate/translate-proxy.ts';
import { SnapshotCache } from './xds/snapshot-cache.ts';

/**
 * isCurrent: when the control plane may skip translating a proxy. Only when its config was served
 * from the very same inputs, with nothing pending for it (a rotated certificate, a lingering cluster).
 */
const resources = (clusters: string[], secret = 'cert-1'): ProxyResources => ({
  listeners: [],
  clusters: clusters.map((name) => ({ name, type: 'STATIC', connect_timeout: { seconds: 1 } })),
  secrets: [{ name: 'default', generic_secret: { secret: { inline_string: secret } } }],
});
const context = { nodeId: 'a.shop', workload: { name: 'a', namespace: 'shop', labels: {} }, proxyless: false };

let served: ServedConfigs | undefined;
afterEach(() => served?.stop());

function setup(apply: PluginPipeline['apply'] = (r) => r) {
  const cache = new SnapshotCache();
  const plugins = { apply } as unknown as PluginPipeline;
  served = new ServedConfigs({ cache, plugins, logger: pino({ level: 'silent' }), sent: () => undefined, reapply: () => undefined });
  return { served, cache };
}

describe('ServedConfigs.isCurrent', () => {
  it('is true only for the very inputs the node was last served from', () => {
    const { served } = setup();
    const plan = { nodeId: 'a.shop' };
    const inputs = [plan, 'cert', 'bundle', 0];
    expect(served.isCurrent('a.shop', inputs)).toBe(false);
    served.serve(resources(['c1']), context, inputs);
    expect(served.isCurrent('a.shop', [...inputs])).toBe(true);
    expect(served.isCurrent('a.shop', [{ nodeId: 'a.shop' }, 'cert', 'bundle', 0])).toBe(false); // equal, not the same plan
    expect(served.isCurrent('a.shop', [plan, 'cert', 'bundle', 1])).toBe(false);
    expect(served.isCurrent('a.shop', [plan, 'cert', 'bundle'])).toBe(false);
    expect(served.isCurrent('b.shop', inputs)).toBe(false);
    // Served without inputs (a proxyless app, say): never current.
    served.serve(resources(['c1']), context);
    expect(served.isCurrent('a.shop', inputs)).toBe(false);
  });

  it('is false after a certificate rotation, after invalidate(), and while a removed cluster lingers', () => {
    const { served, cache } = setup();
    const inputs = [{}, 'cert'];
    served.serve(resources(['c1', 'c2']), context, inputs);
    served.rotate('a.shop', resources([], 'cert-2').secrets);
    expect(served.isCurrent('a.shop', inputs)).toBe(false);

    served.serve(resources(['c1', 'c2']), context, inputs);
    served.invalidate();
    expect(served.isCurrent('a.shop', inputs)).toBe(false);

    const next = [{}, 'cert'];
    served.serve(resources(['c1']), context, next); // c2 is kept over once
    expect([...cache.getSnapshot('a.shop')!.get('type.googleapis.com/envoy.config.cluster.v3.Cluster').resources.keys()]).toEqual(['c1', 'c2']);
    expect(served.isCurrent('a.shop', next)).toBe(false);
    served.serve(resources(['c1']), context, next); // the re-apply drops it
    expect(served.isCurrent('a.shop', next)).toBe(true);
  });

  it('a serve a plugin refused keeps the last good config and its inputs: the refused inputs are not current', () => {
    let refuse = false;
    const { served } = setup((r) => (refuse ? undefined : r));
    const good = [{}, 'cert'];
    served.serve(resources(['c1']), context, good);
    refuse = true;
    const refused = [{}, 'cert'];
    expect(served.serve(resources(['c2']), context, refused)).toBe(false);
    expect(served.isCurrent('a.shop', refused)).toBe(false);
    expect(served.isCurrent('a.shop', good)).toBe(true); // what is served was made from these
  });
});
