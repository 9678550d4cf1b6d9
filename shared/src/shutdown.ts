import type { Logger } from 'pino';

/**
 * Installs SIGTERM/SIGINT handlers that run `stop` once and exit 0, or exit 1 if stopping fails or
 * takes longer than `forceAfterMs`. Only the programs' main.ts files call this (STYLE.md: only
 * main exits the process).
 */
export function exitOnSignals(opts: { log: Logger; stop: () => Promise<void>; forceAfterMs: number }): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    opts.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      opts.log.error({ afterMs: opts.forceAfterMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, opts.forceAfterMs);
    force.unref();
    opts.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        opts.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
