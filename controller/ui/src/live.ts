/**
 * Live data without page reloads: {@link usePoll} re-reads a route on an interval; pages that
 * have a long-poll route (events, an operation) use {@link useLongPoll}, which parks a request
 * on the controller until something changes, like `ballastctl events --follow` and `op --follow`.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api.js';

/** The latest value, or the last error (kept beside the last good value). */
export interface Live<T> {
  data: T | null;
  error: string | null;
  /** Re-reads now (after an action). */
  refresh: () => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Calls `read` now and every `everyMs`; restarts when `key` changes; stops on unmount. */
export function usePoll<T>(read: (signal: AbortSignal) => Promise<T>, everyMs: number, key = ''): Live<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const readRef = useRef(read);
  readRef.current = read;
  useEffect(() => {
    const stop = new AbortController();
    void (async () => {
      while (!stop.signal.aborted) {
        try {
          const value = await readRef.current(stop.signal);
          if (stop.signal.aborted) return;
          setData(value);
          setError(null);
        } catch (err) {
          if (stop.signal.aborted) return;
          setError(describeError(err));
        }
        await sleep(everyMs, stop.signal);
      }
    })();
    return () => stop.abort();
  }, [everyMs, key, tick]);
  return { data, error, refresh: () => setTick((t) => t + 1) };
}

/**
 * Long-poll loop: `step(previous, signal)` returns the next value, waiting on the controller until
 * there is one (or its wait ends); errors back off for `retryMs`. Restarts when `key` changes.
 */
export function useLongPoll<T>(step: (previous: T | null, signal: AbortSignal) => Promise<T>, key: string, retryMs = 1000): Live<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const stepRef = useRef(step);
  stepRef.current = step;
  useEffect(() => {
    const stop = new AbortController();
    let previous: T | null = null;
    setData(null);
    void (async () => {
      while (!stop.signal.aborted) {
        try {
          previous = await stepRef.current(previous, stop.signal);
          if (stop.signal.aborted) return;
          setData(previous);
          setError(null);
        } catch (err) {
          if (stop.signal.aborted) return;
          setError(describeError(err));
          await sleep(retryMs, stop.signal);
        }
      }
    })();
    return () => stop.abort();
  }, [key, tick, retryMs]);
  return { data, error, refresh: () => setTick((t) => t + 1) };
}
