/**
 * Validation of plans: every step spec an operation kind or an executor hands the engine is
 * checked here before it is stored, and every problem is reported with its path, so a bad plan
 * fails at `start` instead of halfway through a bootstrap.
 */
import type { TSchema } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { PlannedStep } from './records.js';
import type { StepExecutor, StepSpec } from './types.js';

/** Step keys: letters, digits and `._:/-`, starting with a letter or digit. */
export const STEP_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;
/** Phases: lowercase words joined by dashes. */
export const PHASE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** Longest accepted step deadline (a day): anything longer is a mistake, not a plan. */
export const MAX_STEP_TIMEOUT_MS = 24 * 3600_000;
/** Largest accepted step args, serialised. */
const MAX_ARGS_BYTES = 64 * 1024;

/** Problems found in a value against a schema, as `path: message` (at most `max`). */
export function schemaProblems(schema: TSchema, value: unknown, base: string, max = 5): { path: string; message: string }[] {
  const check = compiledCheck(schema);
  if (check.Check(value)) return [];
  const out: { path: string; message: string }[] = [];
  for (const e of check.Errors(value)) {
    out.push({ path: `${base}${e.path}`, message: e.message });
    if (out.length >= max) break;
  }
  return out;
}

/** Throws BALLAST_ERR_VALIDATION listing `problems` (the first one's path is the error's path). */
export function throwProblems(what: string, problems: readonly { path: string; message: string }[]): never {
  const first = problems[0];
  throw new BallastError('BALLAST_ERR_VALIDATION', `failed to ${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
    path: first?.path ?? '/',
  });
}

/**
 * Checks `specs` and returns them ready to store. `taken` are keys already in the operation (for
 * insertions); `base` prefixes paths (`/steps`, `/insertAfter`). Throws BALLAST_ERR_VALIDATION.
 */
export function planSteps(
  specs: readonly StepSpec[],
  opts: { executors: ReadonlyMap<string, StepExecutor<unknown>>; taken?: ReadonlySet<string>; base: string; what: string },
): PlannedStep[] {
  const problems: { path: string; message: string }[] = [];
  const seen = new Set(opts.taken ?? []);
  const out: PlannedStep[] = [];
  specs.forEach((s, i) => {
    const at = `${opts.base}/${i}`;
    const bad = (field: string, message: string) => problems.push({ path: `${at}/${field}`, message });
    if (typeof s.key !== 'string' || !STEP_KEY_PATTERN.test(s.key)) bad('key', `must match ${STEP_KEY_PATTERN.source}`);
    else if (seen.has(s.key)) bad('key', `duplicate step key "${s.key}"`);
    else seen.add(s.key);
    if (typeof s.phase !== 'string' || !PHASE_PATTERN.test(s.phase)) bad('phase', `must match ${PHASE_PATTERN.source}`);
    if (typeof s.title !== 'string' || s.title.trim() === '' || s.title.length > 200) bad('title', 'must be 1-200 characters');
    if (s.host !== undefined && s.host !== null && (typeof s.host !== 'string' || s.host === '' || s.host.length > 253)) bad('host', 'must be a host name or null');
    if (s.timeoutMs !== undefined && (!Number.isInteger(s.timeoutMs) || s.timeoutMs < 1 || s.timeoutMs > MAX_STEP_TIMEOUT_MS)) {
      bad('timeoutMs', `must be an integer from 1 to ${MAX_STEP_TIMEOUT_MS}`);
    }
    const args = s.args ?? {};
    const executor = opts.executors.get(s.kind);
    if (executor === undefined) bad('kind', `no executor is registered for step kind "${s.kind}"`);
    else if (executor.args !== undefined) problems.push(...schemaProblems(executor.args, args, `${at}/args`));
    let json = '';
    try {
      json = JSON.stringify(args);
    } catch (err) {
      bad('args', `must be JSON: ${(err as Error).message}`);
    }
    if (json.length > MAX_ARGS_BYTES) bad('args', `must be at most ${MAX_ARGS_BYTES} bytes as JSON`);
    out.push({ key: s.key, phase: s.phase, host: s.host ?? null, title: s.title, kind: s.kind, args, timeoutMs: s.timeoutMs ?? null });
  });
  if (problems.length > 0) throwProblems(opts.what, problems);
  return out;
}
