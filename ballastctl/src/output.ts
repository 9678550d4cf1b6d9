/**
 * Structured output (-o json|yaml) and the shared `-o` option. JSON output is exactly the API
 * response object, so scripts can rely on the shapes documented in shared/src/api.ts.
 */
import { Option } from 'commander';
import { stringify } from 'yaml';

/** Every value `-o` can take somewhere; each command accepts a subset. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'text';

/** Builds the `-o, --output` option restricted to `choices`, defaulting to the first one. */
export function outputOption<F extends OutputFormat>(choices: readonly [F, ...F[]]): Option {
  return new Option('-o, --output <format>', 'output format').choices(choices).default(choices[0]);
}

/** A document as pretty JSON (2-space indent, trailing newline). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A document as YAML. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/** A structured document in `format` ('json' or 'yaml'). */
export function formatDocument(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? toJson(value) : toYaml(value);
}

/**
 * One document of a stream (watch/follow): NDJSON for json, so consumers can split on newlines,
 * and `---`-separated documents for yaml.
 */
export function formatStreamDocument(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? `${JSON.stringify(value)}\n` : `---\n${toYaml(value)}`;
}

/** True for the structured formats. */
export function isStructured(format: OutputFormat): format is 'json' | 'yaml' {
  return format === 'json' || format === 'yaml';
}
