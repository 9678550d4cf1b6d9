/**
 * Wakes long-polling readers of a record (a run, an operation, …) when it changes, without polling
 * the database: the owner calls `notify(key)` after each recorded change. Each service keeps its own
 * instance, so services never share listeners.
 */

/** Per-key change listeners. */
export class ChangeWaiters {
  readonly #listeners = new Map<string, Set<() => void>>();

  /** Wakes everyone waiting on `key`. */
  notify(key: string): void {
    const set = this.#listeners.get(key);
    if (set === undefined) return;
    // Copy: each listener removes itself.
    for (const wake of [...set]) wake();
  }

  /**
   * Resolves on the next change of `key`, after `ms`, or when `signal` aborts (a client that went
   * away) — whichever comes first. Never rejects.
   */
  next(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      let set = this.#listeners.get(key);
      if (set === undefined) {
        set = new Set();
        this.#listeners.set(key, set);
      }
      const listeners = set;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        listeners.delete(done);
        if (listeners.size === 0 && this.#listeners.get(key) === listeners) this.#listeners.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      listeners.add(done);
    });
  }

  /** Number of keys with someone waiting (for tests and leak checks). */
  get size(): number {
    return this.#listeners.size;
  }
}
