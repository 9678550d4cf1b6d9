/**
 * `ballastctl operator create|list|revoke` (admin only): operator accounts. `create` prints the
 * new bearer token once, with a config file ready to hand to that operator.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type OperatorInfo,
  OperatorCreateResponseSchema,
  OperatorInfoSchema,
  OperatorListResponseSchema,
  ROLES,
  type Role,
} from '../../../shared/src/api.js';
import { CONFIG_API_VERSION, type ResolvedConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { ageOf, type Cell, formatTable } from '../format.js';
import { formatDocument, type OutputFormat, outputOption, toYaml } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';

/** The config file text for a new operator: same server and CA as ours, their token. */
export function operatorConfigSnippet(resolved: ResolvedConfig, name: string, token: string): string {
  return toYaml({
    apiVersion: CONFIG_API_VERSION,
    kind: 'Config',
    server: resolved.server.href.replace(/\/+$/, ''),
    caCert: resolved.config.caCert,
    token,
    user: name,
  });
}

/** Renders operator accounts as a table. */
export function operatorTable(items: readonly OperatorInfo[], now: number, color = false): string {
  const rows = items.map((o): Cell[] => [
    o.name,
    o.role,
    o.revoked ? { text: 'revoked', tone: 'dim' } : { text: 'active', tone: 'green' },
    ageOf(o.createdAt, now),
  ]);
  return formatTable(['NAME', 'ROLE', 'STATUS', 'AGE'], rows, color);
}

interface CreateOptions {
  role: Role;
  output: Extract<OutputFormat, 'text' | 'json'>;
}

/** Registers the `operator` group. */
export function registerOperator(program: Command, ctx: CliContext): void {
  const group = program.command('operator').description('manage operator accounts and their tokens (admin only)');
  withExamples(group, ['ballastctl operator create alice --role operator', 'ballastctl operator list', 'ballastctl operator revoke alice']);

  const create = group
    .command('create')
    .description('create an operator account and print its token and a config file (shown once)')
    .argument('<name>', 'account name', parseName)
    .addOption(new Option('--role <role>', 'viewer: read only; operator: also tokens and hosts; admin: also accounts').choices(ROLES).makeOptionMandatory())
    .addOption(outputOption(['text', 'json']))
    .action(async (name: string, opts: CreateOptions, command: Command) => {
      const res = await ctx.client(command).post('/v1/operators', { name, role: opts.role }, OperatorCreateResponseSchema);
      if (opts.output === 'json') {
        ctx.out(formatDocument('json', res));
        return;
      }
      const snippet = operatorConfigSnippet(ctx.config(command), res.info.name, res.token);
      ctx.out(
        `Operator "${res.info.name}" created with role ${res.info.role}.\n` +
          `Token (shown only once, store it now): ${res.token}\n\n` +
          `Config for ${res.info.name} (save as ~/.config/ballast/config with mode 0600):\n\n${snippet}`,
      );
    });
  withExamples(create, ['ballastctl operator create alice --role operator', 'ballastctl operator create ci --role viewer -o json']);

  const list = group
    .command('list')
    .description('list operator accounts')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/operators', OperatorListResponseSchema);
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else ctx.out(operatorTable(res.items, ctx.now(), ctx.color));
    });
  withExamples(list, ['ballastctl operator list', 'ballastctl operator list -o yaml']);

  const revoke = group
    .command('revoke')
    .description("revoke an operator account; its token stops working immediately")
    .argument('<name>', 'account name', parseName)
    .action(async (name: string, _opts: unknown, command: Command) => {
      const info = await ctx.client(command).delete(`/v1/operators/${encodeURIComponent(name)}`, OperatorInfoSchema);
      ctx.out(`operator "${info.name}" (${info.role}) revoked\n`);
    });
  withExamples(revoke, ['ballastctl operator revoke alice']);
}
