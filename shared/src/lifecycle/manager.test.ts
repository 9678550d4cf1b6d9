import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { silentLogger } from '../log.js';
import { ServiceManager } from './manager.js';
import { type Service, ServiceError, defineService } from './service.js';

/** A service that records its calls in a shared journal; each hook can be replaced. */
function fake(name: string, journal: string[], over: Partial<Service> = {}): Service {
  return {
    name,
    async start() {
      journal.push(`start ${name}`);
    },
    async stop() {
      journal.push(`stop ${name}`);
    },
    ...over,
  };
}

const manager = (services: Service[], readyTimeoutMs?: number) =>
  new ServiceManager(services, { name: 'test', log: silentLogger(), ...(readyTimeoutMs === undefined ? {} : { readyTimeoutMs }) });

/** Resolves when `signal` aborts, for services that honour it. */
const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

async function rejection(p: Promise<unknown>): Promise<ServiceError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof ServiceError)) throw new Error(`expected a ServiceError, got ${String(err)}`);
  return err;
}

describe('ServiceManager', () => {
  it('starts in order and stops in reverse', async () => {
    const journal: string[] = [];
    const m = manager([fake('a', journal), fake('b', journal), fake('c', journal)]);
    await m.start();
    await m.stop();
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('waits for readiness before starting the next service', async () => {
    const journal: string[] = [];
    let markReady = () => {};
    const m = manager([
      fake('db', journal, {
        ready: () =>
          new Promise<void>((resolve) => {
            markReady = () => {
              journal.push('ready db');
              resolve();
            };
          }),
      }),
      fake('api', journal),
    ]);
    const started = m.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(journal).toEqual(['start db']);
    markReady();
    await started;
    expect(journal).toEqual(['start db', 'ready db', 'start api']);
    await m.stop();
  });

  it('stops what started, in reverse, when a later service fails to start', async () => {
    const journal: string[] = [];
    const m = manager([
      fake('a', journal),
      fake('b', journal),
      fake('c', journal, {
        async start() {
          throw new Error('port in use');
        },
      }),
      fake('d', journal),
    ]);
    const err = await rejection(m.start());
    expect(err.code).toBe('BALLAST_ERR_SERVICE_START');
    expect(err.message).toBe('failed to start service c: port in use');
    expect(err.failures.map((f) => [f.service, f.phase])).toEqual([['c', 'start']]);
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    // Nothing is left to stop, and stopping again is harmless.
    await m.stop();
    expect(journal).toHaveLength(4);
  });

  it('treats a readiness failure or timeout as a failed start, and stops that service too', async () => {
    const journal: string[] = [];
    const never = manager([fake('a', journal), fake('slow', journal, { ready: () => new Promise<void>(() => {}) })], 30);
    const err = await rejection(never.start());
    expect(err.code).toBe('BALLAST_ERR_SERVICE_START');
    expect(err.message).toBe('failed to start service slow: it did not become ready: slow was not ready within 30 ms');
    expect(err.failures[0]?.phase).toBe('ready');
    expect(journal).toEqual(['start a', 'start slow', 'stop slow', 'stop a']);

    const broken = manager([fake('x', [], { ready: async () => Promise.reject(new Error('probe failed')) })]);
    expect((await rejection(broken.start())).message).toBe('failed to start service x: it did not become ready: probe failed');
  });

  it('collects every stop failure and still stops the rest', async () => {
    const journal: string[] = [];
    const m = manager([
      fake('a', journal, {
        async stop() {
          throw new Error('disk full');
        },
      }),
      fake('b', journal),
      fake('c', journal, {
        async stop() {
          throw new Error('socket hung');
        },
      }),
    ]);
    await m.start();
    const err = await rejection(m.stop());
    expect(err.code).toBe('BALLAST_ERR_SERVICE_STOP');
    expect(err.message).toBe('failed to stop test: c: socket hung; a: disk full');
    expect(err.errors.map((e) => (e as Error).message)).toEqual(['socket hung', 'disk full']);
    expect(err.cause).toBe(err.errors[0]);
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop b']);
  });

  it('reports failures of the rollback together with the failed start', async () => {
    const m = manager([
      fake('a', [], {
        async stop() {
          throw new Error('stuck');
        },
      }),
      fake('b', [], {
        async start() {
          throw new Error('no config');
        },
      }),
    ]);
    const err = await rejection(m.start());
    expect(err.message).toBe('failed to start service b: no config; and failed to stop what had started: a: stuck');
    expect(err.failures.map((f) => `${f.service}/${f.phase}`)).toEqual(['b/start', 'a/stop']);
  });

  it('stops each service once however often stop() is called, and cannot start again', async () => {
    const journal: string[] = [];
    const m = manager([fake('a', journal), fake('b', journal)]);
    await m.start();
    await Promise.all([m.stop(), m.stop()]);
    await m.stop();
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    const again = await m.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isBallastError(again, 'BALLAST_ERR_SERVICE_START')).toBe(true);
  });

  it('honours the abort signal: an aborted start stops what started and rejects as cancelled', async () => {
    const journal: string[] = [];
    const abort = new AbortController();
    let seen: AbortSignal | null = null;
    const m = manager([
      fake('a', journal),
      fake('waits', journal, {
        async start(signal) {
          seen = signal;
          journal.push('start waits');
          await aborted(signal);
          throw signal.reason;
        },
      }),
      fake('never', journal),
    ]);
    const started = m.start(abort.signal);
    await new Promise((r) => setTimeout(r, 10));
    abort.abort(new Error('operator pressed Ctrl-C'));
    const err = await rejection(started);
    expect(err.code).toBe('BALLAST_ERR_CANCELLED');
    expect(err.message).toBe('failed to start test: shut down while starting waits');
    expect(seen).not.toBeNull();
    expect(journal).toEqual(['start a', 'start waits', 'stop a']);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const journal: string[] = [];
    const err = await rejection(manager([fake('a', journal)]).start(AbortSignal.abort()));
    expect(err.code).toBe('BALLAST_ERR_CANCELLED');
    expect(journal).toEqual([]);
  });

  it('stop() during start aborts the start, rolls back and resolves once everything is stopped', async () => {
    const journal: string[] = [];
    const m = manager([fake('a', journal), fake('b', journal, { ready: (signal) => aborted(signal).then(() => Promise.reject(signal.reason)) }), fake('c', journal)]);
    const started = m.start();
    await new Promise((r) => setTimeout(r, 10));
    await m.stop();
    expect((await rejection(started)).code).toBe('BALLAST_ERR_CANCELLED');
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('passes the shutdown signal to started services and aborts it on stop', async () => {
    let signal: AbortSignal | null = null;
    const m = manager([
      fake('loop', [], {
        async start(s) {
          signal = s;
        },
      }),
    ]);
    await m.start();
    expect((signal as AbortSignal | null)?.aborted).toBe(false);
    await m.stop();
    expect((signal as AbortSignal | null)?.aborted).toBe(true);
  });

  it('nests: a manager is a service of another', async () => {
    const journal: string[] = [];
    const inner = new ServiceManager([fake('x', journal), fake('y', journal)], { name: 'inner', log: silentLogger() });
    const outer = manager([fake('first', journal), inner, fake('last', journal)]);
    await outer.start();
    await outer.stop();
    expect(journal).toEqual(['start first', 'start x', 'start y', 'start last', 'stop last', 'stop y', 'stop x', 'stop first']);
  });

  it('adapts synchronous hooks with defineService, a synchronous throw included', async () => {
    const journal: string[] = [];
    const m = manager([
      defineService('timer', { start: () => void journal.push('start timer'), stop: () => void journal.push('stop timer') }),
      defineService('gate', { ready: async () => void journal.push('ready gate') }),
      defineService('bad', {
        start() {
          throw new Error('sync boom');
        },
      }),
    ]);
    const err = await rejection(m.start());
    expect(err.message).toBe('failed to start service bad: sync boom');
    expect(journal).toEqual(['start timer', 'ready gate', 'stop timer']);
  });

  it('passes a nested failure on unwrapped, with the outer rollback', async () => {
    const journal: string[] = [];
    const inner = new ServiceManager([fake('x', journal), fake('http', journal, { start: async () => Promise.reject(new Error('listen EADDRINUSE')) })], {
      name: 'inner',
      log: silentLogger(),
    });
    const err = await rejection(manager([fake('first', journal), inner]).start());
    expect(err.code).toBe('BALLAST_ERR_SERVICE_START');
    expect(err.message).toBe('failed to start service http: listen EADDRINUSE');
    expect(err.failures.map((f) => f.service)).toEqual(['http']);
    expect(journal).toEqual(['start first', 'start x', 'stop x', 'stop first']);
  });

  it('collects a nested manager\'s stop failures as its own', async () => {
    const inner = new ServiceManager([fake('store', [], { stop: async () => Promise.reject(new Error('disk full')) })], { name: 'inner', log: silentLogger() });
    const outer = manager([fake('first', [], { stop: async () => Promise.reject(new Error('stuck')) }), inner]);
    await outer.start();
    const err = await rejection(outer.stop());
    expect(err.message).toBe('failed to stop test: store: disk full; first: stuck');
    expect(err.failures.map((f) => f.service)).toEqual(['store', 'first']);
  });

  it('refuses two services with the same name', () => {
    expect(() => manager([fake('a', []), fake('a', [])])).toThrow(/two services are named "a"/);
  });
});
