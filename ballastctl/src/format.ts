/**
 * Pure text formatting for human output: aligned tables, kubectl-style ages and IEC sizes.
 * Nothing here does IO, so the exact strings are unit-tested.
 */

/** Colours used for emphasis; only applied when stdout is a terminal. */
export type Tone = 'green' | 'yellow' | 'red' | 'dim';

/** A table cell: plain text, or text with a tone. */
export type Cell = string | { text: string; tone: Tone };

const ANSI: Record<Tone, string> = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', dim: '\x1b[2m' };
const RESET = '\x1b[0m';

/** `text` in `tone` on a colour terminal, as is otherwise. */
export function paint(text: string, tone: Tone, color: boolean): string {
  return color ? `${ANSI[tone]}${text}${RESET}` : text;
}

/** Shown for absent values, as kubectl does. */
export const NONE = '<none>';

/** Column gap: three spaces, like kubectl, so columns stay distinct when a value has spaces. */
const GAP = '   ';

function cellText(cell: Cell): string {
  return typeof cell === 'string' ? cell : cell.text;
}

function paintCell(cell: Cell, padded: string, color: boolean): string {
  if (!color || typeof cell === 'string') return padded;
  // Pad first, then colour only the text: escape codes must not count towards column width.
  const text = cell.text;
  return `${paint(text, cell.tone, true)}${padded.slice(text.length)}`;
}

/** Column widths for a header and rows (at least `min` per column when given). */
export function columnWidths(headers: readonly string[], rows: readonly (readonly Cell[])[], min: readonly number[] = []): number[] {
  return headers.map((h, i) => Math.max(h.length, min[i] ?? 0, ...rows.map((r) => cellText(r[i] ?? '').length)));
}

/** Formats one row with the given widths, without trailing spaces (empty last cells included). */
export function formatRow(cells: readonly Cell[], widths: readonly number[], color = false): string {
  const last = cells.length - 1;
  return cells
    .map((cell, i) => {
      const text = sanitize(cellText(cell));
      const padded = i === last ? text : text.padEnd(widths[i] ?? 0);
      return paintCell(typeof cell === 'string' ? text : { text, tone: cell.tone }, padded, color);
    })
    .join(GAP)
    .trimEnd();
}

/** Formats a whole table with a header line; every line ends with "\n". */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[], color = false): string {
  const widths = columnWidths(headers, rows);
  return [headers, ...rows].map((row, i) => `${formatRow(row, widths, color && i > 0)}\n`).join('');
}

/** Replaces control characters (newlines, escapes) so a server-supplied value cannot break a row or the terminal. */
export function sanitize(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}

/** A duration in ms as one kubectl-style unit: 12s, 5m, 3h, 2d. Negative (clock skew) counts as 0s. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Age of an RFC 3339 timestamp relative to `now` (ms), or `<none>` when absent or unparseable. */
export function ageOf(iso: string | null, now: number): string {
  if (iso === null) return NONE;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? NONE : formatAge(now - t);
}

/** "5m ago" / "in 5m", for instants that may be in the future (token expiry). */
export function relative(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return t >= now ? `in ${formatAge(t - now)}` : `${formatAge(now - t)} ago`;
}

/** An instant as UTC with second precision, e.g. 2024-05-01T12:00:03Z. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Bytes in IEC units with one decimal, e.g. 15.5Gi; integers below 1 KiB stay exact. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return NONE;
  const units = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  if (bytes < 1024) return `${bytes}B`;
  let value = bytes;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value.toFixed(1).replace(/\.0$/, '')}${unit}`;
}

/** `value`, or `<none>` for null/empty. */
export function orNone(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? NONE : String(value);
}

/** "key: value" lines with the values aligned, indented by `indent` spaces. */
export function formatFields(fields: readonly (readonly [string, string])[], indent = 0): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length + 1));
  const pad = ' '.repeat(indent);
  return fields.map(([k, v]) => `${pad}${`${k}:`.padEnd(width)}  ${sanitize(v)}\n`).join('');
}
