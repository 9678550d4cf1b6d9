import { describe, expect, it } from 'vitest';
import type { TaskEngine } from './engine.js';
import { createLazyTaskEngine } from './lazy-engine.js';

type RunReq = Parameters<TaskEngine['run']>[0];
const req = (runId: string): RunReq => ({ type: 'req.run', id: 'c1', timeoutMs: 1000, run: { runId, check: false, diff: false, tasks: [], handlers: [] } });

/** A hand-written engine (STYLE.md §12): records runs and cancels, finishes a run when told. */
function fakeEngine() {
  const calls: string[] = [];
  let finish: (() => void) | null = null;
  let current: string | null = null;
  const engine: TaskEngine = {
    get currentRunId() {
      return current;
    },
    run(r) {
      calls.push(`run:${r.run.runId}`);
      current = r.run.runId;
      return new Promise((resolve) => {
        finish = () => {
          current = null;
          resolve({ ok: 0, changed: 0, failed: 0, skipped: 0, status: 'ok' } as unknown as Awaited<ReturnType<TaskEngine['run']>>);
        };
      });
    },
    cancel(runId) {
      calls.push(`cancel:${runId}`);
      return current === runId;
    },
  };
  return { engine, calls, finish: () => finish?.() };
}

describe('createLazyTaskEngine', () => {
  it('loads the engine on the first run only, counts the run as in progress while loading, and applies a cancel sent meanwhile', async () => {
    const real = fakeEngine();
    let loads = 0;
    let release: (() => void) | null = null;
    const lazy = createLazyTaskEngine(async () => {
      loads += 1;
      await new Promise<void>((r) => {
        release = r;
      });
      return real.engine;
    });
    expect(lazy.loaded).toBe(false);
    expect(lazy.currentRunId).toBeNull();
    const running = lazy.run(req('r1'), () => {});
    expect(lazy.currentRunId).toBe('r1'); // the supervisor holds off during the load too
    expect(lazy.cancel('r1')).toBe(true);
    expect(lazy.cancel('other')).toBe(false);
    (release as unknown as () => void)();
    await new Promise((r) => setTimeout(r, 0));
    expect(real.calls).toEqual(['run:r1', 'cancel:r1']);
    expect(lazy.loaded).toBe(true);
    real.finish();
    await running;
    void lazy.run(req('r2'), () => {});
    await new Promise((r) => setTimeout(r, 0));
    expect(loads).toBe(1);
    expect(lazy.currentRunId).toBe('r2');
  });

  it('tries the load again on the next run when it failed', async () => {
    const real = fakeEngine();
    let attempt = 0;
    const lazy = createLazyTaskEngine(async () => {
      attempt += 1;
      if (attempt === 1) throw new Error('module missing');
      return real.engine;
    });
    await expect(lazy.run(req('r1'), () => {})).rejects.toThrow('module missing');
    expect(lazy.currentRunId).toBeNull();
    void lazy.run(req('r2'), () => {});
    await new Promise((r) => setTimeout(r, 0));
    expect(real.calls).toEqual(['run:r2']);
  });
});
