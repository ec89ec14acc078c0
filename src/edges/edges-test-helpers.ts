/** Shared by the edges tests: a settable clock, a silent logger and report builders. */
import { pino } from 'pino';
import type { Clock } from '../clock.ts';
import type { ConnectionReport } from './read-access-log.ts';

export const T0 = Date.parse('2026-11-29T12:00:00Z');

export function manualClock(start = T0): Clock & { set(ms: number): void; advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimer: () => ({ cancel() {} }),
    set: (ms) => void (now = ms),
    advance: (ms) => void (now += ms),
  };
}

export const silentLogger = () => pino({ level: 'silent' });

export const plaintextFrom = (peerAddress: string, listenPort: number, listenAddress = '127.0.0.11'): ConnectionReport => ({ listenAddress, listenPort, peerAddress, mtls: false, refused: false });
export const mtlsFrom = (identity: string, listenPort: number, peerAddress = '127.0.0.1'): ConnectionReport => ({ listenAddress: '127.0.0.11', listenPort, peerAddress, mtls: true, identity, refused: false });
