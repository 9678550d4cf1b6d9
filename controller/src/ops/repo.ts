/**
 * Persistence of operations (tables `operations`, `operation_steps`, migration 5). Every change
 * bumps the operation's `seq` and `updated_at` in the same transaction, so a reader that saw seq N
 * knows whether anything happened since (the long-poll cursor), and each step row remembers the
 * seq of its last change. Every state change the engine makes is one transaction: a SIGKILL leaves
 * either the state before or the state after it, never half of it.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { OperationError, OperationState } from '../../../shared/src/ops-api.js';
import type { Database } from '../store/db.js';
import { Journal, stateToColumn } from '../store/journal.js';
import {
  type NewOperation,
  type OperationRecord,
  type OperationRow,
  operationFromRow,
  type PlannedStep,
  type StepRecord,
  STEP_STORED_SUCCESS,
  type StepRow,
  type StoredStepError,
  type StoredStepResult,
  stepFromRow,
} from './records.js';

/** States in which an operation holds its cluster (only one such operation per cluster). */
export const HOLDING_STATES: readonly OperationState[] = ['pending', 'running', 'paused'];

/** Reads and writes the operation tables. */
export class OperationRepo {
  readonly #j: Journal;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#j = new Journal({
      db,
      ...(options.now === undefined ? {} : { now: options.now }),
      // Every change also stamps updated_at, the list's "last activity".
      bumpSql: 'UPDATE operations SET seq = seq + 1, updated_at = ? WHERE id = ? RETURNING seq',
      bumpArgs: (id, now) => [now, id],
      notFound: (id) => new BallastError('BALLAST_ERR_NOT_FOUND', `operation "${id}" does not exist`),
    });
  }

  /**
   * Stores a new operation (state pending) and its whole plan in one transaction. Throws
   * BALLAST_ERR_RUN_BUSY naming the unfinished operation when the cluster already has one.
   */
  create(op: NewOperation): void {
    this.#j.db.transaction(() => {
      if (op.cluster !== null) {
        const holder = this.holderOf(op.cluster);
        if (holder !== null) {
          throw new BallastError(
            'BALLAST_ERR_RUN_BUSY',
            `failed to start operation ${op.kind} on cluster "${op.cluster}": operation ${holder.id} (${holder.kind}) is ${holder.state}; ` +
              `resume it or abort it first (ballastctl op ${holder.id})`,
            { path: '/cluster' },
          );
        }
      }
      const now = this.#j.now();
      this.#j.q(
        `INSERT INTO operations (id, kind, cluster, state, check_mode, input_json, created_by, created_at, updated_at, seq)
         VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, 0)`,
      ).run(op.id, op.kind, op.cluster, op.check ? 1 : 0, JSON.stringify(op.input), op.createdBy, now, now);
      op.steps.forEach((s, i) => {
        this.#insertStep(op.id, i, s, 0);
      });
    })();
  }

  /** The unfinished operation holding `cluster`, or null. */
  holderOf(cluster: string): OperationRecord | null {
    const row = this.#j.q<[string], OperationRow>(
      `SELECT * FROM operations WHERE cluster = ? AND state IN ('pending', 'running', 'paused') LIMIT 1`,
    ).get(cluster);
    return row === undefined ? null : operationFromRow(row);
  }

  /** The operation, or null. */
  get(id: string): OperationRecord | null {
    const row = this.#j.q<[string], OperationRow>('SELECT * FROM operations WHERE id = ?').get(id);
    return row === undefined ? null : operationFromRow(row);
  }

  /** The newest operations first; only those of `kinds` when given (filtered in SQL, so the limit counts matches). */
  list(limit: number, kinds?: readonly string[]): OperationRecord[] {
    if (kinds === undefined) {
      return this.#j.q<[number], OperationRow>('SELECT * FROM operations ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit).map(operationFromRow);
    }
    if (kinds.length === 0) return [];
    const marks = kinds.map(() => '?').join(', ');
    return this.#j.q<unknown[], OperationRow>(`SELECT * FROM operations WHERE kind IN (${marks}) ORDER BY created_at DESC, rowid DESC LIMIT ?`)
      .all(...kinds, limit)
      .map(operationFromRow);
  }

  /** Ids of operations the engine should be working on (pending or running), oldest first. */
  activeIds(): string[] {
    return this.#j.q<[], string>(`SELECT id FROM operations WHERE state IN ('pending', 'running') ORDER BY created_at, rowid`)
      .pluck()
      .all();
  }

  /** An operation's steps in plan order. */
  steps(opId: string): StepRecord[] {
    return this.#j.q<[string], StepRow>('SELECT * FROM operation_steps WHERE op_id = ? ORDER BY idx').all(opId).map(stepFromRow);
  }

  /** One step by key, or null. */
  step(opId: string, key: string): StepRecord | null {
    const row = this.#j.q<[string, string], StepRow>('SELECT * FROM operation_steps WHERE op_id = ? AND key = ?').get(opId, key);
    return row === undefined ? null : stepFromRow(row);
  }

  /**
   * The step to work on next: the first one not finished. A `running` one was interrupted by a
   * restart and runs again; a `failed` one runs again after resume — except in check mode, which
   * records failed checks and moves on.
   */
  nextStep(opId: string, retryFailed: boolean): StepRecord | null {
    const states = retryFailed ? `('pending', 'running', 'failed')` : `('pending', 'running')`;
    const row = this.#j.q<[string], StepRow>(`SELECT * FROM operation_steps WHERE op_id = ? AND state IN ${states} ORDER BY idx LIMIT 1`).get(opId);
    return row === undefined ? null : stepFromRow(row);
  }

  /**
   * Moves the operation from one of `from` to `to` (and sets or clears its error and end time).
   * Returns false, changing nothing, when it was in another state: transitions are compare-and-set,
   * so an abort that landed first is never overwritten by the engine.
   */
  transition(opId: string, from: readonly OperationState[], to: OperationState, fields: { error?: OperationError | null; ended?: boolean } = {}): boolean {
    return this.#j.db.transaction(() => {
      const op = this.get(opId);
      if (op === null || !from.includes(op.state)) return false;
      this.#j.change(opId, () => {
        const error = fields.error === undefined ? op.error : fields.error;
        this.#j.q('UPDATE operations SET state = ?, error_json = ?, ended_at = ? WHERE id = ?').run(
          to,
          error === null ? null : JSON.stringify(error),
          fields.ended === true ? this.#j.now() : op.endedAt,
          opId,
        );
      });
      return true;
    })();
  }

  /** Persisted before the executor is called: the step is running, one more attempt. */
  stepStarted(opId: string, key: string): number {
    return this.#j.change(opId, (seq) => {
      this.#j.q(
        `UPDATE operation_steps SET state = 'running', attempts = attempts + 1, started_at = ?, ended_at = NULL,
           result_json = NULL, error_json = NULL, progress = NULL, seq = ? WHERE op_id = ? AND key = ?`,
      ).run(this.#j.now(), seq, opId, key);
    });
  }

  /** The running step's latest progress message. */
  stepProgress(opId: string, key: string, message: string): number {
    return this.#j.change(opId, (seq) => {
      this.#j.q(`UPDATE operation_steps SET progress = ?, seq = ? WHERE op_id = ? AND key = ? AND state = 'running'`).run(message, seq, opId, key);
    });
  }

  /**
   * Persisted after the executor returned: the step succeeded (or was skipped), and the steps it asked
   * for are inserted right after it, in the same transaction — a crash cannot keep one without the other.
   */
  stepSucceeded(opId: string, key: string, state: 'succeeded' | 'skipped', result: StoredStepResult, insertAfter: readonly PlannedStep[] = []): number {
    return this.#j.change(opId, (seq) => {
      const idx = this.#j.q<[string, string], number>('SELECT idx FROM operation_steps WHERE op_id = ? AND key = ?').pluck().get(opId, key);
      if (idx === undefined) throw new Error(`step ${key} of operation ${opId} does not exist`);
      this.#j.q('UPDATE operation_steps SET state = ?, ended_at = ?, result_json = ?, error_json = NULL, progress = NULL, seq = ? WHERE op_id = ? AND key = ?')
        .run(stateToColumn(state, STEP_STORED_SUCCESS), this.#j.now(), JSON.stringify(result), seq, opId, key);
      if (insertAfter.length === 0) return;
      // Two passes through negative positions: a single `idx = idx + n` would collide with the
      // primary key of the rows not yet moved.
      const n = insertAfter.length;
      this.#j.q('UPDATE operation_steps SET idx = -(idx + ?) WHERE op_id = ? AND idx > ?').run(n, opId, idx);
      this.#j.q('UPDATE operation_steps SET idx = -idx WHERE op_id = ? AND idx < 0').run(opId);
      insertAfter.forEach((s, i) => {
        this.#insertStep(opId, idx + 1 + i, s, seq);
      });
    });
  }

  /** Persisted after the executor failed: the step failed with `error`; `pause`, if given, pauses the operation too. */
  stepFailed(opId: string, key: string, error: StoredStepError, pause?: OperationError): number {
    return this.#j.change(opId, (seq) => {
      this.#j.q(`UPDATE operation_steps SET state = 'failed', ended_at = ?, error_json = ?, progress = NULL, seq = ? WHERE op_id = ? AND key = ?`)
        .run(this.#j.now(), JSON.stringify(error), seq, opId, key);
      if (pause !== undefined) {
        this.#j.q(`UPDATE operations SET state = 'paused', error_json = ? WHERE id = ? AND state = 'running'`).run(JSON.stringify(pause), opId);
      }
    });
  }

  /**
   * Steps left `running` in operations the engine will not resume (paused, aborted, ended): a
   * controller stopped while such a step's executor was still settling. Marks them failed with
   * `error` and returns how many. Called at start, when no step can be in flight in this process.
   */
  failOrphanedSteps(error: StoredStepError): number {
    return this.#j.db.transaction(() => {
      const rows = this.#j.q<[], { op_id: string; key: string }>(
        `SELECT s.op_id, s.key FROM operation_steps s JOIN operations o ON o.id = s.op_id
         WHERE s.state = 'running' AND o.state NOT IN ('pending', 'running')`,
      ).all();
      for (const r of rows) {
        this.#j.change(r.op_id, (seq) => {
          this.#j.q(`UPDATE operation_steps SET state = 'failed', ended_at = ?, error_json = ?, progress = NULL, seq = ? WHERE op_id = ? AND key = ?`)
            .run(this.#j.now(), JSON.stringify(error), seq, r.op_id, r.key);
        });
      }
      return rows.length;
    })();
  }

  #insertStep(opId: string, idx: number, s: PlannedStep, seq: number): void {
    this.#j.q(
      `INSERT INTO operation_steps (op_id, idx, phase, key, host, title, kind, args_json, timeout_ms, state, attempts, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)`,
    ).run(opId, idx, s.phase, s.key, s.host, s.title, s.kind, JSON.stringify(s.args), s.timeoutMs, seq);
  }
}
