/**
 * `ballastctl host label HOST key=value … key- [--overwrite]`: kubectl label's grammar. `key=value`
 * sets, `key-` removes, and changing a value the host already has needs `--overwrite`. Only the
 * shape of each argument is checked here (a usage error, exit 2); the controller validates keys and
 * values (shared/src/labels.ts) and answers BALLAST_ERR_LABEL_INVALID / BALLAST_ERR_LABEL_EXISTS.
 */
import type { Command } from 'commander';
import { type HostLabelRequest, HostSummarySchema } from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { formatDocument, isStructured, type OutputFormat, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';

/** Splits `key=value` and `key-` arguments; throws a usage error (exit 2) for anything else. */
export function parseLabelArgs(args: readonly string[]): Pick<HostLabelRequest, 'set' | 'remove'> {
  // A Map, not an object: a key such as `__proto__` must reach the controller (which refuses it), not vanish here.
  const set = new Map<string, string>();
  const remove: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq > 0) {
      const key = arg.slice(0, eq);
      if (set.has(key)) throw usageError(`label ${key} is given twice`);
      set.set(key, arg.slice(eq + 1));
    } else if (eq < 0 && arg.length > 1 && arg.endsWith('-')) {
      remove.push(arg.slice(0, -1));
    } else {
      throw usageError(`"${arg}" is neither key=value (set) nor key- (remove)`);
    }
  }
  if (args.length === 0) throw usageError('give at least one key=value or key-');
  return { set: Object.fromEntries(set), remove };
}

interface LabelOptions {
  overwrite: boolean;
  output: Extract<OutputFormat, 'text' | 'json' | 'yaml'>;
}

/** Registers `host label` under the `host` group. */
export function registerHostLabel(group: Command, ctx: CliContext): void {
  const cmd = group
    .command('label')
    .description('set (key=value) or remove (key-) labels of a host; a value it already has changes only with --overwrite')
    .argument('<name>', 'host name', parseName)
    .argument('<labels...>', 'key=value to set, key- to remove (Kubernetes label syntax)')
    .option('--overwrite', 'allow changing the value of a label the host already has', false)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (name: string, args: string[], opts: LabelOptions, command: Command) => {
      const change = parseLabelArgs(args);
      const body: HostLabelRequest = { ...change, overwrite: opts.overwrite };
      const host = await ctx.client(command).request('PATCH', `/v1/hosts/${encodeURIComponent(name)}/labels`, HostSummarySchema, { body });
      if (isStructured(opts.output)) return ctx.out(formatDocument(opts.output, host));
      const labels = Object.entries(host.labels ?? {}).map(([k, v]) => `${k}=${v}`);
      ctx.out(`host "${host.name}" labelled: ${labels.length === 0 ? '<none>' : labels.join(' ')}\n`);
    });
  withExamples(cmd, ['ballastctl host label node-5 pool=spare', 'ballastctl host label node-5 pool=reserve --overwrite', 'ballastctl host label node-5 pool-']);
}
