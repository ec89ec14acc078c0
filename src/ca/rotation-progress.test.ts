import { describe, expect, it } from 'vitest';
import { rotationStepDone, type ProxyTrustState } from './rotation-progress.ts';

const OLD = 'old';
const NEW = 'new';
const proxy = (nodeId: string, over: Partial<ProxyTrustState> = {}): ProxyTrustState => ({ nodeId, secretsAcked: true, trustedRoots: [OLD], certRoot: OLD, ...over });

describe('rotationStepDone', () => {
  it('trust-both waits until every connected proxy ACKed a bundle with the new root', () => {
    expect(rotationStepDone('trust-both', NEW, [proxy('a', { trustedRoots: [OLD, NEW] }), proxy('b')])).toEqual({ done: false, waitingFor: ['b'] });
    expect(rotationStepDone('trust-both', NEW, [proxy('a', { trustedRoots: [OLD, NEW], secretsAcked: false })])).toEqual({ done: false, waitingFor: ['a'] });
    expect(rotationStepDone('trust-both', NEW, [proxy('a', { trustedRoots: [OLD, NEW] }), proxy('b', { trustedRoots: [NEW, OLD] })]).done).toBe(true);
  });

  it('issue-next waits until every connected proxy ACKed a certificate from the new root', () => {
    const both = { trustedRoots: [NEW, OLD] };
    expect(rotationStepDone('issue-next', NEW, [proxy('a', { ...both, certRoot: NEW }), proxy('b', both)])).toEqual({ done: false, waitingFor: ['b'] });
    expect(rotationStepDone('issue-next', NEW, [proxy('a', { ...both, certRoot: NEW, secretsAcked: false })]).done).toBe(false);
    expect(rotationStepDone('issue-next', NEW, [proxy('a', { ...both, certRoot: NEW })]).done).toBe(true);
  });

  it('with no proxy connected a phase is done at once; stable has nothing to do', () => {
    expect(rotationStepDone('trust-both', NEW, []).done).toBe(true);
    expect(rotationStepDone('stable', NEW, [proxy('a')]).done).toBe(false);
  });
});
