import type { Logger } from 'pino';
import { BallastError, messageOf } from '../errors.js';
import { type Service, ServiceError, type ServiceFailure, describeFailures } from './service.js';

/** Options of {@link ServiceManager}. */
export interface ServiceManagerOptions {
  /** The name of the whole, e.g. `ballast-agent`; it is the service name when managers nest. */
  name: string;
  log: Logger;
  /** Longest wait for one service's readiness, ms (default 2 minutes, as k0s). */
  readyTimeoutMs?: number;
}

const DEFAULT_READY_TIMEOUT_MS = 120_000;

/**
 * Starts services in the order given, waiting for each one's readiness before the next (a later
 * service may rely on an earlier one), and stops them in reverse. If one fails to start or to
 * become ready, what had started is stopped (in reverse) and `start` rejects with every failure.
 * `stop` stops every started service even when some fail, and rejects with all their failures.
 *
 * A manager is itself a {@link Service}, so a program's main can put a composed whole between its
 * own parts (systemd notifications around the controller).
 */
export class ServiceManager implements Service {
  readonly name: string;
  private readonly services: readonly Service[];
  private readonly log: Logger;
  private readonly readyTimeoutMs: number;
  /** Started services, in start order; stopping pops from the end. */
  private readonly started: Service[] = [];
  /** Aborts on `stop()` or on the caller's start signal: the services' shutdown signal. */
  private readonly lifetime = new AbortController();
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(services: readonly Service[], opts: ServiceManagerOptions) {
    this.name = opts.name;
    this.log = opts.log;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const seen = new Set<string>();
    for (const s of services) {
      // Names identify services in logs and errors: a duplicate would make a failure ambiguous.
      if (seen.has(s.name)) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to compose ${opts.name}: two services are named "${s.name}"`);
      seen.add(s.name);
    }
    this.services = [...services];
  }

  /**
   * Starts every service in order. Rejects with BALLAST_ERR_SERVICE_START when one fails to start
   * or to become ready, and with BALLAST_ERR_CANCELLED when `signal` aborts or `stop()` is called
   * first; either way what had started is stopped again before it rejects. Callable once.
   */
  start(signal?: AbortSignal): Promise<void> {
    if (this.starting !== null || this.stopping !== null) {
      return Promise.reject(new BallastError('BALLAST_ERR_SERVICE_START', `failed to start ${this.name}: it was already started or stopped`));
    }
    this.starting = this.startAll(signal);
    return this.starting;
  }

  /**
   * Stops every started service in reverse order, each even if an earlier one failed; rejects with
   * BALLAST_ERR_SERVICE_STOP listing every failure. Safe to call again and while starting: every
   * call shares the one shutdown. Called while starting, it aborts the start, whose rejection
   * reports that rollback.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async startAll(external: AbortSignal | undefined): Promise<void> {
    const forward = () => this.lifetime.abort(external?.reason);
    if (external?.aborted === true) forward();
    external?.addEventListener('abort', forward, { once: true });
    try {
      for (const service of this.services) {
        const failure = await this.startOne(service);
        if (failure !== null) await this.failStart(failure);
      }
      this.log.debug({ services: this.started.map((s) => s.name) }, `${this.name} started`);
    } finally {
      external?.removeEventListener('abort', forward);
    }
  }

  /** Starts one service and waits for its readiness; the failure, or null once it is ready. */
  private async startOne(service: Service): Promise<ServiceFailure | null> {
    const signal = this.lifetime.signal;
    if (signal.aborted) return { service: service.name, phase: 'start', error: signal.reason };
    this.log.debug({ service: service.name }, 'starting service');
    try {
      await service.start(signal);
    } catch (error) {
      return { service: service.name, phase: 'start', error };
    }
    // Started, even if shutdown began meanwhile: it is stopped with the others from here on.
    this.started.push(service);
    if (signal.aborted) return { service: service.name, phase: 'start', error: signal.reason };
    const ready = service.ready;
    if (ready === undefined) return null;
    try {
      await this.waitReady(service.name, (s) => ready.call(service, s));
      return null;
    } catch (error) {
      return { service: service.name, phase: 'ready', error };
    }
  }

  /** Bounds a readiness wait by the timeout and the shutdown signal. */
  private async waitReady(name: string, isReady: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const timeout = AbortSignal.timeout(this.readyTimeoutMs);
    const signal = AbortSignal.any([this.lifetime.signal, timeout]);
    const ready = isReady(signal);
    let waiting = true;
    // If the wait is abandoned below, a later rejection of `ready` no longer decides anything; it is
    // logged rather than left unhandled (which would crash the process).
    ready.catch((err: unknown) => {
      if (!waiting) this.log.debug({ service: name, err: messageOf(err) }, 'readiness failed after the wait ended');
    });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        reject(
          this.lifetime.signal.aborted
            ? this.lifetime.signal.reason
            : new BallastError('BALLAST_ERR_SERVICE_START', `${name} was not ready within ${this.readyTimeoutMs} ms`),
        );
      };
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      ready.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    }).finally(() => {
      waiting = false;
    });
  }

  /** Rolls back what started and rejects with the first failure plus any of the rollback. */
  private async failStart(failure: ServiceFailure): Promise<never> {
    const cancelled = this.lifetime.signal.aborted;
    this.log.debug({ service: failure.service, phase: failure.phase, err: messageOf(failure.error) }, `${this.name} failed to start; stopping what started`);
    const rollback = await this.stopStarted();
    const also = rollback.length === 0 ? '' : `; and failed to stop what had started: ${describeFailures(rollback)}`;
    const nested = failure.error instanceof ServiceError && failure.phase === 'start' ? failure.error : null;
    if (nested !== null) {
      // A nested manager already named the service that failed: pass its report on, not wrapped again.
      throw new ServiceError(nested.code, `${nested.message}${also}`, [...nested.failures, ...rollback]);
    }
    const failures = [failure, ...rollback];
    if (cancelled) {
      throw new ServiceError('BALLAST_ERR_CANCELLED', `failed to start ${this.name}: shut down while starting ${failure.service}${also}`, failures);
    }
    const why = failure.phase === 'ready' ? 'it did not become ready: ' : '';
    throw new ServiceError('BALLAST_ERR_SERVICE_START', `failed to start service ${failure.service}: ${why}${messageOf(failure.error)}${also}`, failures);
  }

  private async stopAll(): Promise<void> {
    this.lifetime.abort(new BallastError('BALLAST_ERR_CANCELLED', `${this.name} is shutting down`));
    if (this.starting !== null) {
      // A start in progress ends by rolling back; its rejection (rollback failures included)
      // belongs to the caller of start(), so it is not reported a second time here.
      await this.starting.catch(() => undefined);
    }
    const failures = await this.stopStarted();
    if (failures.length > 0) {
      throw new ServiceError('BALLAST_ERR_SERVICE_STOP', `failed to stop ${this.name}: ${describeFailures(failures)}`, failures);
    }
    this.log.debug(`${this.name} stopped`);
  }

  /** Stops started services newest first; every one is stopped, failures are collected. */
  private async stopStarted(): Promise<ServiceFailure[]> {
    const failures: ServiceFailure[] = [];
    for (let service = this.started.pop(); service !== undefined; service = this.started.pop()) {
      try {
        await service.stop();
        this.log.debug({ service: service.name }, 'stopped service');
      } catch (error) {
        if (error instanceof ServiceError && error.code === 'BALLAST_ERR_SERVICE_STOP') {
          // A nested manager collected and logged its own failures: keep them, not one wrapper.
          failures.push(...error.failures);
          continue;
        }
        this.log.error({ service: service.name, err: messageOf(error) }, 'failed to stop service');
        failures.push({ service: service.name, phase: 'stop', error });
      }
    }
    return failures;
  }
}
