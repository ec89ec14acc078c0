import { describe, expect, it } from 'vitest';
import { DEFAULT_XDS_LIMITS, grpcOptionsFor, resolveXdsLimits, TokenBucket } from './xds-limits.ts';

describe('resolveXdsLimits', () => {
  it('takes the defaults for what is not set (undefined included)', () => {
    expect(resolveXdsLimits()).toEqual(DEFAULT_XDS_LIMITS);
    expect(resolveXdsLimits({ maxStreams: 10, maxStreamsPerNode: undefined })).toEqual({ ...DEFAULT_XDS_LIMITS, maxStreams: 10 });
  });

  it('refuses a limit that is not a positive integer, naming it', () => {
    expect(() => resolveXdsLimits({ maxStreamsPerNode: 0 })).toThrow('xDS limit maxStreamsPerNode must be a positive integer, got 0');
    expect(() => resolveXdsLimits({ requestsPerSecond: 1.5 })).toThrow(/requestsPerSecond must be a positive integer/);
    expect(() => resolveXdsLimits({ maxMessageBytes: Number.NaN })).toThrow(/maxMessageBytes/);
    expect(() => resolveXdsLimits({ nope: 1 } as never)).toThrow('unknown xDS limit "nope"');
  });

  it('sets the grpc-js options that enforce the message size and the connection idle time', () => {
    expect(grpcOptionsFor(resolveXdsLimits({ maxMessageBytes: 1000 }))).toEqual({
      'grpc.max_receive_message_length': 1000,
      'grpc.max_connection_idle_ms': DEFAULT_XDS_LIMITS.connectionIdleTimeoutMs,
    });
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(50)).toBe(false); // half a token
    expect(b.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(b.take(100)).toBe(false);
  });

  it('a client at the sustained rate is never refused; the bucket never holds more than the burst', () => {
    const b = new TokenBucket(100, 400, 0);
    for (let t = 0; t < 60_000; t += 10) expect(b.take(t)).toBe(true);
    const idle = new TokenBucket(100, 5, 0);
    const after = Array.from({ length: 7 }, () => idle.take(3_600_000));
    expect(after.filter(Boolean)).toHaveLength(5);
  });
});
