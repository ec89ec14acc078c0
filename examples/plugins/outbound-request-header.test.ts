import { describe, expect, it } from 'vitest';
import { pluginsOf } from '../../src/extend/load-plugins.ts';
import { encodeCheck } from '../../test/helpers/encode-check.ts';
import outboundRequestHeader, { DEFAULT_HEADER } from './outbound-request-header.ts';
import { applyToProxy, filtersOf, translateTestdata } from './plugin-test-helpers.ts';

const routeConfigOf = (listener: Record<string, unknown>) => filtersOf(listener, 'HttpConnectionManager')[0]?.route_config as Record<string, unknown> | undefined;

describe('examples/plugins/outbound-request-header', () => {
  const strict = translateTestdata('mesh-strict');

  it('adds x-meshplane-source: <namespace>/<workload> to the route config of outbound HTTP listeners', () => {
    const { resources, touched } = applyToProxy([outboundRequestHeader({})], strict.get('frontend-1.shop')!);
    const http = resources.listeners.find((l) => l.name === 'outbound:127.0.0.1:19001')!;
    expect(routeConfigOf(http)!.request_headers_to_add).toEqual([{ header: { key: DEFAULT_HEADER, value: 'shop/frontend-1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    // The TCP outbound has no HTTP to add a header to.
    expect(touched).toEqual([{ plugin: 'outbound-request-header', type: 'listeners', name: 'outbound:127.0.0.1:19001' }]);
    for (const l of resources.listeners) encodeCheck('envoy.config.listener.v3.Listener', l);
  });

  it('never touches inbound listeners or proxyless gRPC apps', () => {
    expect(applyToProxy([outboundRequestHeader({})], strict.get('backend-1.shop')!).touched).toEqual([]);
    const proxyless = translateTestdata('proxyless-grpc');
    expect(applyToProxy([outboundRequestHeader({})], proxyless.get('client-1.shop')!).touched).toEqual([]);
    expect(applyToProxy([outboundRequestHeader({})], proxyless.get('frontend-1.shop')!).touched.map((t) => t.name)).toEqual(['outbound:127.0.0.1:19001']);
  });

  it('header and value come from the Mesh entry’s options; existing request_headers_to_add are kept', () => {
    const frontend = structuredClone(strict.get('frontend-1.shop')!);
    const existing = { header: { key: 'x-team', value: 'payments' } };
    routeConfigOf(frontend.resources.listeners.find((l) => l.name === 'outbound:127.0.0.1:19001')!)!.request_headers_to_add = [existing];
    const plugin = outboundRequestHeader({ header: 'x-caller', value: '{nodeId} in {namespace}' });
    const http = applyToProxy([plugin], frontend).resources.listeners.find((l) => l.name === 'outbound:127.0.0.1:19001')!;
    expect(routeConfigOf(http)!.request_headers_to_add).toEqual([existing, { header: { key: 'x-caller', value: 'frontend-1.shop in shop' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
  });

  it('bad options fail the load, at the Mesh entry', async () => {
    const where = { shown: '../plugins/outbound-request-header.ts', file: '/x', listedIn: 'mesh.yaml: spec.plugins[1]' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ header: 'X-Source' }, /options\.header must be a lowercase HTTP header name/],
      [{ header: 'host' }, /options\.header must be a lowercase HTTP header name other than host/],
      [{ header: ':authority' }, /options\.header must be/],
      [{ value: '{team}' }, /options\.value uses \{team\}; use \{namespace\}, \{name\} or \{nodeId\}/],
      [{ value: 3 }, /options\.value must be a non-empty string/],
      [{ headr: 'x-a' }, /unknown option "headr": supported are header, value/],
    ];
    for (const [options, message] of cases) {
      await expect(pluginsOf(outboundRequestHeader, { ...where, options })).rejects.toThrow(new RegExp(`outbound-request-header\\.ts factory failed: ${message.source}`));
    }
  });
});
