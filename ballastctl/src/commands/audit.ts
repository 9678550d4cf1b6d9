/**
 * `ballastctl audit`: who did what through the API (every mutating call and every denial).
 */
import type { Command } from 'commander';
import { AuditListResponseSchema, type AuditEntry } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { type Cell, formatTable, formatTime } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { intInRange } from '../parse.js';
import { withExamples } from './common.js';

interface AuditOptions {
  limit?: number;
  output: Extract<OutputFormat, 'table' | 'json' | 'yaml'>;
}

/** Renders audit entries, oldest first; denials and failures are highlighted on a terminal. */
export function auditTable(items: readonly AuditEntry[], color = false): string {
  const rows = [...items]
    .sort((a, b) => a.id - b.id)
    .map((e): Cell[] => [
      formatTime(e.ts),
      e.actor,
      e.role,
      e.action,
      e.target === '' ? '-' : e.target,
      e.outcome === 'ok' ? e.outcome : { text: e.outcome, tone: 'red' },
    ]);
  return formatTable(['TIME', 'ACTOR', 'ROLE', 'ACTION', 'TARGET', 'OUTCOME'], rows, color);
}

/** Registers `audit`. */
export function registerAudit(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('audit')
    .description('show the audit log of API calls (actor, action, target, outcome)')
    .option('--limit <n>', 'how many recent entries (1-1000, default 100)', intInRange(1, 1000))
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: AuditOptions, command: Command) => {
      const list = await ctx.client(command).get('/v1/audit', AuditListResponseSchema, { query: { limit: opts.limit } });
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, list));
      else if (list.items.length === 0) ctx.note('No audit entries.');
      else ctx.out(auditTable(list.items, ctx.color));
    });
  withExamples(cmd, ['ballastctl audit', 'ballastctl audit --limit 20', 'ballastctl audit -o json | jq ".items[] | select(.outcome != \\"ok\\")"']);
}
