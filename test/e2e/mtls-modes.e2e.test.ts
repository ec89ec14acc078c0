import { describe, it } from 'vitest';
import { expectTransport } from './mesh-probes.ts';
import { mtlsModeScenarios } from './mtls-modes-scenarios.ts';

/** The foundation scenarios over State of the World ADS (the default bootstrap). */
const mesh = mtlsModeScenarios('sotw');

describe('xDS transport', () => {
  it('both proxies are on SotW streams (GRPC in their bootstrap, sotw on /debug/proxies) and connected', async () => {
    await expectTransport(mesh(), 'sotw');
  });
});
