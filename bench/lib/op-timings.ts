/**
 * Where an operation's time went, for the lab benches (kube-bootstrap, recover-rto): each step's
 * wall time from its document and, for steps that ran roles, every host's runs and its three
 * slowest tasks (`ballastctl run ID`). A step that records its run ids (`data.runs`: the
 * bootstrap's) is read from them; one that does not (the recovery's role steps) from the runs the
 * operation created (`createdBy` is its id) within the step's start and end.
 */
import type { OperationDocument } from '../../shared/src/ops-api.js';
import type { RunDocument, RunListResponse } from '../../shared/src/runs-api.js';
import type { Lab } from '../../test/lab/tool/lab.js';

/** One step's wall time, with the per-host detail of role runs. */
export interface StepTiming {
  key: string;
  ms: number;
  /** Per host, for steps that ran roles: each run's role and wall time, then the host's three slowest tasks (ms). */
  hosts?: Record<string, { runs: string[]; slowest: string[] }>;
  /** Per host, every task of the step's runs with its start and end (epoch ms; a result's `at` is when it finished). */
  tasks?: Record<string, { name: string; module: string; startMs: number; endMs: number }[]>;
}

/** Each step's wall time and, for role runs, every host's runs and slowest tasks. */
export async function stepTimings(lab: Lab, doc: OperationDocument): Promise<StepTiming[]> {
  const out: StepTiming[] = [];
  const listed = await lab.ctlJson<RunListResponse>(['runs', '--limit', '1000', '-o', 'json']);
  const created = listed.items.filter((r) => r.createdBy === doc.id);
  for (const s of doc.steps) {
    if (s.startedAt === null || s.endedAt === null) continue;
    const [from, to] = [Date.parse(s.startedAt), Date.parse(s.endedAt)];
    const timing: StepTiming = { key: s.key, ms: to - from };
    const recorded = (s.data as { runs?: unknown } | undefined)?.runs;
    const runs = Array.isArray(recorded) ? recorded : created.filter((r) => Date.parse(r.createdAt) >= from && Date.parse(r.createdAt) <= to).map((r) => r.id);
    if (runs.length > 0) {
      const hosts: Record<string, { runs: string[]; tasks: { name: string; ms: number }[] }> = {};
      const tasks: NonNullable<StepTiming['tasks']> = {};
      for (const id of runs.filter((r): r is string => typeof r === 'string')) {
        const run = await lab.ctlJson<RunDocument>(['run', id, '-o', 'json']);
        for (const h of run.hosts) {
          const entry = hosts[h.name] ?? { runs: [], tasks: [] };
          hosts[h.name] = entry;
          const ms = h.startedAt !== null && h.finishedAt !== null ? Date.parse(h.finishedAt) - Date.parse(h.startedAt) : Number.NaN;
          entry.runs.push(`${run.role}: ${Math.round(ms)}`);
          entry.tasks.push(...h.results.map((t) => ({ name: t.name, ms: t.durationMs })));
          tasks[h.name] = [...(tasks[h.name] ?? []), ...h.results.map((t) => ({ name: t.name, module: t.module, startMs: Date.parse(t.at) - t.durationMs, endMs: Date.parse(t.at) }))];
        }
      }
      timing.hosts = Object.fromEntries(
        Object.entries(hosts).map(([name, h]) => [
          name,
          { runs: h.runs, slowest: [...h.tasks].sort((a, b) => b.ms - a.ms).slice(0, 3).map((t) => `${t.name}: ${Math.round(t.ms)}`) },
        ]),
      );
      timing.tasks = tasks;
    }
    out.push(timing);
  }
  return out;
}

/** Each phase's span (first step start → last step end), null for a phase without timed steps. */
export function phaseSpans(doc: OperationDocument, phases: readonly string[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const phase of phases) {
    const steps = doc.steps.filter((s) => s.phase === phase && s.startedAt !== null && s.endedAt !== null);
    out[phase] = steps.length === 0 ? null : Math.max(...steps.map((s) => Date.parse(s.endedAt as string))) - Math.min(...steps.map((s) => Date.parse(s.startedAt as string)));
  }
  return out;
}
