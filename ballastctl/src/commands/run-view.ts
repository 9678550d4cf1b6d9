/**
 * How runs look in a terminal, Ansible-style: one line per finished task and host
 * (`node-1  TASK [Disable swap] ... changed`), diffs indented under it with --diff, and a
 * `PLAY RECAP`. Pure formatting plus the progress long-poll loop that `apply` and `run --follow`
 * share.
 */
import {
  type Recap,
  type RunHostState,
  type RunProgress,
  RunProgressSchema,
  type RunStatus,
  type RunTaskResult,
} from '../../../shared/src/runs-api.js';
import type { ApiClient } from '../client.js';
import { paint, sanitize } from '../format.js';
import { LONG_POLL_WAIT_S } from '../watch.js';
import { RESULT_TONE } from './tones.js';

/** Results per progress request; the API's default. */
const PROGRESS_LIMIT = 1000;

/** Formatting choices for one terminal. */
export interface RunViewOptions {
  /** Width host names are padded to (the longest name of the run). */
  hostWidth: number;
  /** Show diffs under changed tasks. */
  diff: boolean;
  color: boolean;
}

/** The first line of a run: its id, role, hosts and mode. */
export function runHeader(run: { id: string; role: string; check: boolean }, hosts: readonly string[]): string {
  const mode = run.check ? ' (check mode: nothing will be changed)' : '';
  return `RUN ${run.id}: role ${run.role} on ${hosts.join(', ')}${mode}\n`;
}

/** One finished task: `node-1  TASK [name] ... changed`, plus the error or reason, plus the diff. */
export function resultLine(r: RunTaskResult, opts: RunViewOptions): string {
  const label = r.phase === 'handler' ? 'HANDLER' : 'TASK';
  let line = `${r.host.padEnd(opts.hostWidth)}  ${label} [${sanitize(r.name)}] ... ${paint(r.status, RESULT_TONE[r.status], opts.color)}`;
  if (r.status === 'failed') line += `: ${r.error === undefined ? sanitize(r.message) : `${r.error.code}: ${sanitize(r.error.message)}`}`;
  else if (r.status === 'skipped' && r.message !== '') line += ` (${sanitize(r.message)})`;
  line += '\n';
  if (opts.diff && r.diff !== '') line += indentDiff(r.diff);
  return line;
}

function indentDiff(diff: string): string {
  return diff
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `      ${l}\n`)
    .join('');
}

/** A host's part ended without a task to blame (disconnected, deadline, cancelled). */
export function hostEndLine(h: RunHostState, opts: RunViewOptions): string | null {
  if (h.error !== null) return `${h.name.padEnd(opts.hostWidth)}  ${paint(h.status.toUpperCase(), 'red', opts.color)}: ${h.error.code}: ${sanitize(h.error.message)}\n`;
  if (h.status === 'cancelled') return `${h.name.padEnd(opts.hostWidth)}  ${paint('CANCELLED', 'yellow', opts.color)}: remaining tasks skipped\n`;
  return null;
}

function recapCounters(r: Recap, color: boolean): string {
  // The recap counts task results, so its counters wear the results' colours.
  const part = (key: keyof Recap) => {
    const text = `${key}=${r[key]}`;
    return r[key] > 0 ? paint(text, RESULT_TONE[key], color) : text;
  };
  return [part('ok'), part('changed'), part('failed'), part('skipped')].join(' ');
}

/** Ansible's recap: `node-1 : ok=5 changed=2 failed=0 skipped=0`, with the host's status unless it succeeded. */
export function recapText(hosts: readonly RunHostState[], color: boolean): string {
  const width = Math.max(0, ...hosts.map((h) => h.name.length));
  const lines = hosts.map((h) => {
    let note = '';
    if (h.status === 'running' || h.status === 'pending') note = h.current === null ? `   (${h.status})` : `   (${h.status}: ${h.current.name})`;
    else if (h.status !== 'succeeded') note = `   (${h.status}${h.error === null ? '' : `: ${sanitize(h.error.message)}`})`;
    return `${h.name.padEnd(width)} : ${recapCounters(h.recap, color)}${note}\n`;
  });
  return `\nPLAY RECAP\n${lines.join('')}`;
}

/** The closing line for a finished run. */
export function statusLine(run: { id: string; status: RunStatus }, hosts: readonly RunHostState[]): string {
  const failed = hosts.filter((h) => h.status === 'failed').map((h) => h.name);
  const detail = failed.length > 0 ? ` (${failed.length} of ${hosts.length} hosts failed: ${failed.join(', ')})` : '';
  return `\nRun ${run.id} ${run.status}${detail}\n`;
}

/**
 * Prints progress as it happens: each new result, and a line for each host that ended without a
 * task result to explain it. Keeps what it already printed, so overlapping answers print nothing twice.
 */
export class ProgressPrinter {
  private readonly printedSeqs = new Set<number>();
  private readonly endedHosts = new Set<string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly opts: RunViewOptions,
  ) {}

  /** Prints what is new in `p`. */
  print(p: RunProgress): void {
    for (const r of p.results) {
      if (this.printedSeqs.has(r.seq)) continue;
      this.printedSeqs.add(r.seq);
      this.write(resultLine(r, this.opts));
    }
    for (const h of p.hosts) {
      if (h.status === 'pending' || h.status === 'running' || this.endedHosts.has(h.name)) continue;
      this.endedHosts.add(h.name);
      const line = hostEndLine(h, this.opts);
      if (line !== null) this.write(line);
    }
  }
}

/**
 * Long-polls `GET /v1/runs/:id/progress` from `after` until the run is finished, handing every
 * answer to `onProgress`; returns the last answer. Rejects with the client's errors (AbortedError
 * on Ctrl-C when the client carries the signal).
 */
export async function followRun(client: ApiClient, id: string, onProgress: (p: RunProgress) => void, after = 0): Promise<RunProgress> {
  let cursor = after;
  for (;;) {
    const p = await client.get(`/v1/runs/${encodeURIComponent(id)}/progress`, RunProgressSchema, {
      query: { after: cursor, wait: LONG_POLL_WAIT_S, limit: PROGRESS_LIMIT },
      timeoutMs: (LONG_POLL_WAIT_S + 10) * 1000,
    });
    onProgress(p);
    // A full page may have more behind it: continue from its last result, not from the run's seq.
    const last = p.results.at(-1);
    const full = p.results.length >= PROGRESS_LIMIT && last !== undefined;
    cursor = full ? last.seq : Math.max(cursor, p.seq);
    if (p.status !== 'running' && !full) return p;
  }
}
