/**
 * Role variables: defaults applied and every problem reported with its path (STYLE.md §10), and
 * secrets redacted before vars are stored or shown.
 */
import { type Static, type TObject, type TSchema, Kind } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RenderProblem } from './types.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { REDACTED } from '../../../shared/src/tasks/secrets.js';

const checkerFor = compiledCheck;

/**
 * Applies the schema's defaults to a copy of `input` and validates it. Reports every violation
 * (not just the first) as `/vars/<path>: <message>`; the input is never modified.
 */
export function checkVars<S extends TObject>(
  schema: S,
  input: Record<string, unknown>,
): { ok: true; value: Static<S> } | { ok: false; problems: RenderProblem[] } {
  const value = Value.Default(schema, Value.Clone(input));
  const check = checkerFor(schema);
  if (check.Check(value)) return { ok: true, value };
  const problems: RenderProblem[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(value)) {
    const path = `/vars${error.path}`;
    // A union member failing reports once per branch; one line per path is what a human needs.
    if (seen.has(path)) continue;
    seen.add(path);
    const unknownKey = error.message.startsWith('Unexpected property');
    problems.push({ path, message: unknownKey ? 'unknown variable' : error.message.toLowerCase() });
  }
  return { ok: false, problems };
}

/** Marks a schema as holding a secret; {@link redactVars} hides its values. */
export function secret<S extends TSchema>(schema: S): S {
  return { ...schema, secret: true };
}

/** A copy of `value` with every field the schema marks {@link secret} replaced by "<redacted>". */
export function redactVars(schema: TSchema, value: unknown): unknown {
  if ((schema as { secret?: unknown }).secret === true && value !== undefined) return REDACTED;
  if (schema[Kind] === 'Object' && isRecord(value)) {
    const properties = (schema as TObject).properties;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const child = properties[key];
      out[key] = child === undefined ? v : redactVars(child, v);
    }
    return out;
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
