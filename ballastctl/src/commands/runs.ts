/**
 * `ballastctl runs` (recent role runs) and `ballastctl run ID [--follow]` (one run: every task
 * result and the recap, as `apply` printed it; `-o json` is the run document of
 * shared/src/runs-api.ts).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { RUN_ID_PATTERN, RunDocumentSchema, type RunListItem, RunListResponseSchema } from '../../../shared/src/runs-api.js';
import type { CliContext } from '../context.js';
import { ageOf, type Cell, formatTable } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { intInRange } from '../parse.js';
import { untilInterrupted, withExamples } from './common.js';
import { followRun, ProgressPrinter, type RunViewOptions, recapText, resultLine, runHeader, statusLine } from './run-view.js';
import { STATE_TONE } from './tones.js';


/** Parses a run id argument. */
export function parseRunId(text: string): string {
  if (!RUN_ID_PATTERN.test(text)) throw new InvalidArgumentError('run ids look like run-0123456789ab (see "ballastctl runs")');
  return text;
}

/** The `runs` table, newest first. */
export function runsTable(items: readonly RunListItem[], now: number, color = false): string {
  const rows = items.map((r): Cell[] => [
    r.id,
    r.role,
    { text: r.status, tone: STATE_TONE[r.status] },
    r.check ? 'check' : 'apply',
    r.hosts.length <= 3 ? r.hosts.join(',') : `${r.hosts.slice(0, 3).join(',')},+${r.hosts.length - 3}`,
    `ok=${r.recap.ok} changed=${r.recap.changed} failed=${r.recap.failed}`,
    ageOf(r.createdAt, now),
    r.createdBy,
  ]);
  return formatTable(['ID', 'ROLE', 'STATUS', 'MODE', 'HOSTS', 'RECAP', 'AGE', 'BY'], rows, color);
}

interface ShowOptions {
  output: Extract<OutputFormat, 'text' | 'json' | 'yaml'>;
  follow?: boolean;
  diff?: boolean;
}

/** Registers `runs` and `run`. */
export function registerRuns(program: Command, ctx: CliContext): void {
  const list = program
    .command('runs')
    .description('list recent role runs (ballastctl apply), newest first')
    .option('--limit <n>', 'how many runs (1-1000, default 50)', intInRange(1, 1000))
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { limit?: number; output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/runs', RunListResponseSchema, { query: { limit: opts.limit } });
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else if (res.items.length === 0) ctx.note('No runs yet. Start one with: ballastctl apply ROLE --hosts NAME');
      else ctx.out(runsTable(res.items, ctx.now(), ctx.color));
    });
  withExamples(list, ['ballastctl runs', 'ballastctl runs -o json | jq -r ".items[] | select(.status == \\"failed\\") | .id"']);

  const show = program
    .command('run')
    .description('show one run: every task result per host and the recap')
    .argument('<id>', 'run id (see "ballastctl runs")', parseRunId)
    .option('-f, --follow', 'if the run is in progress, keep printing results until it ends (Ctrl-C stops following, not the run)')
    .option('--diff', 'show the diffs the run recorded')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (id: string, opts: ShowOptions, command: Command) => {
      const client = ctx.client(command);
      const doc = await client.get(`/v1/runs/${encodeURIComponent(id)}`, RunDocumentSchema);
      if (opts.output !== 'text') {
        ctx.out(formatDocument(opts.output, doc));
        return;
      }
      const view: RunViewOptions = { hostWidth: Math.max(...doc.hosts.map((h) => h.name.length)), diff: opts.diff === true, color: ctx.color };
      ctx.out(runHeader(doc, doc.hosts.map((h) => h.name)));
      if (opts.follow === true && doc.status === 'running') {
        const printer = new ProgressPrinter((s) => ctx.out(s), view);
        await untilInterrupted(ctx.signal, async () => {
          const final = await followRun(client, id, (p) => printer.print(p));
          ctx.out(`${recapText(final.hosts, ctx.color)}${statusLine(final, final.hosts)}`);
        });
        return;
      }
      const results = doc.hosts.flatMap((h) => h.results).sort((a, b) => a.seq - b.seq);
      for (const r of results) ctx.out(resultLine(r, view));
      ctx.out(recapText(doc.hosts, ctx.color));
      ctx.out(doc.status === 'running' ? `\nRun ${doc.id} is still running (follow it with: ballastctl run ${doc.id} --follow)\n` : statusLine(doc, doc.hosts));
    });
  withExamples(show, ['ballastctl run run-0123456789ab', 'ballastctl run run-0123456789ab --follow', 'ballastctl run run-0123456789ab -o json | jq .recap']);
}
