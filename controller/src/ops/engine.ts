/**
 * The operations engine: runs persisted plans one step at a time, and survives SIGKILL.
 *
 * Every transition is written to SQLite before the next thing happens: the operation and its whole
 * plan before the first step, each step as `running` before its executor is called and as
 * `succeeded`/`failed` (with any inserted steps) after it returns. A restarted controller's `recover()`
 * picks up every `pending`/`running` operation at its first unfinished step; a step found
 * `running` is executed again, which is safe because executors are idempotent (types.ts).
 *
 * A failed step pauses the operation with the error, the step and the host; nothing is rolled back
 * or torn down unless the plan itself says so. `resume` re-runs the failed step and continues;
 * `abort` ends the operation, cancelling the step in progress through its AbortSignal.
 * One unfinished (pending, running or paused) operation per cluster.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { BallastError, isBallastError } from '../../../shared/src/errors.js';
import { isOperationFinished, type OperationDocument, type OperationListItem } from '../../../shared/src/ops-api.js';
import { ChangeWaiters } from '../store/change-waiters.js';
import { attemptStep, errorOf, type Settled } from './attempt.js';
import type { NewEvent } from '../store/events.js';
import { operationDocument, operationListItem } from './document.js';
import { planSteps, schemaProblems, throwProblems } from './plan.js';
import type { OperationRecord, PlannedStep, StepRecord, StoredStepError } from './records.js';
import type { OperationRepo } from './repo.js';
import type { OperationKind, OperationRegistry, StepExecutor, StepSpec } from './types.js';

/** Options of {@link OperationEngine}. */
export interface OperationEngineOptions {
  repo: OperationRepo;
  /** The store's event log (store.events). */
  events: { append(event: NewEvent): unknown };
  log: Logger;
  /** Kinds and executors known from the start; more can be registered before `recover()`. */
  registry?: OperationRegistry;
  /** Deadline of one step attempt when its spec sets none (default 30 min). */
  stepTimeoutMs?: number;
  /** How long `abort` and `close` wait for the step in progress to settle (default 10 s). */
  settleTimeoutMs?: number;
}

/** How to start an operation. */
export interface StartOptions {
  /** Who started it (operator name), for the record and the events. */
  actor: string;
  /** The cluster it acts on; at most one unfinished operation per cluster. */
  cluster?: string | null;
  /** Check mode: executors' `check` runs instead of `execute`; nothing changes. */
  check?: boolean;
}

interface Active {
  abort: AbortController;
  /** Why `abort` fired: the operator aborted, or the controller is stopping (then the step stays `running`). */
  reason: 'abort' | 'shutdown' | null;
  done: Promise<void>;
}

/** The operation service behind /v1/ops and the kind-specific start routes. */
export class OperationEngine {
  private readonly kinds = new Map<string, OperationKind<unknown>>();
  private readonly executors = new Map<string, StepExecutor<unknown>>();
  private readonly active = new Map<string, Active>();
  private readonly waiters = new ChangeWaiters();
  private readonly log: Logger;
  private closing = false;

  constructor(private readonly opts: OperationEngineOptions) {
    this.log = opts.log.child({ component: 'ops' });
    for (const k of opts.registry?.kinds ?? []) this.registerKind(k);
    for (const e of opts.registry?.executors ?? []) this.registerExecutor(e);
  }

  /** Adds an operation kind. Register everything before `recover()`. */
  registerKind(kind: OperationKind<unknown>): void {
    if (this.kinds.has(kind.kind)) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to register operation kind "${kind.kind}": already registered`);
    this.kinds.set(kind.kind, kind);
  }

  /** Adds a step executor. Register everything before `recover()`. */
  registerExecutor(executor: StepExecutor<unknown>): void {
    if (this.executors.has(executor.kind)) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to register step executor "${executor.kind}": already registered`);
    this.executors.set(executor.kind, executor);
  }

  /**
   * Validates `input`, builds and stores the plan, and starts running it in the background.
   * Throws BALLAST_ERR_VALIDATION (with a path) for bad input or a bad plan, and BALLAST_ERR_RUN_BUSY
   * naming the operation that holds the cluster.
   */
  async start(kind: string, input: unknown, opts: StartOptions): Promise<OperationDocument> {
    if (this.closing) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'failed to start operation: the controller is shutting down');
    const def = this.kinds.get(kind);
    if (def === undefined) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to start operation: unknown kind "${kind}"`, { path: '/kind' });
    const problems = schemaProblems(def.input, input, '/input');
    if (problems.length > 0) throwProblems(`start operation ${kind}`, problems);
    const id = `op-${randomBytes(6).toString('hex')}`;
    const cluster = opts.cluster ?? null;
    const check = opts.check === true;
    const specs = await def.plan(input, { id, cluster, check });
    const steps = planSteps(specs, { executors: this.executors, base: '/steps', what: `plan operation ${kind}` });
    const stored = def.redact?.(input) ?? (input as Record<string, unknown>);
    this.opts.repo.create({ id, kind, cluster, check, input: stored, createdBy: opts.actor, steps });
    const on = cluster === null ? '' : ` on cluster ${cluster}`;
    this.event({ host: null, kind: 'op.started', message: `${id}: ${kind}${on} started by ${opts.actor} (${steps.length} steps${check ? ', check mode' : ''})`, data: { op: id, kind, cluster, check } });
    this.log.info({ op: id, kind, cluster, check, steps: steps.length, actor: opts.actor }, 'operation started');
    this.launch(id);
    return this.get(id);
  }

  /**
   * Resumes every operation a previous controller process left pending or running (paused ones
   * stay paused), and fails steps left `running` in operations that will not resume. Call once at
   * start, after registering kinds and executors. Returns the ids resumed.
   */
  recover(): string[] {
    const orphans = this.opts.repo.failOrphanedSteps({ code: 'BALLAST_ERR_PEER_GONE', message: 'the controller stopped while this step was running' });
    if (orphans > 0) this.log.warn({ steps: orphans }, 'marked steps of stopped operations failed');
    const ids = this.opts.repo.activeIds().filter((id) => !this.active.has(id));
    for (const id of ids) {
      this.event({ host: null, kind: 'op.resumed', message: `${id}: resumed after a controller restart`, data: { op: id, reason: 'restart' } });
      this.launch(id);
    }
    if (ids.length > 0) this.log.info({ ops: ids }, 'resumed operations after a restart');
    return ids;
  }

  /** Resumes a paused operation: its failed step runs again, then the rest. A running one is left as is. */
  resume(id: string, actor: string): OperationDocument {
    if (this.closing) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'failed to resume operation: the controller is shutting down');
    const op = this.find(id);
    if (op.state === 'pending' || op.state === 'running') {
      if (!this.active.has(id)) this.launch(id);
      return this.get(id);
    }
    if (op.state !== 'paused' || !this.opts.repo.transition(id, ['paused'], 'running', { error: null })) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to resume operation ${id}: it is ${op.state}; only a paused operation can be resumed`, { path: '/state' });
    }
    const at = op.error?.stepKey ?? 'its next step';
    this.event({ host: op.error?.host ?? null, kind: 'op.resumed', message: `${id}: resumed by ${actor} at ${at}`, data: { op: id, actor, step: op.error?.stepKey ?? null } });
    this.log.info({ op: id, actor, step: op.error?.stepKey }, 'operation resumed');
    this.launch(id);
    return this.get(id);
  }

  /**
   * Ends the operation as `aborted`: recorded first, then the step in progress is cancelled and
   * given `settleTimeoutMs` to settle (its outcome is recorded). Nothing is torn down. Aborting a
   * finished operation changes nothing.
   */
  async abort(id: string, actor: string): Promise<OperationDocument> {
    const op = this.find(id);
    if (isOperationFinished(op.state)) return this.get(id);
    if (this.opts.repo.transition(id, ['pending', 'running', 'paused'], 'aborted', { ended: true })) {
      this.event({ host: null, kind: 'op.aborted', message: `${id}: ${op.kind} aborted by ${actor} (nothing was torn down)`, data: { op: id, actor } });
      this.log.warn({ op: id, actor }, 'operation aborted');
      this.waiters.notify(id);
    }
    const active = this.active.get(id);
    if (active !== undefined) {
      active.reason ??= 'abort';
      active.abort.abort(new BallastError('BALLAST_ERR_CANCELLED', `operation ${id} was aborted by ${actor}`));
      await settleWithin(active.done, this.opts.settleTimeoutMs ?? 10_000);
    }
    return this.get(id);
  }

  /** The full document; BALLAST_ERR_NOT_FOUND for an unknown id. */
  get(id: string): OperationDocument {
    return operationDocument(this.find(id), this.opts.repo.steps(id));
  }

  /** The newest operations first; only those of `kinds` when given. */
  list(limit: number, kinds?: readonly string[]): OperationListItem[] {
    return this.opts.repo.list(limit, kinds).map((op) => operationListItem(op, this.opts.repo.steps(op.id)));
  }

  /** The stored operation; BALLAST_ERR_NOT_FOUND for an unknown id. */
  find(id: string): OperationRecord {
    const op = this.opts.repo.get(id);
    if (op === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `operation "${id}" does not exist`);
    return op;
  }

  /** Resolves once the operation's seq exceeds `after`, it is not running, `waitMs` passed or `signal` aborted. */
  async waitForChange(id: string, after: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const op = this.find(id);
      const left = deadline - Date.now();
      const still = op.state === 'pending' || op.state === 'running';
      if (op.seq > after || !still || left <= 0 || signal?.aborted === true) return;
      await this.waiters.next(id, left, signal);
    }
  }

  /** Resolves when this process has stopped working on `id` (for tests and shutdown). */
  async idle(id: string): Promise<void> {
    await this.active.get(id)?.done;
  }

  /**
   * Stops working: cancels the steps in progress and leaves them `running` in the store, so the
   * next controller start executes them again — the same as a crash, but prompt.
   */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.active.values()];
    for (const a of all) {
      a.reason ??= 'shutdown';
      a.abort.abort(new BallastError('BALLAST_ERR_CANCELLED', 'the controller is shutting down'));
    }
    await settleWithin(Promise.all(all.map((a) => a.done)), this.opts.settleTimeoutMs ?? 10_000);
  }

  private launch(id: string): void {
    const current = this.active.get(id);
    if (current !== undefined) {
      // A loop that is just winding down (the operation paused a moment ago): start again after it.
      void current.done.then(() => this.closing || this.launch(id));
      return;
    }
    const entry: Active = { abort: new AbortController(), reason: null, done: Promise.resolve() };
    this.active.set(id, entry);
    entry.done = this.drive(id, entry)
      .catch((err: unknown) => {
        // A store failure mid-operation: the persisted state is still consistent (each write is
        // one transaction), so the next start resumes it. Nothing more can be done here.
        this.log.error({ err, op: id }, 'operation loop failed; it resumes at the next controller start');
      })
      .finally(() => {
        this.active.delete(id);
        this.waiters.notify(id);
      });
  }

  private async drive(id: string, entry: Active): Promise<void> {
    // Yield first: start() returns its document before the first step is marked running.
    await Promise.resolve();
    this.opts.repo.transition(id, ['pending'], 'running');
    for (;;) {
      if (entry.abort.signal.aborted) return;
      const op = this.opts.repo.get(id);
      if (op === null || op.state !== 'running') return;
      const step = this.opts.repo.nextStep(id, !op.check);
      if (step === null) return this.finish(op);
      await this.runStep(op, step, entry);
    }
  }

  private finish(op: OperationRecord): void {
    const failed = this.opts.repo.steps(op.id).filter((s) => s.state === 'failed').length;
    const state = op.check && failed > 0 ? 'failed' : 'succeeded';
    if (!this.opts.repo.transition(op.id, ['running'], state, { ended: true })) return;
    const detail = failed > 0 ? ` (${failed} checks failed)` : '';
    this.event({ host: null, kind: 'op.finished', message: `${op.id}: ${op.kind} ${state}${detail}`, data: { op: op.id, state } });
    this.log.info({ op: op.id, state }, 'operation finished');
  }

  private async runStep(op: OperationRecord, step: StepRecord, entry: Active): Promise<void> {
    const log = this.log.child({ op: op.id, step: step.key, host: step.host ?? undefined });
    this.opts.repo.stepStarted(op.id, step.key);
    this.waiters.notify(op.id);
    const attempt = step.attempts + 1;
    log.info({ attempt, check: op.check }, 'step started');
    const began = Date.now();
    const settled = await attemptStep({ executors: this.executors, repo: this.opts.repo, waiters: this.waiters, stepTimeoutMs: this.opts.stepTimeoutMs }, { op, step, attempt, abort: entry.abort.signal, log });
    if (entry.reason === 'shutdown' && !settled.ok) {
      log.info('controller stopping: the step stays running and executes again at the next start');
      return;
    }
    try {
      this.record(op, step, settled, { attempt, began, entry, log });
    } finally {
      this.waiters.notify(op.id);
    }
  }

  /** Persists the outcome of an attempt (with any inserted steps) and reports it. */
  private record(op: OperationRecord, step: StepRecord, settled: Settled, at: { attempt: number; began: number; entry: Active; log: Logger }): void {
    const { attempt, began, entry, log } = at;
    const now = this.opts.repo.get(op.id);
    const aborted = now?.state === 'aborted';
    const took = `${((Date.now() - began) / 1000).toFixed(1)}s`;
    if (settled.ok) {
      const { value } = settled;
      let inserted: PlannedStep[] = [];
      if (!op.check && !aborted && value.insertAfter !== undefined && value.insertAfter.length > 0) {
        try {
          inserted = this.planInsertions(op.id, value.insertAfter);
        } catch (err) {
          this.fail(op, step, errorOf(err), log);
          return;
        }
      }
      const state = value.skipped === true ? 'skipped' : 'succeeded';
      const result = { changed: value.changed, message: value.message, ...(value.data === undefined ? {} : { data: value.data }) };
      this.opts.repo.stepSucceeded(op.id, step.key, state, result, inserted);
      const status = state === 'skipped' ? 'skipped' : value.changed ? 'changed' : 'ok';
      this.event({
        host: step.host,
        kind: 'op.step',
        message: `${op.id} ${op.kind}: [${step.phase}] ${step.title} ${status} (${took})${inserted.length > 0 ? `, ${inserted.length} steps added` : ''}`,
        data: { op: op.id, step: step.key, phase: step.phase, status, attempt },
      });
      log.info({ status, ms: Date.now() - began, inserted: inserted.length }, 'step finished');
    } else if (aborted) {
      const error = isBallastError(entry.abort.signal.reason) ? { code: 'BALLAST_ERR_CANCELLED', message: entry.abort.signal.reason.message } : settled.error;
      this.opts.repo.stepFailed(op.id, step.key, error);
      log.warn({ error }, 'step cancelled by abort');
    } else {
      this.fail(op, step, settled.error, log);
    }
  }

  /** Records a failed step: in check mode the operation moves on; otherwise it pauses. */
  private fail(op: OperationRecord, step: StepRecord, error: StoredStepError, log: Logger): void {
    const where = step.host === null ? '' : ` on ${step.host}`;
    if (op.check) {
      this.opts.repo.stepFailed(op.id, step.key, error);
      this.event({ host: step.host, kind: 'op.step', message: `${op.id} ${op.kind}: [${step.phase}] ${step.title} failed check: ${error.code}: ${error.message}`, data: { op: op.id, step: step.key, status: 'failed' } });
      return;
    }
    this.opts.repo.stepFailed(op.id, step.key, error, { code: error.code, message: error.message, host: step.host, stepKey: step.key });
    this.event({
      host: step.host,
      kind: 'op.paused',
      message: `${op.id} ${op.kind} paused at ${step.key}${where}: ${error.code}: ${error.message} (ballastctl op resume ${op.id}, or abort)`,
      data: { op: op.id, step: step.key, code: error.code },
    });
    log.warn({ error }, 'step failed: operation paused');
  }

  private planInsertions(opId: string, specs: StepSpec[]) {
    const taken = new Set(this.opts.repo.steps(opId).map((s) => s.key));
    return planSteps(specs, { executors: this.executors, taken, base: '/insertAfter', what: 'insert steps' });
  }

  private event(e: NewEvent): void {
    try {
      this.opts.events.append(e);
    } catch (err) {
      // The event log is a view; the operation's own tables are the record. Never fail a step over it.
      this.log.error({ err, kind: e.kind }, 'failed to append operation event');
    }
  }
}

/** Waits for `p` at most `ms`; never rejects. */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}
