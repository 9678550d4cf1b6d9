/**
 * Stored records → the API shapes of shared/src/ops-api.ts. Pure functions; the one place that
 * decides how an operation looks on the wire. Step args are not shown (like run plans): they stay
 * on the controller.
 */
import type {
  OperationCurrent,
  OperationDocument,
  OperationListItem,
  OperationStep,
} from '../../../shared/src/ops-api.js';
import { iso, isoOrNull } from '../store/journal.js';
import type { OperationRecord, StepRecord } from './records.js';

/** One step as the API shows it. */
export function stepOut(s: StepRecord): OperationStep {
  const out: OperationStep = {
    idx: s.idx,
    key: s.key,
    phase: s.phase,
    host: s.host,
    title: s.title,
    kind: s.kind,
    state: s.state,
    attempts: s.attempts,
    startedAt: isoOrNull(s.startedAt),
    endedAt: isoOrNull(s.endedAt),
    durationMs: s.startedAt !== null && s.endedAt !== null ? Math.max(0, s.endedAt - s.startedAt) : null,
    changed: s.result === null ? null : s.result.changed,
    message: s.result?.message ?? s.error?.message ?? '',
    progress: s.progress,
    error: s.error,
    seq: s.seq,
  };
  if (s.result?.data !== undefined) out.data = s.result.data;
  return out;
}

/**
 * The step the operation is at: the first one not finished. In check mode a failed check is
 * finished (the operation moved on); otherwise a failed step is where a paused operation stands.
 */
export function currentStep(op: OperationRecord, steps: readonly StepRecord[]): StepRecord | null {
  return steps.find((s) => s.state === 'pending' || s.state === 'running' || (s.state === 'failed' && !op.check)) ?? null;
}

function currentOut(s: StepRecord | null): OperationCurrent | null {
  if (s === null) return null;
  return { key: s.key, phase: s.phase, host: s.host, title: s.title, state: s.state, attempts: s.attempts, startedAt: isoOrNull(s.startedAt), progress: s.progress };
}

/** The header shared by documents and list items. */
export function operationListItem(op: OperationRecord, steps: readonly StepRecord[]): OperationListItem {
  return {
    id: op.id,
    kind: op.kind,
    cluster: op.cluster,
    state: op.state,
    check: op.check,
    createdBy: op.createdBy,
    createdAt: iso(op.createdAt),
    updatedAt: iso(op.updatedAt),
    endedAt: isoOrNull(op.endedAt),
    error: op.error,
    seq: op.seq,
    progress: { done: steps.filter((s) => s.state === 'succeeded' || s.state === 'skipped').length, total: steps.length },
    current: currentOut(currentStep(op, steps)),
  };
}

/** The full document: header, input and every step. */
export function operationDocument(op: OperationRecord, steps: readonly StepRecord[]): OperationDocument {
  return { ...operationListItem(op, steps), input: op.input, steps: steps.map(stepOut) };
}
