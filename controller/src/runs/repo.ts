/**
 * Persistence of runs (tables `runs`, `run_hosts`, `run_results`, migration 3). Every change bumps
 * the run's `seq` in the same transaction, so a reader that saw seq N knows exactly whether anything
 * happened since (the long-poll cursor), and results are keyed by the seq they were recorded at.
 */
import type { Recap, RunHostStatus, RunStatus } from '../../../shared/src/runs-api.js';
import type { TaskResult } from '../../../shared/src/tasks/results.js';
import {
  type HostRow,
  hostFromRow,
  type NewRun,
  type ResultRow,
  resultFromRow,
  type RunHostRecord,
  type RunRecord,
  type RunResultRecord,
  RUN_STORED_SUCCESS,
  type RunRow,
  runFromRow,
  type StoredError,
  type StoredPlanTask,
} from './records.js';
import type { Database } from '../store/db.js';
import { Journal, stateToColumn } from '../store/journal.js';

/** Reads and writes the run tables. */
export class RunRepo {
  readonly #j: Journal;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#j = new Journal({
      db,
      ...(options.now === undefined ? {} : { now: options.now }),
      bumpSql: 'UPDATE runs SET seq = seq + 1 WHERE id = ? RETURNING seq',
      bumpArgs: (id) => [id],
      notFound: (id) => new Error(`run ${id} does not exist`),
    });
  }

  /** Stores a new run (status running) and its hosts (pending) in one transaction. */
  create(run: NewRun): void {
    const insertRun = this.#j.q(
      `INSERT INTO runs (id, role, check_mode, diff_mode, vars_json, status, created_at, created_by, seq)
       VALUES (?, ?, ?, ?, ?, 'running', ?, ?, 0)`,
    );
    const insertHost = this.#j.q(
      `INSERT INTO run_hosts (run_id, host_name, host_id, position, status, plan_json) VALUES (?, ?, ?, ?, 'pending', ?)`,
    );
    this.#j.db.transaction(() => {
      insertRun.run(run.id, run.role, run.check ? 1 : 0, run.diff ? 1 : 0, JSON.stringify(run.vars), this.#j.now(), run.createdBy);
      run.hosts.forEach((h, i) => {
        insertHost.run(run.id, h.name, h.hostId, i, JSON.stringify(h.plan));
      });
    })();
  }

  /** The run, or null. */
  get(id: string): RunRecord | null {
    const row = this.#j.q<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id);
    return row === undefined ? null : runFromRow(row);
  }

  /** The newest runs first. */
  list(limit: number): RunRecord[] {
    return this.#j.q<[number], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit).map(runFromRow);
  }

  /** A run's hosts in the order they were given. */
  hosts(runId: string): RunHostRecord[] {
    return this.#j.q<[string], HostRow>('SELECT * FROM run_hosts WHERE run_id = ? ORDER BY position')
      .all(runId)
      .map(hostFromRow);
  }

  /** A run's results with seq > `after`, oldest first. */
  results(runId: string, after = 0, limit = -1): RunResultRecord[] {
    return this.#j.q<[string, number, number], ResultRow>('SELECT * FROM run_results WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(runId, after, limit)
      .map(resultFromRow);
  }

  /** The host's req.run is about to be sent. Returns the new seq. */
  hostStarted(runId: string, host: string): number {
    return this.#j.change(runId, () => {
      this.#j.q(`UPDATE run_hosts SET status = 'running', started_at = ? WHERE run_id = ? AND host_name = ?`).run(this.#j.now(), runId, host);
    });
  }

  /** The agent reported a task as started. */
  taskStarted(runId: string, host: string, current: StoredPlanTask): number {
    return this.#j.change(runId, () => {
      this.#j.q('UPDATE run_hosts SET current_json = ? WHERE run_id = ? AND host_name = ?').run(JSON.stringify(current), runId, host);
    });
  }

  /** The agent reported a task as finished: stores the result under the new seq and counts it. */
  taskFinished(runId: string, host: string, task: StoredPlanTask, result: TaskResult): number {
    return this.#j.change(runId, (seq) => {
      this.#j.q('INSERT INTO run_results (run_id, seq, host_name, phase, idx, name, module, status, result_json, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(runId, seq, host, task.phase, task.index, task.name, task.module, result.status, JSON.stringify(result), this.#j.now());
      // The column name comes from the closed TaskStatus union, never from input text.
      this.#j.q(`UPDATE run_hosts SET ${result.status} = ${result.status} + 1, current_json = NULL WHERE run_id = ? AND host_name = ?`)
        .run(runId, host);
    });
  }

  /** The host's part ended; `recap` (the agent's summary) replaces the counted one when given. */
  hostFinished(runId: string, host: string, outcome: { status: RunHostStatus; recap?: Recap; summary?: unknown; error?: StoredError }): number {
    return this.#j.change(runId, () => {
      this.#j.q('UPDATE run_hosts SET status = ?, finished_at = ?, current_json = NULL, summary_json = ?, error_json = ? WHERE run_id = ? AND host_name = ?')
        .run(
          stateToColumn(outcome.status, RUN_STORED_SUCCESS),
          this.#j.now(),
          outcome.summary === undefined ? null : JSON.stringify(outcome.summary),
          outcome.error === undefined ? null : JSON.stringify(outcome.error),
          runId,
          host,
        );
      if (outcome.recap !== undefined) {
        const { ok, changed, failed, skipped } = outcome.recap;
        this.#j.q('UPDATE run_hosts SET ok = ?, changed = ?, failed = ?, skipped = ? WHERE run_id = ? AND host_name = ?')
          .run(ok, changed, failed, skipped, runId, host);
      }
    });
  }

  /** Someone asked to cancel the run. */
  cancelRequested(runId: string, by: string): number {
    return this.#j.change(runId, () => {
      this.#j.q('UPDATE runs SET cancel_requested_by = ? WHERE id = ? AND cancel_requested_by IS NULL').run(by, runId);
    });
  }

  /** The run ended with `status`. */
  runFinished(runId: string, status: RunStatus): number {
    return this.#j.change(runId, () => {
      this.#j.q('UPDATE runs SET status = ?, finished_at = ? WHERE id = ?').run(stateToColumn(status, RUN_STORED_SUCCESS), this.#j.now(), runId);
    });
  }

  /** Hosts of runs still `running` whose part had not finished (what {@link interruptRunning} is about to mark). */
  unfinishedHosts(): { runId: string; hostName: string }[] {
    return this.#j.q<[], { runId: string; hostName: string }>(
      `SELECT h.run_id AS runId, h.host_name AS hostName FROM run_hosts h JOIN runs r ON r.id = h.run_id
        WHERE r.status = 'running' AND h.status = 'running'`,
    ).all();
  }

  /**
   * Marks every run still `running` (and its unfinished hosts) as `interrupted`: called at start,
   * when no run can be in flight in this process. Returns the ids of the runs it marked.
   */
  interruptRunning(): string[] {
    return this.#j.db.transaction(() => {
      const ids = this.#j.q<[], string>(`SELECT id FROM runs WHERE status = 'running'`).pluck().all();
      const now = this.#j.now();
      const error = JSON.stringify({ code: 'BALLAST_ERR_PEER_GONE', message: 'the controller stopped while the run was in flight' });
      for (const id of ids) {
        this.#j.q(`UPDATE run_hosts SET status = 'interrupted', finished_at = ?, current_json = NULL, error_json = ? WHERE run_id = ? AND status IN ('pending', 'running')`)
          .run(now, error, id);
        this.#j.q(`UPDATE runs SET status = 'interrupted', finished_at = ?, seq = seq + 1 WHERE id = ?`).run(now, id);
      }
      return ids;
    })();
  }

  /** Deletes the oldest finished runs beyond the newest `keep`. Returns how many were deleted. */
  prune(keep: number): number {
    return this.#j.q<[number]>(
        `DELETE FROM runs WHERE status != 'running' AND id IN (
           SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)`,
      )
      .run(keep).changes;
  }
}
