import { describe, it } from 'vitest';
import { expectTransport } from './mesh-probes.ts';
import { mtlsModeScenarios } from './mtls-modes-scenarios.ts';

/** The foundation scenarios again, every Envoy on Delta ADS (`meshplane bootstrap --delta`). */
const mesh = mtlsModeScenarios('delta');

describe('xDS transport', () => {
  it('both proxies are on Delta streams (DELTA_GRPC in their bootstrap, delta on /debug/proxies), connected, with per-resource versions', async () => {
    await expectTransport(mesh(), 'delta');
  });
});
