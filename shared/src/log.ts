import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The one logger of a process. Components take child loggers with fields
 * (`component`, `host`, `op`) instead of message prefixes.
 */
export function createLogger(options: { name: string; level?: string; destination?: number }): Logger {
  const level = options.level ?? process.env.BALLAST_LOG_LEVEL ?? 'info';
  return pino({ name: options.name, level, base: { pid: process.pid } }, pino.destination(options.destination ?? 2));
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
