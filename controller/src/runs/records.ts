/**
 * The shapes of stored runs (records the orchestrator works with) and their SQLite rows.
 */
import type { Recap, RunHostStatus, RunStatus } from '../../../shared/src/runs-api.js';
import type { TaskResult } from '../../../shared/src/tasks/results.js';
import { parseJsonOrNull, type StoredError, type StoredState, stateFromColumn } from '../store/journal.js';

/** How `runs.status` and `run_hosts.status` spell `succeeded` (migration 3; see store/journal.ts). */
export const RUN_STORED_SUCCESS = 'ok';

/** A task of a host's plan as stored; `sensitive` tasks get their diffs hidden. */
export interface StoredPlanTask {
  phase: 'task' | 'handler';
  index: number;
  name: string;
  module: string;
  sensitive?: boolean;
}

/** A run as stored; times are ms since the epoch. */
export interface RunRecord {
  id: string;
  role: string;
  check: boolean;
  diff: boolean;
  vars: Record<string, unknown>;
  status: RunStatus;
  createdAt: number;
  createdBy: string;
  finishedAt: number | null;
  cancelRequestedBy: string | null;
  seq: number;
}

/** A coded error as stored for a host that failed outside any task. */
export type { StoredError };

/** One host of a run as stored. */
export interface RunHostRecord {
  runId: string;
  name: string;
  hostId: string;
  status: RunHostStatus;
  plan: StoredPlanTask[];
  startedAt: number | null;
  finishedAt: number | null;
  current: StoredPlanTask | null;
  recap: Recap;
  error: StoredError | null;
}

/** One finished task as stored. */
export interface RunResultRecord {
  seq: number;
  host: string;
  phase: 'task' | 'handler';
  index: number;
  name: string;
  module: string;
  result: TaskResult;
  ts: number;
}

/** What {@link RunRepo.create} stores. */
export interface NewRun {
  id: string;
  role: string;
  check: boolean;
  diff: boolean;
  vars: Record<string, unknown>;
  createdBy: string;
  hosts: Array<{ name: string; hostId: string; plan: StoredPlanTask[] }>;
}

/** A `runs` row. */
export interface RunRow {
  id: string;
  role: string;
  check_mode: number;
  diff_mode: number;
  vars_json: string;
  status: StoredState<RunStatus, typeof RUN_STORED_SUCCESS>;
  created_at: number;
  created_by: string;
  finished_at: number | null;
  cancel_requested_by: string | null;
  seq: number;
}

/** A `run_hosts` row. */
export interface HostRow {
  run_id: string;
  host_name: string;
  host_id: string;
  status: StoredState<RunHostStatus, typeof RUN_STORED_SUCCESS>;
  plan_json: string;
  started_at: number | null;
  finished_at: number | null;
  current_json: string | null;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  error_json: string | null;
}

/** A `run_results` row. */
export interface ResultRow {
  seq: number;
  host_name: string;
  phase: 'task' | 'handler';
  idx: number;
  name: string;
  module: string;
  result_json: string;
  ts: number;
}

/** Row → record. */
export const runFromRow = (r: RunRow): RunRecord => ({
  id: r.id,
  role: r.role,
  check: r.check_mode === 1,
  diff: r.diff_mode === 1,
  vars: JSON.parse(r.vars_json) as Record<string, unknown>,
  status: stateFromColumn<RunStatus, typeof RUN_STORED_SUCCESS>(r.status, RUN_STORED_SUCCESS),
  createdAt: r.created_at,
  createdBy: r.created_by,
  finishedAt: r.finished_at,
  cancelRequestedBy: r.cancel_requested_by,
  seq: r.seq,
});

/** Row → record. */
export const hostFromRow = (r: HostRow): RunHostRecord => ({
  runId: r.run_id,
  name: r.host_name,
  hostId: r.host_id,
  status: stateFromColumn<RunHostStatus, typeof RUN_STORED_SUCCESS>(r.status, RUN_STORED_SUCCESS),
  plan: JSON.parse(r.plan_json) as StoredPlanTask[],
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  current: parseJsonOrNull<StoredPlanTask>(r.current_json),
  recap: { ok: r.ok, changed: r.changed, failed: r.failed, skipped: r.skipped },
  error: parseJsonOrNull<StoredError>(r.error_json),
});

/** Row → record. */
export const resultFromRow = (r: ResultRow): RunResultRecord => ({
  seq: r.seq,
  host: r.host_name,
  phase: r.phase,
  index: r.idx,
  name: r.name,
  module: r.module,
  result: JSON.parse(r.result_json) as TaskResult,
  ts: r.ts,
});
