/**
 * Wakes long-polling readers of a run when it changes, without polling the database: the
 * orchestrator calls `notify(runId)` after each recorded change.
 */

/** Per-run change listeners. */
export class RunWaiters {
  readonly #listeners = new Map<string, Set<() => void>>();

  /** Wakes everyone waiting on `runId`. */
  notify(runId: string): void {
    const set = this.#listeners.get(runId);
    if (set === undefined) return;
    // Copy: each listener removes itself.
    for (const wake of [...set]) wake();
  }

  /**
   * Resolves on the next change of `runId`, after `ms`, or when `signal` aborts (a client that went
   * away) — whichever comes first. Never rejects.
   */
  next(runId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      let set = this.#listeners.get(runId);
      if (set === undefined) {
        set = new Set();
        this.#listeners.set(runId, set);
      }
      const listeners = set;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        listeners.delete(done);
        if (listeners.size === 0 && this.#listeners.get(runId) === listeners) this.#listeners.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      listeners.add(done);
    });
  }

  /** Number of runs with someone waiting (for tests and leak checks). */
  get size(): number {
    return this.#listeners.size;
  }
}
