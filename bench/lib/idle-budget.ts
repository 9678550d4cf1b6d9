/**
 * The agent's idle memory budget (issue 15: "a CI guard that fails if the idle RSS regresses by
 * more than 10% over the committed baseline"). The baseline (bench/baselines/agent-idle.json) holds
 * one figure per runtime — the packaged runtime a user runs, and the development node — because
 * the two differ by tens of MB and a guard must compare like with like. A runtime without a
 * baseline fails the check with the command that records one: a silently skipped guard is no guard.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** One runtime's committed figure. */
export const IdleBaselineSchema = Type.Object({
  rssMbMedian: Type.Number({ exclusiveMinimum: 0 }),
  measuredAt: Type.String(),
  command: Type.String(),
  nodeVersion: Type.String(),
  nodeFlags: Type.Array(Type.String()),
});

/** bench/baselines/agent-idle.json. */
export const IdleBaselineFileSchema = Type.Object({
  /** Allowed growth over the baseline, as a fraction (0.10 = 10 %). */
  tolerance: Type.Number({ minimum: 0, maximum: 1 }),
  baselines: Type.Record(Type.String(), IdleBaselineSchema),
});
export type IdleBaselineFile = Static<typeof IdleBaselineFileSchema>;

/** The part of bench/agent-idle's JSON the check reads. */
export interface IdleMeasurement {
  runtime: { kind: string; version: string };
  rssMbMedian: number;
}

/** The baseline key of a runtime: `packaged-node24`, `current-node20`. */
export function baselineKey(runtime: IdleMeasurement['runtime']): string {
  const major = /^v?(\d+)\./.exec(runtime.version)?.[1] ?? runtime.version;
  return `${runtime.kind}-node${major}`;
}

/** Parses and checks the baseline file's JSON; throws naming the first problem's path. */
export function parseBaselineFile(json: unknown): IdleBaselineFile {
  if (Value.Check(IdleBaselineFileSchema, json)) return json;
  const first = Value.Errors(IdleBaselineFileSchema, json).First();
  throw new Error(`invalid agent idle baseline at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
}

/** Whether `m` is within the budget, and a sentence saying so either way. */
export function checkIdleBudget(m: IdleMeasurement, file: IdleBaselineFile): { ok: boolean; limitMb: number | null; message: string } {
  const key = baselineKey(m.runtime);
  const base = file.baselines[key];
  if (base === undefined) {
    return {
      ok: false,
      limitMb: null,
      message: `no idle RSS baseline for runtime ${key} in bench/baselines/agent-idle.json: measure one with \`node dist/bench/agent-idle.js\` and add it`,
    };
  }
  const limitMb = Math.round(base.rssMbMedian * (1 + file.tolerance) * 10) / 10;
  const ok = m.rssMbMedian <= limitMb;
  const pct = Math.round((1000 * (m.rssMbMedian - base.rssMbMedian)) / base.rssMbMedian) / 10;
  return {
    ok,
    limitMb,
    message: `idle agent RSS median ${m.rssMbMedian} MB on ${key}: ${pct >= 0 ? '+' : ''}${pct}% against the baseline ${base.rssMbMedian} MB (limit ${limitMb} MB, +${file.tolerance * 100}%)${ok ? '' : ': a regression — find what the idle agent now loads or holds (bench/agent-idle.ts), or, if it is deliberate, record a new baseline and say why in the commit'}`,
  };
}
