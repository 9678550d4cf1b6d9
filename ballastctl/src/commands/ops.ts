/**
 * `ballastctl ops` (recent operations), `ballastctl op ID [--follow]` (one operation: a line per
 * finished step and a recap; live progress while following), `op resume ID [--follow]` and
 * `op abort ID`. Exit codes of the views: 0 succeeded (or still running, when not following),
 * 1 paused, failed or aborted, 130 when Ctrl-C stops following — the operation keeps running on
 * the controller. {@link viewOperation} is exported for commands that start operations
 * (`cluster create`).
 */
import { type Command, InvalidArgumentError } from 'commander';
import {
  isOperationActive,
  OP_ID_PATTERN,
  type OperationDocument,
  OperationDocumentSchema,
  type OperationListItem,
  OperationListResponseSchema,
  type OperationStep,
} from '../../../shared/src/ops-api.js';
import type { TaskStatus } from '../../../shared/src/tasks/results.js';
import type { ApiClient } from '../client.js';
import type { CliContext } from '../context.js';
import { AbortedError, CtlError, EXIT_FAILURE } from '../errors.js';
import { ageOf, type Cell, formatAge, formatTable, paint, sanitize } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { intInRange } from '../parse.js';
import { LONG_POLL_WAIT_S } from '../watch.js';
import { withExamples } from './common.js';
import { RESULT_TONE, STATE_TONE } from './tones.js';

/** A finished step summarised with the task-result words (Ansible's recap), like a run's tasks. */
type StepStatus = TaskStatus;
/** Erase the current terminal line (the live status line). */
const CLEAR_LINE = '\r\x1b[K';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** Parses an operation id argument. */
export function parseOpId(text: string): string {
  if (!OP_ID_PATTERN.test(text)) throw new InvalidArgumentError('operation ids look like op-0123456789ab (see "ballastctl ops")');
  return text;
}

/** The `ops` table, newest first. */
export function opsTable(items: readonly OperationListItem[], now: number, color = false): string {
  const rows = items.map((o): Cell[] => [
    o.id,
    o.check ? `${o.kind} (check)` : o.kind,
    o.cluster ?? '-',
    { text: o.state, tone: STATE_TONE[o.state] },
    o.current?.phase ?? '-',
    `${o.progress.done}/${o.progress.total}`,
    ageOf(o.createdAt, now),
  ]);
  return formatTable(['ID', 'KIND', 'CLUSTER', 'STATE', 'PHASE', 'PROGRESS', 'AGE'], rows, color);
}

/** How a finished step is summarised: `ok`, `changed`, `failed` or `skipped`. */
export function stepStatus(s: OperationStep): StepStatus | null {
  if (s.state === 'failed' || s.state === 'skipped') return s.state;
  if (s.state === 'succeeded') return s.changed === true ? 'changed' : 'ok';
  return null;
}

/** Column widths of step lines, from the whole plan so lines align while following. */
export interface StepColumns {
  phase: number;
  host: number;
  color: boolean;
}

/** Widths for `doc`'s steps. */
export function stepColumns(doc: OperationDocument, color: boolean): StepColumns & { withMessage: boolean } {
  return { phase: Math.max(5, ...doc.steps.map((s) => s.phase.length)), host: Math.max(4, ...doc.steps.map((s) => (s.host ?? '-').length)), color, withMessage: doc.check };
}

/**
 * One finished step: `changed  etcd  cp-2  Join cp-2 to etcd  (1.2s)`, with the error when it
 * failed, the reason when skipped, and — `withMessage`, for check mode — what a change would be
 * (the per-host plan the executors put in their messages).
 */
export function stepLine(s: OperationStep, cols: StepColumns & { withMessage?: boolean }): string {
  const status = stepStatus(s) ?? s.state;
  const tone = RESULT_TONE[status as StepStatus] ?? 'dim';
  let line = `${paint(status.padEnd(7), tone, cols.color)}  ${s.phase.padEnd(cols.phase)}  ${(s.host ?? '-').padEnd(cols.host)}  ${sanitize(s.title)}`;
  if (s.durationMs !== null) line += `  (${seconds(s.durationMs)})`;
  if (s.attempts > 1) line += `  [attempt ${s.attempts}]`;
  if (s.error !== null) line += `: ${s.error.code}: ${sanitize(s.error.message)}`;
  else if ((s.state === 'skipped' || cols.withMessage === true) && s.message !== '') line += `: ${sanitize(s.message)}`;
  return `${line}\n`;
}

/** The first line: id, kind, cluster, size and mode. */
export function opHeader(doc: OperationDocument): string {
  const on = doc.cluster === null ? '' : ` on cluster ${doc.cluster}`;
  const mode = doc.check ? ', check mode: nothing will be changed' : '';
  return `OPERATION ${doc.id}: ${doc.kind}${on} (${doc.steps.length} steps${mode}) by ${doc.createdBy}\n`;
}

/** The live status line of a running operation: phase, host, step, elapsed and its progress message. */
export function liveLine(doc: OperationDocument, now: number, cols: StepColumns): string | null {
  const c = doc.current;
  if (c === null || c.state !== 'running') return null;
  const elapsed = c.startedAt === null ? '' : `  ${formatAge(Math.max(0, now - Date.parse(c.startedAt)))}`;
  const progress = c.progress === null ? '' : `  ${sanitize(c.progress)}`;
  const attempt = c.attempts > 1 ? `  [attempt ${c.attempts}]` : '';
  return `running  ${c.phase.padEnd(cols.phase)}  ${(c.host ?? '-').padEnd(cols.host)}  ${sanitize(c.title)}${elapsed}${attempt}${progress}`;
}

/** The recap: counts per status, the outcome, and what to do next. */
export function opRecap(doc: OperationDocument, now: number, color: boolean): string {
  const count = (st: StepStatus) => doc.steps.filter((s) => stepStatus(s) === st).length;
  const pending = doc.steps.filter((s) => s.state === 'pending' || s.state === 'running').length;
  const end = doc.endedAt === null ? now : Date.parse(doc.endedAt);
  const took = formatAge(Math.max(0, end - Date.parse(doc.createdAt)));
  let text = `\nRECAP ${doc.id}: ok=${count('ok')} changed=${count('changed')} failed=${count('failed')} skipped=${count('skipped')} pending=${pending}\n`;
  text += `Operation ${doc.id} ${paint(doc.state, STATE_TONE[doc.state], color)} after ${took}`;
  const e = doc.error;
  if (doc.state === 'paused' && e !== null) {
    text += ` at ${e.stepKey ?? '?'}${e.host === null ? '' : ` on ${e.host}`}: ${e.code}: ${sanitize(e.message)}\n`;
    text += `Fix the cause, then: ballastctl op resume ${doc.id} --follow   (or give up: ballastctl op abort ${doc.id})\n`;
  } else if (isOperationActive(doc.state)) {
    text += ` so far; still ${doc.state} (follow it with: ballastctl op ${doc.id} --follow)\n`;
  } else text += '\n';
  return text;
}

/**
 * Prints an operation as it progresses: each finished step attempt once (a retried step prints
 * its failure, then its success), and on a terminal a live status line redrawn every second.
 */
export class OperationPrinter {
  private readonly printed = new Set<string>();
  private last: OperationDocument | null = null;
  private live = false;

  constructor(
    private readonly ctx: CliContext,
    private readonly cols: StepColumns,
  ) {}

  /** Prints what is new in `doc`. */
  print(doc: OperationDocument): void {
    this.last = doc;
    this.clearLive();
    for (const s of doc.steps) {
      const id = `${s.key}#${s.attempts}`;
      if (stepStatus(s) === null || this.printed.has(id)) continue;
      this.printed.add(id);
      this.ctx.out(stepLine(s, this.cols));
    }
    this.drawLive();
  }

  /** Redraws the live line (elapsed time) from the last document. */
  tick(): void {
    this.clearLive();
    this.drawLive();
  }

  /** Removes the live line before the recap. */
  clearLive(): void {
    if (this.live) this.ctx.out(CLEAR_LINE);
    this.live = false;
  }

  private drawLive(): void {
    if (this.ctx.io.stdout.isTTY !== true || this.last === null) return;
    const line = liveLine(this.last, this.ctx.now(), this.cols);
    if (line === null) return;
    this.ctx.out(paint(line, 'dim', this.ctx.color));
    this.live = true;
  }
}

/**
 * Long-polls `GET /v1/ops/:id` from `after` until the operation is no longer pending or running,
 * handing every answer to `onDoc`; returns the last one. Rejects with the client's errors
 * (AbortedError on Ctrl-C).
 */
export async function followOperation(client: ApiClient, id: string, onDoc: (doc: OperationDocument) => void, after = 0): Promise<OperationDocument> {
  let cursor = after;
  for (;;) {
    const doc = await client.get(`/v1/ops/${encodeURIComponent(id)}`, OperationDocumentSchema, {
      query: { after: cursor, waitMs: LONG_POLL_WAIT_S * 1000 },
      timeoutMs: (LONG_POLL_WAIT_S + 10) * 1000,
    });
    onDoc(doc);
    cursor = Math.max(cursor, doc.seq);
    if (!isOperationActive(doc.state)) return doc;
  }
}

/** How {@link viewOperation} shows an operation. */
export interface ViewOptions {
  follow: boolean;
  output: 'text' | 'json' | 'yaml';
}

/**
 * Shows `doc` (and, with `follow`, follows it to its end), then applies the exit code policy:
 * returns for succeeded (or running, not followed), throws CtlError (exit 1) for paused, failed
 * or aborted, and AbortedError (exit 130) when Ctrl-C stopped following — the operation goes on.
 */
export async function viewOperation(ctx: CliContext, client: ApiClient, doc: OperationDocument, opts: ViewOptions): Promise<void> {
  const text = opts.output === 'text';
  const printer = new OperationPrinter(ctx, stepColumns(doc, ctx.color));
  if (text) ctx.out(opHeader(doc));
  if (text) printer.print(doc);
  let final = doc;
  if (opts.follow && isOperationActive(doc.state)) {
    const ticker = text ? setInterval(() => printer.tick(), 1000) : undefined;
    try {
      final = await followOperation(client, doc.id, (d) => (text ? printer.print(d) : undefined), doc.seq);
    } catch (err) {
      if (!(err instanceof AbortedError) && ctx.signal?.aborted !== true) throw err;
      printer.clearLive();
      ctx.note(`Stopped following; operation ${doc.id} keeps running (ballastctl op ${doc.id} --follow)`);
      throw new AbortedError();
    } finally {
      clearInterval(ticker);
    }
  }
  if (text) {
    printer.clearLive();
    ctx.out(opRecap(final, ctx.now(), ctx.color));
  } else ctx.out(formatDocument(opts.output === 'yaml' ? 'yaml' : 'json', final));
  if (final.state === 'succeeded' || isOperationActive(final.state)) return;
  const why = final.error === null ? '' : `: ${final.error.code} at ${final.error.stepKey ?? '?'}${final.error.host === null ? '' : ` on ${final.error.host}`}`;
  throw new CtlError(`operation ${final.id} ${final.state}${why}`, EXIT_FAILURE, { code: final.error?.code });
}

interface ShowOptions {
  follow?: boolean;
  output: Extract<OutputFormat, 'text' | 'json' | 'yaml'>;
}

/** Registers `ops` and the `op` group. */
export function registerOps(program: Command, ctx: CliContext): void {
  const list = program
    .command('ops')
    .description('list operations (bootstrap, reset …), newest first')
    .option('--limit <n>', 'how many operations (1-1000, default 50)', intInRange(1, 1000))
    .option('--kind <kinds>', 'only these kinds, comma-separated (replacements: node.replace,node.add,node.remove)')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { limit?: number; kind?: string; output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/ops', OperationListResponseSchema, { query: { limit: opts.limit, kind: opts.kind } });
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else if (res.items.length === 0) ctx.note('No operations yet.');
      else ctx.out(opsTable(res.items, ctx.now(), ctx.color));
    });
  withExamples(list, ['ballastctl ops', 'ballastctl ops --kind node.replace,node.add,node.remove', 'ballastctl ops -o json | jq -r \'.items[] | select(.state == "paused") | .id\'']);

  const group = program
    .command('op')
    .description('show one operation ("op ID" is "op show ID"), or resume or abort it')
    .usage('ID [--follow] | resume ID [--follow] | abort ID');
  withExamples(group, ['ballastctl op op-0123456789ab --follow', 'ballastctl op resume op-0123456789ab --follow', 'ballastctl op abort op-0123456789ab']);

  // `show` is the default subcommand so "op ID" works; the group has no options of its own (see host.ts).
  group
    .command('show', { isDefault: true })
    .description('show every step of an operation and its recap; --follow shows live progress until it ends')
    .argument('<id>', 'operation id (see "ballastctl ops")', parseOpId)
    .option('-f, --follow', 'follow a running operation until it ends (Ctrl-C stops following, not the operation)')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (id: string, opts: ShowOptions, command: Command) => {
      const client = ctx.client(command);
      const doc = await client.get(`/v1/ops/${encodeURIComponent(id)}`, OperationDocumentSchema);
      await viewOperation(ctx, client, doc, { follow: opts.follow === true, output: opts.output });
    });

  group
    .command('resume')
    .description('re-run the failed step of a paused operation, then continue')
    .argument('<id>', 'operation id', parseOpId)
    .option('-f, --follow', 'follow the operation until it ends')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (id: string, opts: ShowOptions, command: Command) => {
      const client = ctx.client(command);
      const doc = await client.post(`/v1/ops/${encodeURIComponent(id)}/resume`, {}, OperationDocumentSchema);
      if (opts.follow === true) return viewOperation(ctx, client, doc, { follow: true, output: opts.output });
      if (opts.output !== 'text') ctx.out(formatDocument(opts.output, doc));
      else ctx.out(`Operation ${doc.id} ${doc.state} at ${doc.current?.key ?? 'its end'} (follow it with: ballastctl op ${doc.id} --follow)\n`);
    });

  group
    .command('abort')
    .description('stop an operation: the step in progress is cancelled, the rest do not run; nothing is torn down')
    .argument('<id>', 'operation id', parseOpId)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (id: string, opts: ShowOptions, command: Command) => {
      const doc = await ctx.client(command).post(`/v1/ops/${encodeURIComponent(id)}/abort`, {}, OperationDocumentSchema);
      if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, doc));
      const cancelled = doc.steps.filter((s) => s.error?.code === 'BALLAST_ERR_CANCELLED').map((s) => s.key);
      const detail = cancelled.length > 0 ? `; cancelled ${cancelled.join(', ')}` : '';
      ctx.out(`Operation ${doc.id} ${doc.state} (${doc.progress.done}/${doc.progress.total} steps done${detail}); nothing was torn down\n`);
    });
}
