/**
 * Streaming helpers for `--watch` and `--follow`: an event long-poll loop and interruptible
 * timers. Streams end when the CLI's signal aborts (Ctrl-C); callers treat that as success.
 */
import { EventListResponseSchema, type BallastEvent } from '../../shared/src/api.js';
import type { ApiClient } from './client.js';

/** How long the controller may hold a long-poll (seconds); the request timeout adds 10 s. */
export const LONG_POLL_WAIT_S = 25;
/** Page size of long-poll requests: the API's maximum, so a burst is drained in few round trips. */
const POLL_LIMIT = 1000;
/** A poll that returns empty faster than this waits before the next one (server ignoring `wait`). */
const MIN_EMPTY_POLL_MS = 1000;

/** Resolves after `ms`, or early (never rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `promise`'s value, or undefined if `ms` pass (or `signal` aborts) first; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  const stop = new AbortController();
  const timerSignal = signal === undefined ? stop.signal : AbortSignal.any([stop.signal, signal]);
  try {
    return await Promise.race([promise, sleep(ms, timerSignal).then(() => undefined)]);
  } finally {
    stop.abort();
  }
}

/** A promise's outcome as a value, so a pending promise can be raced repeatedly without unhandled rejections. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Wraps a promise into a never-rejecting Settled promise. */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Where a long-poll starts and what it is filtered to. */
export interface PollStart {
  after: number;
  host?: string;
}

/**
 * Long-polls `GET /v1/events?after=…&wait=25` forever, yielding each non-empty batch of events
 * newer than the cursor. Rejects with the client's error (AbortedError on Ctrl-C).
 */
export async function* pollEvents(client: ApiClient, start: PollStart, signal?: AbortSignal): AsyncGenerator<BallastEvent[]> {
  let after = start.after;
  for (;;) {
    const began = Date.now();
    const page = await client.get('/v1/events', EventListResponseSchema, {
      query: { after, wait: LONG_POLL_WAIT_S, limit: POLL_LIMIT, host: start.host },
      timeoutMs: (LONG_POLL_WAIT_S + 10) * 1000,
    });
    // Filter by id as well: a controller that ignored `after` must not make us print duplicates.
    const fresh = page.items.filter((e) => e.id > after).sort((a, b) => a.id - b.id);
    after = Math.max(after, page.last, ...fresh.map((e) => e.id));
    if (fresh.length > 0) yield fresh;
    else if (Date.now() - began < MIN_EMPTY_POLL_MS) await sleep(MIN_EMPTY_POLL_MS, signal);
  }
}
