/**
 * One attempt of a step's executor, with the step's deadline: the part of the operations engine
 * that calls plugin code. It never throws — every outcome, including a broken executor, comes back
 * as a {@link Settled} for the engine to record.
 */
import type { Logger } from 'pino';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import type { ChangeWaiters } from '../store/change-waiters.js';
import { schemaProblems, throwProblems } from './plan.js';
import type { OperationRecord, StepRecord, StoredStepError } from './records.js';
import type { OperationRepo } from './repo.js';
import type { StepContext, StepExecutor, StepOutcome } from './types.js';

/** How one attempt ended. */
export type Settled = { ok: true; value: StepOutcome } | { ok: false; error: StoredStepError };

/** What an attempt needs from the engine. */
export interface AttemptDeps {
  executors: ReadonlyMap<string, StepExecutor<unknown>>;
  repo: Pick<OperationRepo, 'stepProgress' | 'step'>;
  /** Woken on progress, so followers (`op ID --follow`) see it at once. */
  waiters: ChangeWaiters;
  /** Deadline of one attempt when the step sets none (default 30 min). */
  stepTimeoutMs: number | undefined;
}

/** The attempt itself: which step, which try, and the operation's abort signal. */
export interface AttemptRun {
  op: OperationRecord;
  step: StepRecord;
  attempt: number;
  abort: AbortSignal;
  log: Logger;
}

/** Runs the executor once (its `check` in check mode) under the step's deadline; never throws. */
export async function attemptStep(deps: AttemptDeps, run: AttemptRun): Promise<Settled> {
  const { op, step, attempt, log } = run;
  const timeoutMs = step.timeoutMs ?? deps.stepTimeoutMs ?? 30 * 60_000;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new BallastError('BALLAST_ERR_DEADLINE_EXCEEDED', `step ${step.key} did not finish within ${timeoutMs} ms`)), timeoutMs);
  const signal = AbortSignal.any([run.abort, deadline.signal]);
  try {
    const executor = deps.executors.get(step.kind);
    if (executor === undefined) throw new BallastError('BALLAST_ERR_UNSUPPORTED', `no executor is registered for step kind "${step.kind}" (was the controller downgraded?)`);
    // Args were validated at planning; check again because they come back from the store.
    if (executor.args !== undefined) {
      const problems = schemaProblems(executor.args, step.args, '/args');
      if (problems.length > 0) throwProblems(`run step ${step.key}`, problems);
    }
    const ctx: StepContext = {
      signal,
      log,
      op,
      progress: (message) => {
        if (signal.aborted) return;
        deps.repo.stepProgress(op.id, step.key, message.slice(0, 500));
        deps.waiters.notify(op.id);
      },
      resultOf: (key) => {
        const s = deps.repo.step(op.id, key);
        return s !== null && (s.state === 'succeeded' || s.state === 'skipped') ? s.result?.data : undefined;
      },
    };
    const view = { key: step.key, phase: step.phase, host: step.host, title: step.title, kind: step.kind, args: step.args, attempt };
    const value = await (op.check ? executor.check(view, ctx) : executor.execute(view, ctx));
    if (value === null || typeof value !== 'object' || typeof value.message !== 'string' || typeof value.changed !== 'boolean') {
      throw new BallastError('BALLAST_ERR_INTERNAL', `executor "${step.kind}" returned no {message, changed} outcome`);
    }
    return { ok: true, value };
  } catch (err) {
    if (deadline.signal.aborted && !run.abort.aborted) return { ok: false, error: errorOf(deadline.signal.reason) };
    return { ok: false, error: errorOf(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** A thrown value as a stored step error; non-Ballast errors are internal. */
export function errorOf(err: unknown): StoredStepError {
  if (isBallastError(err)) return err.path === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, path: err.path };
  return { code: 'BALLAST_ERR_INTERNAL', message: messageOf(err) };
}
