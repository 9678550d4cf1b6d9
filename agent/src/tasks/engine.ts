import type { Logger } from 'pino';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import type { ControllerRequest, RunEvent, RunSummary } from '../../../shared/src/protocol/messages.js';
import type { TaskResult } from '../../../shared/src/tasks/results.js';
import { hideSecretDiff } from '../../../shared/src/tasks/secrets.js';
import type { WireTask as Task } from '../../../shared/src/tasks/task.js';
import { hostPath, type ModuleContext, type ModuleOutcome } from './module.js';
import { createPrefetcher, type PrefetchDownload, type Prefetcher } from './prefetch.js';
import type { ModuleRegistry } from './registry.js';

const MAX_DIFF_CHARS = 256 * 1024;
const MAX_MESSAGE_CHARS = 4096;

/** Options of {@link createTaskEngine}. */
export interface TaskEngineOptions {
  registry: ModuleRegistry;
  /** Everything of the module context that does not change per run. */
  ctxBase: Omit<ModuleContext, 'check' | 'diff' | 'signal'>;
  log: Logger;
  /** Monotonic ms, for durations; injectable for tests. Default `performance.now`. */
  now?: () => number;
  /**
   * Download-ahead (prefetch.ts): how to download a task's artifact early and where (the artifact
   * work dir on the host). Absent: every task downloads for itself.
   */
  prefetch?: { download: PrefetchDownload; workDir: string; lookahead?: number };
}

/**
 * What the session needs from the task engine. Declared here, in the lower layer, so the engine
 * never imports the session (session.ts depends on tasks/, not the other way round).
 */
export interface RunPort {
  run(req: Extract<ControllerRequest, { type: 'req.run' }>, emit: (event: Omit<RunEvent, 'type'>) => void): Promise<RunSummary>;
  /** Returns false when no such run is in progress. */
  cancel(runId: string): boolean;
}

/** The task engine: the session's {@link RunPort}, plus whether a run is in progress. */
export interface TaskEngine extends RunPort {
  /** The id of the run in progress, or null. The component supervisor holds off repairs meanwhile. */
  readonly currentRunId: string | null;
}

type RunRequest = Extract<ControllerRequest, { type: 'req.run' }>;
type Emit = (event: Omit<RunEvent, 'type'>) => void;

interface ActiveRun {
  runId: string;
  prefetcher: Prefetcher | null;
  check: boolean;
  diff: boolean;
  abort: AbortController;
  /** Why the run stopped early, when it did. */
  reason: 'cancelled' | 'deadline' | null;
}

/**
 * Runs task runs Ansible's way, one at a time per host: tasks in order; after the first failure
 * the rest are skipped and handlers do not run; then each notified handler once, in the order the
 * run defines them, if a task that notified it changed something. Cancellation (or the request's
 * deadline, after which nobody awaits the answer) aborts the current task's signal and skips the rest.
 */
export function createTaskEngine(opts: TaskEngineOptions): TaskEngine {
  const now = opts.now ?? (() => performance.now());
  const log = opts.log.child({ component: 'tasks' });
  let active: ActiveRun | null = null;

  async function run(req: RunRequest, emit: Emit): Promise<RunSummary> {
    const spec = req.run;
    if (active !== null) {
      throw new BallastError('BALLAST_ERR_RUN_BUSY', `failed to start run ${spec.runId}: run ${active.runId} is in progress on this host`);
    }
    const current: ActiveRun = { runId: spec.runId, prefetcher: null, check: spec.check, diff: spec.diff, abort: new AbortController(), reason: null };
    active = current;
    const deadline = setTimeout(() => {
      current.reason ??= 'deadline';
      current.abort.abort();
    }, req.timeoutMs);
    const started = now();
    const summary: RunSummary = { runId: spec.runId, ok: 0, changed: 0, failed: 0, skipped: 0, cancelled: false, durationMs: 0 };
    const runLog = log.child({ runId: spec.runId, check: spec.check });
    runLog.info({ tasks: spec.tasks.length, handlers: spec.handlers.length }, 'run started');
    const { registry, prefetch } = opts;
    if (!spec.check && prefetch !== undefined && registry.prefetch !== undefined) {
      current.prefetcher = createPrefetcher({
        tasks: spec.tasks,
        plan: (module, args, ctx) => registry.prefetch?.(module, args, ctx) ?? Promise.resolve(null),
        download: prefetch.download,
        workDir: hostPath(opts.ctxBase, prefetch.workDir),
        ctx: contextOf(current, runLog),
        log: runLog.child({ component: 'prefetch' }),
        ...(prefetch.lookahead === undefined ? {} : { lookahead: prefetch.lookahead }),
      });
    }
    const safeEmit: Emit = (event) => {
      try {
        emit(event);
      } catch (err) {
        runLog.warn({ err: messageOf(err) }, 'failed to emit a run event');
      }
    };
    try {
      const handlerNames = new Set(spec.handlers.map((h) => h.name));
      const notified = new Set<string>();
      let failed = false;
      const step = async (phase: RunEvent['phase'], index: number, task: Task, unknownNotify: string | undefined) => {
        safeEmit({ runId: spec.runId, phase, index, name: task.name, module: task.module, state: 'started' });
        let result: TaskResult;
        if (failed || current.abort.signal.aborted) {
          result = skippedResult(current.abort.signal.aborted ? `skipped: run ${current.reason ?? 'cancelled'}` : 'skipped: an earlier task failed');
        } else if (unknownNotify !== undefined) {
          result = failedResult(0, new BallastError('BALLAST_ERR_VALIDATION', `failed to run task: it notifies an unknown handler "${unknownNotify}"`, { path: `/${phase}s/${index}/notify` }));
        } else {
          result = await runOne(task, runLog.child({ phase, index, task: task.name, module: task.module }), current);
        }
        if (!spec.diff) result.diff = '';
        // Roles mark tasks that carry secrets (keys, tokens); their diffs never leave the host.
        else if (isSensitive(task)) result.diff = hideSecretDiff(result.diff);
        if (result.status === 'changed') result.notified = [...(task.notify ?? [])];
        for (const name of result.notified) notified.add(name);
        if (result.status === 'failed') failed = true;
        summary[result.status] += 1;
        safeEmit({ runId: spec.runId, phase, index, name: task.name, module: task.module, state: 'finished', result });
      };
      for (const [index, task] of spec.tasks.entries()) {
        current.prefetcher?.advance(index);
        await step('task', index, task, (task.notify ?? []).find((name) => !handlerNames.has(name)));
      }
      // Ansible: handlers do not run on a host where a task failed; nor do they after a cancel.
      if (!failed && !current.abort.signal.aborted) {
        for (const [index, handler] of spec.handlers.entries()) {
          // Handlers run once even if defined twice under one name, and a handler's own notify is not followed.
          if (!notified.delete(handler.name)) continue;
          await step('handler', index, { ...handler, notify: [] }, undefined);
        }
      }
      summary.cancelled = current.reason !== null;
      return summary;
    } finally {
      await current.prefetcher?.close();
      clearTimeout(deadline);
      active = null;
      summary.durationMs = Math.max(0, now() - started);
      const { ok, changed, failed, skipped, cancelled } = summary;
      runLog.info({ ok, changed, failed, skipped, cancelled, durationMs: Math.round(summary.durationMs) }, 'run finished');
    }
  }

  function contextOf(current: ActiveRun, taskLog: Logger): ModuleContext {
    return {
      ...opts.ctxBase,
      log: taskLog,
      check: current.check,
      diff: current.diff,
      signal: current.abort.signal,
      ...(current.prefetcher === null ? {} : { prefetched: current.prefetcher }),
    };
  }

  async function runOne(task: Task, taskLog: Logger, current: ActiveRun): Promise<TaskResult> {
    const started = now();
    const ctx = contextOf(current, taskLog);
    let outcome: ModuleOutcome;
    try {
      outcome = await opts.registry.run(task.module, task.args, ctx);
    } catch (err) {
      const duration = Math.max(0, now() - started);
      // A module that gives up because of the abort reports "cancelled", whatever it threw.
      const error = current.abort.signal.aborted && !isBallastError(err, 'BALLAST_ERR_VALIDATION')
        ? new BallastError('BALLAST_ERR_CANCELLED', `failed to finish task "${task.name}": run ${current.reason ?? 'cancelled'}`, { cause: err })
        : err;
      taskLog.warn({ err: messageOf(err) }, 'task failed');
      return failedResult(duration, error);
    }
    const status = outcome.skipped === true ? 'skipped' : outcome.changed ? 'changed' : 'ok';
    taskLog.debug({ status }, outcome.message);
    return {
      status,
      durationMs: Math.max(0, now() - started),
      diff: clip(outcome.diff ?? '', MAX_DIFF_CHARS),
      message: clip(outcome.message, MAX_MESSAGE_CHARS),
      notified: [],
    };
  }

  return {
    run,
    cancel(runId) {
      if (active === null || active.runId !== runId) return false;
      active.reason ??= 'cancelled';
      active.abort.abort();
      log.info({ runId }, 'run cancelled');
      return true;
    },
    get currentRunId() {
      return active?.runId ?? null;
    },
  };
}

/** `sensitive: true`: the task writes secrets, so its diff is never shown. */
function isSensitive(task: Task): boolean {
  return task.sensitive === true;
}

function skippedResult(message: string): TaskResult {
  return { status: 'skipped', durationMs: 0, diff: '', message, notified: [] };
}

/** A failed result from anything thrown: coded errors keep their code; filesystem errors become BALLAST_ERR_IO. */
function failedResult(durationMs: number, err: unknown): TaskResult {
  let error: NonNullable<TaskResult['error']>;
  if (err instanceof BallastError) {
    error = err.path === undefined ? { code: err.code, message: clip(err.message, MAX_MESSAGE_CHARS) } : { code: err.code, message: clip(err.message, MAX_MESSAGE_CHARS), path: err.path };
  } else if (typeof (err as NodeJS.ErrnoException)?.syscall === 'string') {
    error = { code: 'BALLAST_ERR_IO', message: clip(messageOf(err), MAX_MESSAGE_CHARS) };
  } else {
    error = { code: 'BALLAST_ERR_INTERNAL', message: clip(messageOf(err), MAX_MESSAGE_CHARS) };
  }
  return { status: 'failed', durationMs, diff: '', message: error.message, error, notified: [] };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
