import type { Logger } from 'pino';

/** What {@link exitOnSignals} listens on: the process, or an emitter in tests. */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of {@link exitOnSignals}. */
export interface ExitOnSignalsOptions {
  log: Logger;
  /** The orderly shutdown, e.g. a ServiceManager's `stop`. */
  stop: () => Promise<void>;
  /** After this long the shutdown is abandoned and `exit(1)` is called. */
  forceAfterMs: number;
  /**
   * Ends the process: main.ts passes `process.exit`, so that only main files exit the process
   * (STYLE.md) and this stays testable.
   */
  exit: (code: number) => void;
  /** Default: `process`. */
  signals?: SignalSource;
}

/**
 * On the first SIGTERM or SIGINT, runs `stop` once and exits 0, or 1 if stopping fails or takes
 * longer than `forceAfterMs`. Later signals are ignored: a second Ctrl-C must not cut a shutdown
 * short that is still releasing the VIP or closing the store.
 */
export function exitOnSignals(opts: ExitOnSignalsOptions): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    opts.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      opts.log.error({ afterMs: opts.forceAfterMs }, 'shutdown took too long: exiting');
      opts.exit(1);
    }, opts.forceAfterMs);
    // The timer is a backstop, not a reason to stay alive.
    force.unref();
    opts.stop().then(
      () => {
        clearTimeout(force);
        opts.exit(0);
      },
      (err: unknown) => {
        clearTimeout(force);
        opts.log.error({ err }, 'shutdown failed');
        opts.exit(1);
      },
    );
  };
  const signals = opts.signals ?? process;
  signals.on('SIGTERM', handle);
  signals.on('SIGINT', handle);
}
