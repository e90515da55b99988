// The error log (pino, JSON lines on stderr). Per-connection info logs are not written: they slow the hot path.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (tests that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
