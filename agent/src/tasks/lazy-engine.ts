/**
 * The task engine, loaded on the first run (issue 15). An idle agent never runs a task, yet the
 * engine, its module registry and the modules (artifact downloads, image import, commands) were
 * ~5 MB of its resident memory from the start. This stand-in has the engine's interface and
 * imports the real one when the controller sends the first `req.run`; afterwards it delegates.
 *
 * While the engine loads, the run counts as in progress (`currentRunId`), so the component
 * supervisor holds off exactly as it does during the run, and a cancel of that run is remembered
 * and applied the moment the engine has started it.
 */
import type { TaskEngine } from './engine.js';

type RunArgs = Parameters<TaskEngine['run']>;

/** A {@link TaskEngine} that builds the real one with `load` on the first run. */
export function createLazyTaskEngine(load: () => Promise<TaskEngine>): TaskEngine & { readonly loaded: boolean } {
  let engine: TaskEngine | null = null;
  let loading: Promise<TaskEngine> | null = null;
  /** Runs waiting for the engine to load, and whether each was cancelled meanwhile. */
  const waiting = new Map<string, { cancelled: boolean }>();

  const get = (): Promise<TaskEngine> => {
    if (engine !== null) return Promise.resolve(engine);
    loading ??= load().then(
      (e) => {
        engine = e;
        return e;
      },
      (err: unknown) => {
        loading = null; // the next run tries again
        throw err;
      },
    );
    return loading;
  };

  return {
    get loaded(): boolean {
      return engine !== null;
    },
    get currentRunId(): string | null {
      if (engine !== null && engine.currentRunId !== null) return engine.currentRunId;
      const first = waiting.keys().next();
      return first.done === true ? null : first.value;
    },
    async run(req: RunArgs[0], emit: RunArgs[1]) {
      const state = { cancelled: false };
      waiting.set(req.run.runId, state);
      let e: TaskEngine;
      try {
        e = await get();
      } finally {
        waiting.delete(req.run.runId);
      }
      const running = e.run(req, emit);
      if (state.cancelled) e.cancel(req.run.runId);
      return running;
    },
    cancel(runId: string): boolean {
      const w = waiting.get(runId);
      if (w !== undefined) {
        w.cancelled = true;
        return true;
      }
      return engine?.cancel(runId) ?? false;
    },
  };
}
