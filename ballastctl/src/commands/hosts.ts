/**
 * `ballastctl hosts`: the host list, optionally watched. The table is the everyday view; `-o json`
 * prints the API's `{ "items": [...] }` unchanged (NDJSON, one document per line, with --watch).
 */
import type { Command } from 'commander';
import { type HostSummary, HostListResponseSchema, EventListResponseSchema } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { ageOf, type Cell, formatBytes, formatTable, NONE, orNone, type Tone } from '../format.js';
import { formatDocument, formatStreamDocument, isStructured, type OutputFormat, outputOption } from '../output.js';
import { pollEvents, settle, within } from '../watch.js';
import { CLEAR_SCREEN, untilInterrupted, withExamples } from './common.js';

/** The watch loop redraws at least this often, so ages and heartbeats stay current. */
export const WATCH_REFRESH_MS = 5000;

const STATE_TONE: Record<HostSummary['state'], Tone> = { pending: 'dim', healthy: 'green', degraded: 'yellow', unreachable: 'red' };

/** Column headers of `hosts` (table) and the extra ones of `-o wide`. */
export const HOST_COLUMNS = ['NAME', 'STATE', 'AGE', 'LAST-HEARTBEAT', 'ADDRESS', 'VERSION'] as const;
/** Extra columns of `hosts -o wide`. */
export const HOST_WIDE_COLUMNS = ['OS', 'KERNEL', 'CPUS', 'MEMORY', 'FAILING-CHECKS'] as const;

/** Renders hosts as a table, sorted by name; AGE is time since the last state change. */
export function hostTable(items: readonly HostSummary[], now: number, wide: boolean, color = false): string {
  const rows = [...items]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((h): Cell[] => {
      const base: Cell[] = [
        h.name,
        // `conflict` is a flag beside the state, not a state (README "Host states"): kubectl's
        // `Ready,SchedulingDisabled` shape, red because two machines are speaking for this host.
        h.conflict === true ? { text: `${h.state},conflict`, tone: 'red' } : { text: h.state, tone: STATE_TONE[h.state] },
        ageOf(h.stateSince, now),
        ageOf(h.lastHeartbeatAt, now),
        orNone(h.address),
        orNone(h.agentVersion),
      ];
      if (!wide) return base;
      const failing = h.failingChecks.length === 0 ? NONE : h.failingChecks.join(',');
      return [
        ...base,
        orNone(h.os),
        orNone(h.kernel),
        orNone(h.cpus),
        formatBytes(h.memoryBytes),
        h.failingChecks.length === 0 ? failing : { text: failing, tone: 'red' },
      ];
    });
  return formatTable(wide ? [...HOST_COLUMNS, ...HOST_WIDE_COLUMNS] : [...HOST_COLUMNS], rows, color);
}

interface HostsOptions {
  output: Extract<OutputFormat, 'table' | 'wide' | 'json' | 'yaml'>;
  watch?: boolean;
}

/** Registers `hosts`. */
export function registerHosts(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('hosts')
    .description('list enrolled hosts with their state and last heartbeat')
    .addOption(outputOption(['table', 'wide', 'json', 'yaml']))
    .option('-w, --watch', 'keep running and reprint on every change (at least every 5s) until Ctrl-C')
    .action(async (opts: HostsOptions, command: Command) => {
      const client = ctx.client(command);
      const render = async (): Promise<string> => {
        const list = await client.get('/v1/hosts', HostListResponseSchema);
        if (isStructured(opts.output)) {
          return opts.watch === true ? formatStreamDocument(opts.output, list) : formatDocument(opts.output, list);
        }
        if (list.items.length === 0) return '';
        return hostTable(list.items, ctx.now(), opts.output === 'wide', ctx.color);
      };
      if (opts.watch !== true) {
        const text = await render();
        if (text === '') ctx.note('No hosts enrolled. Create a join token with: ballastctl token create');
        ctx.out(text);
        return;
      }
      await untilInterrupted(ctx.signal, () => watchHosts(ctx, command, opts, render));
    });
  withExamples(cmd, ['ballastctl hosts', 'ballastctl hosts -o wide', 'ballastctl hosts -o json | jq -r ".items[].name"', 'ballastctl hosts --watch']);
}

async function watchHosts(ctx: CliContext, command: Command, opts: HostsOptions, render: () => Promise<string>): Promise<void> {
  const client = ctx.client(command);
  const structured = isStructured(opts.output);
  const tty = ctx.io.stdout.isTTY === true;
  // Take the event cursor before the first listing so no change between the two is missed.
  const { last } = await client.get('/v1/events', EventListResponseSchema, { query: { limit: 1 } });
  const events = pollEvents(client, { after: last }, ctx.signal);
  let previous: string | undefined;
  let next = settle(events.next());
  for (;;) {
    const text = await render();
    // Structured streams only repeat a document when it changed; tables redraw to refresh ages.
    if (!structured || text !== previous) {
      if (structured) ctx.out(text);
      else if (tty) ctx.out(`${CLEAR_SCREEN}${text === '' ? 'No hosts enrolled.\n' : text}`);
      else ctx.out(`${previous === undefined ? '' : '\n'}${text === '' ? 'No hosts enrolled.\n' : text}`);
      previous = text;
    }
    const outcome = await within(next, WATCH_REFRESH_MS, ctx.signal);
    if (ctx.signal?.aborted === true) return;
    if (outcome !== undefined) {
      if (!outcome.ok) throw outcome.error;
      next = settle(events.next());
    }
  }
}
