/**
 * Stored records → the API shapes of shared/src/runs-api.ts. Pure functions; the one place that
 * decides how a run looks on the wire.
 */
import type {
  PlannedTask,
  Recap,
  RunDocument,
  RunHostState,
  RunListItem,
  RunProgress,
  RunTaskResult,
} from '../../../shared/src/runs-api.js';
import { iso, isoOrNull } from '../store/journal.js';
import type { RunHostRecord, RunRecord, RunResultRecord, StoredPlanTask } from './records.js';

/** A plan entry without the internal `sensitive` marker. */
export function plannedTask(t: StoredPlanTask): PlannedTask {
  return { phase: t.phase, index: t.index, name: t.name, module: t.module };
}

/** One stored result as the API shows it. */
export function taskResultOut(r: RunResultRecord): RunTaskResult {
  const out: RunTaskResult = {
    seq: r.seq,
    host: r.host,
    phase: r.phase,
    index: r.index,
    name: r.name,
    module: r.module,
    status: r.result.status,
    durationMs: r.result.durationMs,
    diff: r.result.diff,
    message: r.result.message,
    notified: r.result.notified,
    at: iso(r.ts),
  };
  if (r.result.error !== undefined) out.error = r.result.error;
  return out;
}

/** A host's state without results. */
export function hostStateOut(h: RunHostRecord): RunHostState {
  return {
    name: h.name,
    status: h.status,
    startedAt: isoOrNull(h.startedAt),
    finishedAt: isoOrNull(h.finishedAt),
    current: h.current === null ? null : plannedTask(h.current),
    recap: h.recap,
    error: h.error,
  };
}

/** Sum of the hosts' recaps. */
export function totalRecap(hosts: readonly { recap: Recap }[]): Recap {
  const total: Recap = { ok: 0, changed: 0, failed: 0, skipped: 0 };
  for (const { recap } of hosts) {
    total.ok += recap.ok;
    total.changed += recap.changed;
    total.failed += recap.failed;
    total.skipped += recap.skipped;
  }
  return total;
}

function header(run: RunRecord, hosts: readonly RunHostRecord[]) {
  return {
    id: run.id,
    role: run.role,
    check: run.check,
    diff: run.diff,
    status: run.status,
    createdAt: iso(run.createdAt),
    createdBy: run.createdBy,
    finishedAt: isoOrNull(run.finishedAt),
    cancelRequestedBy: run.cancelRequestedBy,
    seq: run.seq,
    recap: totalRecap(hosts),
  };
}

/** The full document: per host, its plan and every result. */
export function runDocument(run: RunRecord, hosts: readonly RunHostRecord[], results: readonly RunResultRecord[]): RunDocument {
  const byHost = new Map<string, RunTaskResult[]>(hosts.map((h) => [h.name, []]));
  for (const r of results) byHost.get(r.host)?.push(taskResultOut(r));
  return {
    ...header(run, hosts),
    vars: run.vars,
    hosts: hosts.map((h) => ({ ...hostStateOut(h), plan: h.plan.map(plannedTask), results: byHost.get(h.name) ?? [] })),
  };
}

/** Progress: the header, host states and the given (newer) results. */
export function runProgress(run: RunRecord, hosts: readonly RunHostRecord[], results: readonly RunResultRecord[]): RunProgress {
  return { ...header(run, hosts), hosts: hosts.map(hostStateOut), results: results.map(taskResultOut) };
}

/** A list entry. */
export function runListItem(run: RunRecord, hosts: readonly RunHostRecord[]): RunListItem {
  return { ...header(run, hosts), hosts: hosts.map((h) => h.name) };
}
