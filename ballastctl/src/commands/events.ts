/**
 * `ballastctl events`: the controller's event log, optionally followed live through the
 * long-poll endpoint. With `--follow -o json` every event is printed as one JSON line (NDJSON).
 */
import type { Command } from 'commander';
import { type BallastEvent, EventListResponseSchema } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { type Cell, columnWidths, formatRow, formatTime } from '../format.js';
import { eventsTable } from '../host-detail.js';
import { formatDocument, formatStreamDocument, type OutputFormat, outputOption } from '../output.js';
import { intInRange, parseName } from '../parse.js';
import { pollEvents } from '../watch.js';
import { untilInterrupted, withExamples } from './common.js';

const EVENT_COLUMNS = ['TIME', 'HOST', 'KIND', 'MESSAGE'];

interface EventsOptions {
  host?: string;
  limit?: number;
  follow?: boolean;
  output: Extract<OutputFormat, 'table' | 'json' | 'yaml'>;
}

function eventCells(e: BallastEvent): Cell[] {
  return [formatTime(e.ts), e.host ?? '-', e.kind, e.message];
}

/** Registers `events`. */
export function registerEvents(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('events')
    .description('show controller events (state changes, enrolments, connections), oldest first')
    .option('--host <name>', 'only events of this host', parseName)
    .option('--limit <n>', 'how many recent events to show first (1-1000, default 100)', intInRange(1, 1000))
    .option('-f, --follow', 'keep running and print new events as they happen until Ctrl-C')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: EventsOptions, command: Command) => {
      const client = ctx.client(command);
      const page = await client.get('/v1/events', EventListResponseSchema, { query: { host: opts.host, limit: opts.limit } });
      if (opts.follow !== true) {
        if (opts.output !== 'table') ctx.out(formatDocument(opts.output, page));
        else if (page.items.length === 0) ctx.note('No events.');
        else ctx.out(eventsTable(page.items, true));
        if (page.truncated === true) ctx.note(`Showing the newest ${page.items.length} events: the page was cut at its 1 MiB budget.`);
        return;
      }
      await untilInterrupted(ctx.signal, () => follow(ctx, command, opts, page.items, page.last));
    });
  withExamples(cmd, [
    'ballastctl events',
    'ballastctl events --host node-1 --limit 20',
    'ballastctl events --follow',
    'ballastctl events -f -o json | jq -c "select(.kind == \\"state\\")"',
  ]);
}

async function follow(ctx: CliContext, command: Command, opts: EventsOptions, initial: BallastEvent[], last: number): Promise<void> {
  const sorted = [...initial].sort((a, b) => a.id - b.id);
  // Streamed rows cannot be re-aligned later: fix widths from the first page, with room for typical values.
  const widths = columnWidths(EVENT_COLUMNS, sorted.map(eventCells), [20, 12, 12]);
  const print = (events: readonly BallastEvent[]): void => {
    for (const e of events) {
      ctx.out(opts.output === 'table' ? `${formatRow(eventCells(e), widths)}\n` : formatStreamDocument(opts.output, e));
    }
  };
  if (opts.output === 'table') ctx.out(`${formatRow(EVENT_COLUMNS, widths)}\n`);
  print(sorted);
  const start = opts.host === undefined ? { after: last } : { after: last, host: opts.host };
  for await (const batch of pollEvents(ctx.client(command), start, ctx.signal)) print(batch);
}
