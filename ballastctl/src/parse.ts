/**
 * Parsers for flag and argument values. They throw commander's InvalidArgumentError so that bad
 * values are reported by commander as one usage line (exit 2) naming the flag.
 */
import { InvalidArgumentError } from 'commander';
import { HOST_NAME_PATTERN } from '../../shared/src/api.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Shortest join-token lifetime the API accepts (TokenCreateRequestSchema). */
export const MIN_TTL_SECONDS = 60;
/** Longest join-token lifetime the API accepts. */
export const MAX_TTL_SECONDS = 30 * 86400;

/**
 * Parses a duration such as 90s, 30m, 1h, 7d or 1h30m into seconds.
 * Throws InvalidArgumentError for bad syntax.
 */
export function parseDuration(text: string): number {
  const value = text.trim();
  if (!/^(\d+[smhd])+$/.test(value)) {
    throw new InvalidArgumentError(`expected a duration like 90s, 30m, 1h or 7d, got ${JSON.stringify(text)}`);
  }
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g)) {
    seconds += Number(amount) * (UNIT_SECONDS[unit ?? 's'] ?? 1);
  }
  return seconds;
}

/** Parses a join-token TTL and checks the API's bounds (1m..30d). */
export function parseTtl(text: string): number {
  const seconds = parseDuration(text);
  if (seconds < MIN_TTL_SECONDS) throw new InvalidArgumentError('the ttl must be at least 1m');
  if (seconds > MAX_TTL_SECONDS) throw new InvalidArgumentError('the ttl must be at most 30d');
  return seconds;
}

/** Builds a parser for a decimal integer in [min, max]. */
export function intInRange(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(text.trim());
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** Parses a host or operator name (lowercase DNS label rules, as the API enforces). */
export function parseName(text: string): string {
  if (!HOST_NAME_PATTERN.test(text)) {
    throw new InvalidArgumentError('names are 1-63 characters of a-z, 0-9, "." and "-", starting and ending alphanumeric');
  }
  return text;
}

/** Parses a token id: opaque, but it goes into a URL path, so keep it to a safe alphabet. */
export function parseTokenId(text: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(text)) throw new InvalidArgumentError('token ids contain only letters, digits, ".", "_" and "-"');
  return text;
}

/** Parses a free-text description, bounded as the API bounds it. */
export function parseDescription(text: string): string {
  if (text.length > 256) throw new InvalidArgumentError('at most 256 characters');
  return text;
}
