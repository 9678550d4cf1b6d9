/**
 * A bound on JSON nesting, checked on the raw text before JSON.parse (issue 16 point 8). A value
 * nested 100k deep parses, but whatever walks it next — a schema check, JSON.stringify, a structured
 * clone, pino — recurses and overflows the stack, which surfaced as BALLAST_ERR_INTERNAL and HTTP
 * 500. So the depth is measured first, by a single iterative scan (a recursive checker would
 * overflow on the very input it guards against), and the text is refused before anything parses it.
 */

/**
 * Deepest nesting of arrays and objects accepted on the websocket and in HTTP bodies. Our deepest
 * legitimate document (a run request's role vars, a facts frame) is under 10 levels; 64 leaves
 * room for role vars of any sane shape and still keeps every later recursion shallow.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b; // {
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACE = 0x7d; // }
const CLOSE_BRACKET = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * The nesting depth of `text` read as JSON, stopping as soon as it passes `limit` (so a hostile
 * input costs at most one pass up to that point). Brackets inside strings are skipped, escapes
 * included. Malformed text gets some number back; JSON.parse reports what is wrong with it.
 * Returns a value > `limit` when the bound is exceeded.
 */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return deepest;
}

/** The "why" of a refusal, for "failed to <verb> <noun>: <why>" messages naming the limit. */
export function depthProblem(text: string, limit = MAX_JSON_DEPTH): string | null {
  return jsonDepth(text, limit) > limit ? `JSON nested deeper than ${limit} levels` : null;
}
