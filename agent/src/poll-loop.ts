/**
 * A self-rescheduling polling loop, as the agent's background checkers use it (component supervisor,
 * VIP config watcher, VIP health monitor): run one step, and when it settles wait `delayMs` before
 * the next. Steps never overlap, and the wait is measured from when a step settles, so a slow step
 * delays the next one instead of piling up.
 *
 * `step` handles its own errors: a rejection is not caught here (the loop still schedules the next
 * step, but the rejection surfaces as an unhandled one). Callers wrap their step in a `.catch()`
 * that logs when a failure is expected.
 */

/** Start and stop of a {@link createPollLoop} loop. */
export interface PollLoop {
  /** Runs the first step on the next turn of the event loop; a no-op while already started. */
  start(): void;
  /** Cancels the pending wait and resolves once the step in flight (if any) has settled. */
  stop(): Promise<void>;
}

/**
 * A loop of `step`, stopped until `start()`. `delayMs` is asked after each step, with the time the
 * step took (ms), for the wait before the next one: read at that moment, so a changed setting
 * applies from the next wait.
 */
export function createPollLoop(step: () => Promise<void>, delayMs: (elapsedMs: number) => number): PollLoop {
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  let stopped = true;

  function loop(): void {
    timer = null;
    const started = performance.now();
    inFlight = step().finally(() => {
      inFlight = null;
      if (!stopped) timer = setTimeout(loop, delayMs(performance.now() - started));
    });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await inFlight;
    },
  };
}
