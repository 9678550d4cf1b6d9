/**
 * The shapes of stored operations and steps (records the engine works with) and their SQLite rows
 * (tables `operations` and `operation_steps`, migration 5).
 */
import type { OperationError, OperationState, StepState } from '../../../shared/src/ops-api.js';
import { parseJsonOrNull, type StoredError, type StoredState, stateFromColumn } from '../store/journal.js';

/** How `operation_steps.state` spells `succeeded` (migration 5; see store/journal.ts). */
export const STEP_STORED_SUCCESS = 'done';

/** A coded error as stored for a step (the same shape as a run host's). */
export type StoredStepError = StoredError;

/** What a finished step returned, as stored. */
export interface StoredStepResult {
  changed: boolean;
  message: string;
  data?: unknown;
}

/** An operation as stored; times are ms since the epoch. */
export interface OperationRecord {
  id: string;
  kind: string;
  cluster: string | null;
  state: OperationState;
  check: boolean;
  /** The input as stored: secrets already redacted by the kind. */
  input: Record<string, unknown>;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  error: OperationError | null;
  seq: number;
}

/** A step ready to store: validated, with its kind's executor known to exist. */
export interface PlannedStep {
  key: string;
  phase: string;
  host: string | null;
  title: string;
  kind: string;
  args: Record<string, unknown>;
  timeoutMs: number | null;
}

/** A step as stored. `idx` is its position now; `key` is its identity (stable across insertions). */
export interface StepRecord extends PlannedStep {
  opId: string;
  idx: number;
  state: StepState;
  attempts: number;
  startedAt: number | null;
  endedAt: number | null;
  result: StoredStepResult | null;
  error: StoredStepError | null;
  progress: string | null;
  seq: number;
}

/** What {@link OperationRepo.create} stores. */
export interface NewOperation {
  id: string;
  kind: string;
  cluster: string | null;
  check: boolean;
  input: Record<string, unknown>;
  createdBy: string;
  steps: readonly PlannedStep[];
}

/** An `operations` row (created with `succeeded` already: no translation). */
export interface OperationRow {
  id: string;
  kind: string;
  cluster: string | null;
  state: OperationState;
  check_mode: number;
  input_json: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  error_json: string | null;
  seq: number;
}

/** An `operation_steps` row. */
export interface StepRow {
  op_id: string;
  idx: number;
  phase: string;
  key: string;
  host: string | null;
  title: string;
  kind: string;
  args_json: string;
  timeout_ms: number | null;
  state: StoredState<StepState, typeof STEP_STORED_SUCCESS>;
  attempts: number;
  started_at: number | null;
  ended_at: number | null;
  result_json: string | null;
  error_json: string | null;
  progress: string | null;
  seq: number;
}

/** Row → record. */
export const operationFromRow = (r: OperationRow): OperationRecord => ({
  id: r.id,
  kind: r.kind,
  cluster: r.cluster,
  state: r.state,
  check: r.check_mode === 1,
  input: JSON.parse(r.input_json) as Record<string, unknown>,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  endedAt: r.ended_at,
  error: parseJsonOrNull<OperationError>(r.error_json),
  seq: r.seq,
});

/** Row → record. */
export const stepFromRow = (r: StepRow): StepRecord => ({
  opId: r.op_id,
  idx: r.idx,
  phase: r.phase,
  key: r.key,
  host: r.host,
  title: r.title,
  kind: r.kind,
  args: JSON.parse(r.args_json) as Record<string, unknown>,
  timeoutMs: r.timeout_ms,
  state: stateFromColumn<StepState, typeof STEP_STORED_SUCCESS>(r.state, STEP_STORED_SUCCESS),
  attempts: r.attempts,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  result: parseJsonOrNull<StoredStepResult>(r.result_json),
  error: parseJsonOrNull<StoredStepError>(r.error_json),
  progress: r.progress,
  seq: r.seq,
});
