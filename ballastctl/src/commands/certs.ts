/**
 * `ballastctl certs`: the cluster PKI the controller issued (CAs, etcd and Kubernetes certificates,
 * the service-account key pair, the bootstrap token) with their expiry. Metadata only: the API
 * never returns keys.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { type CertInfo, CertListResponseSchema, CLUSTER_NAME_PATTERN } from '../../../shared/src/certs-api.js';
import type { CliContext } from '../context.js';
import { type Cell, formatAge, formatTable, NONE } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { withExamples } from './common.js';

/** Fewer days left than this shows in yellow (the controller re-issues leaves at 30). */
const WARN_DAYS = 30;

interface CertsOptions {
  cluster?: string;
  output: Extract<OutputFormat, 'table' | 'json' | 'yaml'>;
}

/** Parses `--cluster` with the API's rule, so a typo is a usage error, not a 400. */
export function parseClusterName(text: string): string {
  if (!CLUSTER_NAME_PATTERN.test(text)) {
    throw new InvalidArgumentError('cluster names are 1-63 characters of a-z, 0-9 and "-", starting and ending alphanumeric');
  }
  return text;
}

/**
 * "2034-05-01 (3649d)", "2024-05-01 (23h left)" under a day (the 24-hour bootstrap token showed
 * as "(0d)"), "2024-05-01 (expired)", or <none> for items that do not expire.
 */
function expiresCell(c: CertInfo, now: number): Cell {
  if (c.notAfter === null || c.daysLeft === null) return NONE;
  const date = c.notAfter.slice(0, 10);
  // daysLeft is whole days as the controller counted them; under one, count from our clock.
  const leftMs = c.daysLeft >= 1 ? Number.POSITIVE_INFINITY : Date.parse(c.notAfter) - now;
  if (c.daysLeft < 0 || leftMs <= 0) return { text: `${date} (expired)`, tone: 'red' };
  const text = c.daysLeft >= 1 ? `${date} (${c.daysLeft}d)` : `${date} (${formatAge(leftMs)} left)`;
  return c.daysLeft < WARN_DAYS ? { text, tone: 'yellow' } : text;
}

/**
 * The PKI as a table sorted by cluster and name. A CLUSTER column appears only when the items
 * span several clusters, so the common one-cluster case stays narrow.
 */
export function certTable(items: readonly CertInfo[], color = false, now = Date.now()): string {
  const sorted = [...items].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.name.localeCompare(b.name));
  const multi = new Set(sorted.map((c) => c.cluster)).size > 1;
  const rows = sorted.map((c): Cell[] => [
    ...(multi ? [c.cluster] : []),
    c.name,
    c.kind,
    c.subject,
    c.sans.length === 0 ? NONE : c.sans.join(','),
    expiresCell(c, now),
  ]);
  return formatTable([...(multi ? ['CLUSTER'] : []), 'NAME', 'KIND', 'SUBJECT', 'SANS', 'EXPIRES'], rows, color);
}

/** Registers `certs`. */
export function registerCerts(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('certs')
    .description('list the cluster PKI the controller issued, with expiry dates and days left (keys are never shown)')
    .option('--cluster <name>', 'only this cluster (default: all)', parseClusterName)
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: CertsOptions, command: Command) => {
      const res = await ctx.client(command).get('/v1/certs', CertListResponseSchema, { query: { cluster: opts.cluster } });
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else if (res.items.length === 0) {
        ctx.note(
          opts.cluster === undefined
            ? 'No cluster PKI yet: the controller issues it when a cluster is bootstrapped.'
            : `No certificates for cluster "${opts.cluster}": it has not been bootstrapped (or the name is wrong).`,
        );
      } else ctx.out(certTable(res.items, ctx.color));
    });
  withExamples(cmd, ['ballastctl certs', 'ballastctl certs --cluster prod', 'ballastctl certs -o json | jq ".items[] | select(.daysLeft < 30)"']);
}
