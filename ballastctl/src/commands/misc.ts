/**
 * `ballastctl whoami` and `ballastctl version`.
 */
import type { Command } from 'commander';
import { WhoAmIResponseSchema } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { formatFields } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { ctlVersion } from '../version.js';
import { withExamples } from './common.js';

/** Registers `whoami` and `version`. */
export function registerMisc(program: Command, ctx: CliContext): void {
  const whoami = program
    .command('whoami')
    .description('show which account and role the configured token authenticates as')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (opts: { output: Extract<OutputFormat, 'text' | 'json' | 'yaml'> }, command: Command) => {
      const client = ctx.client(command);
      const me = await client.get('/v1/whoami', WhoAmIResponseSchema);
      if (opts.output !== 'text') ctx.out(formatDocument(opts.output, me));
      else ctx.out(formatFields([['Name', me.name], ['Role', me.role], ['Server', client.server], ['Config', ctx.config(command).path]]));
    });
  withExamples(whoami, ['ballastctl whoami', 'ballastctl whoami -o json']);

  const version = program
    .command('version')
    .description('print the ballastctl version (needs no config or controller)')
    .addOption(outputOption(['text', 'json']))
    .action((opts: { output: 'text' | 'json' }) => {
      const clientVersion = ctlVersion();
      ctx.out(opts.output === 'json' ? formatDocument('json', { clientVersion }) : `ballastctl ${clientVersion}\n`);
    });
  withExamples(version, ['ballastctl version', 'ballastctl version -o json']);
}
