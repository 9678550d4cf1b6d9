/**
 * `ballastctl host NAME`, `host show NAME`, `host label NAME …` and `host remove NAME`: one host in
 * detail, its labels (host-label.ts), and its removal (which revokes its certificate on the controller).
 */
import type { Command } from 'commander';
import { HostDetailResponseSchema, HostSummarySchema } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { hostDetailText } from '../host-detail.js';
import { formatDocument, isStructured, type OutputFormat, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';
import { registerHostLabel } from './host-label.js';

interface ShowOptions {
  output: Extract<OutputFormat, 'text' | 'json' | 'yaml'>;
}

async function show(ctx: CliContext, command: Command, name: string, opts: ShowOptions): Promise<void> {
  const detail = await ctx.client(command).get(`/v1/hosts/${encodeURIComponent(name)}`, HostDetailResponseSchema);
  ctx.out(isStructured(opts.output) ? formatDocument(opts.output, detail) : hostDetailText(detail, ctx.now(), ctx.color));
}

/** Registers the `host` group. */
export function registerHost(program: Command, ctx: CliContext): void {
  const group = program
    .command('host')
    .description('show one host in detail ("host NAME" is "host show NAME"), label it, or remove it')
    .usage('NAME | show NAME | label NAME key=value… key-… [--overwrite] | remove NAME');
  withExamples(group, ['ballastctl host node-1', 'ballastctl host show node-1 -o yaml', 'ballastctl host label node-5 pool=spare', 'ballastctl host remove node-1']);

  // `show` is the default subcommand, so "host NAME" works. The group itself has no options:
  // commander lets a parent consume its own options anywhere on the line, which would swallow
  // the subcommand's -o.
  const showCmd = group
    .command('show', { isDefault: true })
    .description('show facts, health checks and recent events of a host')
    .argument('<name>', 'host name', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action((name: string, opts: ShowOptions, command: Command) => show(ctx, command, name, opts));
  withExamples(showCmd, ['ballastctl host show node-1', 'ballastctl host node-1 -o json | jq .health.checks']);

  const removeCmd = group
    .command('remove')
    .description("remove a host and revoke its certificate (its agent can no longer connect)")
    .argument('<name>', 'host name', parseName)
    .action(async (name: string, _opts: unknown, command: Command) => {
      const host = await ctx.client(command).delete(`/v1/hosts/${encodeURIComponent(name)}`, HostSummarySchema);
      ctx.out(`host "${host.name}" removed (id ${host.id}, was ${host.state}); its certificate is revoked\n`);
    });
  withExamples(removeCmd, ['ballastctl host remove node-1']);
  registerHostLabel(group, ctx);
}
