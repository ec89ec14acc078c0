/**
 * The one logger factory of the long-running commands (serve, demo): JSON lines on stdout, for
 * `jq` and log shippers, with the level as a word and the time in ISO 8601 (UTC):
 *
 *   {"level":"info","time":"2025-01-01T12:00:00.000Z","component":"ads","nodeId":"backend-1.shop","transport":"sotw","msg":"xDS stream connected"}
 *
 * `msg` is a fixed sentence per event; what varies (node, type, version, file) is in fields.
 */
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
import { MeshplaneError } from '../errors.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `--log-level`'s value, or a usage error listing the levels (not pino's own crash). */
export function parseLogLevel(value: string | boolean | undefined, flag = '--log-level'): LogLevel {
  if (value === undefined || value === '') return 'info';
  const level = String(value).toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new MeshplaneError('USAGE', `${flag} must be one of ${LOG_LEVELS.join(', ')}, got "${String(value)}"`);
}

/**
 * A JSON logger at `level` (a `--log-level` value: checked, default info). `destination` is for
 * tests; stdout otherwise.
 */
export function createLogger(level: string | boolean | undefined, destination?: DestinationStream): Logger {
  const options = {
    level: parseLogLevel(level),
    base: undefined, // no pid/hostname on every line; subsystems add `component`
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
