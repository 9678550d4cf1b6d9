import { BallastError, type ErrorCode, messageOf } from '../errors.js';

/**
 * A long-running part of a program (a session, a loop, a server, a store): the one lifecycle
 * contract both binaries are composed from (k0s's component idea: a small start/stop interface,
 * readiness as a separate optional capability). A {@link ServiceManager} calls `start` once, in
 * order, and `stop` at most once, only for a service whose `start` resolved.
 */
export interface Service {
  /** Stable, short name for logs and errors: `session`, `http`, `heartbeat-batcher`. */
  readonly name: string;
  /**
   * Begins the work and resolves once it is under way (a loop is scheduled, a server listens); it
   * does not wait for the work to end. `signal` aborts when the program shuts down, including
   * while it is still starting: a slow start should give up when it fires.
   */
  start(signal: AbortSignal): Promise<void>;
  /**
   * Ends the work and releases what `start` took; resolves once that is done. Called once, and
   * only after `start` resolved, so it need not guard against a service that never started.
   */
  stop(): Promise<void>;
  /**
   * Optional readiness: resolves once the service can be relied on by the ones after it (the
   * manager waits for it, bounded by its timeout and the shutdown signal); rejects if it never
   * will be. Absent means "ready once started".
   */
  ready?(signal: AbortSignal): Promise<void>;
}

/** Which step of a service's lifecycle failed. */
export type ServicePhase = 'start' | 'ready' | 'stop';

/** One failure of one service, kept whole for the caller (never reduced to a log line). */
export interface ServiceFailure {
  service: string;
  phase: ServicePhase;
  error: unknown;
}

/**
 * A lifecycle failure that may gather several underlying ones (AggregateError's idea with a
 * Ballast code): a failed start together with the failures of stopping what had already started,
 * or every failure of one shutdown. `cause` is the first failure's error.
 */
export class ServiceError extends BallastError {
  readonly failures: readonly ServiceFailure[];

  constructor(code: ErrorCode, message: string, failures: readonly ServiceFailure[]) {
    super(code, message, failures.length === 0 ? {} : { cause: failures[0]?.error });
    this.name = 'ServiceError';
    this.failures = failures;
  }

  /** The underlying errors, in the order they happened (AggregateError's `errors`). */
  get errors(): unknown[] {
    return this.failures.map((f) => f.error);
  }
}

/** "http: listen EADDRINUSE; store: disk full": every failure on one line, for messages. */
export function describeFailures(failures: readonly ServiceFailure[]): string {
  return failures.map((f) => `${f.service}${f.phase === 'stop' ? '' : ` (${f.phase})`}: ${messageOf(f.error)}`).join('; ');
}

/** The hooks of {@link defineService}; each may be synchronous, and a missing one does nothing. */
export interface ServiceHooks {
  start?(signal: AbortSignal): void | Promise<void>;
  stop?(): void | Promise<void>;
  ready?(signal: AbortSignal): Promise<void>;
}

/**
 * A {@link Service} from hooks: the adapter for parts whose own verbs differ (`start(tickMs)`,
 * `close()`, `closeAll(code)`), so that a program's service list reads as one list. A hook that
 * throws synchronously rejects like an async one.
 */
export function defineService(name: string, hooks: ServiceHooks): Service {
  const service: Service = {
    name,
    start: async (signal) => {
      await hooks.start?.(signal);
    },
    stop: async () => {
      await hooks.stop?.();
    },
  };
  const ready = hooks.ready;
  if (ready !== undefined) service.ready = (signal) => ready.call(hooks, signal);
  return service;
}
