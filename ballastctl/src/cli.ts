/**
 * The ballastctl command tree and its error policy, as a function of argv and IO so that tests
 * drive it in-process. Exit codes: 0 success (and --help), 1 runtime failure (controller refused,
 * failed or unreachable), 2 usage or config problem, 130 interrupted non-streaming command.
 */
import { Command, CommanderError } from 'commander';
import { BallastError, messageOf } from '../../shared/src/errors.js';
import { checkCommandPath } from './command-path.js';
import { registerApply } from './commands/apply.js';
import { registerArtifacts } from './commands/artifacts.js';
import { registerAudit } from './commands/audit.js';
import { registerCerts } from './commands/certs.js';
import { registerCluster } from './commands/cluster.js';
import { registerEtcd } from './commands/etcd.js';
import { registerEvents } from './commands/events.js';
import { registerHost } from './commands/host.js';
import { registerHosts } from './commands/hosts.js';
import { registerMisc } from './commands/misc.js';
import { registerNode } from './commands/node.js';
import { registerOperator } from './commands/operator.js';
import { registerOps } from './commands/ops.js';
import { registerRuns } from './commands/runs.js';
import { registerToken } from './commands/token.js';
import { registerVip } from './commands/vip.js';
import { CliContext, type CliIo } from './context.js';
import { applyShadowedValues, takeShadowedOptions } from './shadowed-options.js';
import { AbortedError, CtlError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, exitCodeOf, oneLine, usageError } from './errors.js';
import { ctlVersion } from './version.js';

/** The IO boundary runCli takes (re-exported so callers import only cli.js). */
export type { CliIo, OutStream } from './context.js';

// Commander codes for output that was asked for (not an error).
const INFO_CODES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Builds the command tree bound to `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ballastctl');
  // These settings must precede .command(): subcommands copy them when created.
  program
    .description('Operate a Ballast cluster: hosts, events, join tokens, operator accounts.')
    .option('--config <file>', 'config file (default: $BALLAST_CONFIG, then ~/.config/ballast/config)')
    .option('--server <url>', "controller URL, overriding the config's server")
    .version(ctlVersion(), '--version', 'print the ballastctl version')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      // Errors are printed by runCli as one line; commander's own copy would be a duplicate.
      outputError: () => undefined,
      getOutHasColors: () => ctx.color,
      getErrHasColors: () => false,
    });
  // A group invoked without a subcommand makes commander print its whole help to stderr; turn that
  // into the same one-line usage error as every other mistake.
  program.on('beforeAllHelp', (context: { error: boolean; command: Command }) => {
    if (!context.error) return;
    const subcommands = context.command.commands.map((c) => c.name()).filter((n) => n !== 'help');
    const path = commandPath(context.command);
    throw usageError(`missing command for '${path}': one of ${subcommands.join(', ')} (see '${path} --help')`);
  });
  program.addHelpText(
    'after',
    '\nExamples:\n  $ ballastctl hosts\n  $ ballastctl token create --ttl 30m\n  $ ballastctl events --follow\n' +
      '\nExit codes: 0 ok, 1 the controller refused, failed or was unreachable, 2 usage or config error.\n',
  );

  registerHosts(program, ctx);
  registerHost(program, ctx);
  registerEvents(program, ctx);
  registerToken(program, ctx);
  registerAudit(program, ctx);
  registerOperator(program, ctx);
  registerArtifacts(program, ctx);
  registerApply(program, ctx);
  registerRuns(program, ctx);
  registerOps(program, ctx);
  registerCluster(program, ctx);
  registerNode(program, ctx);
  registerCerts(program, ctx);
  registerVip(program, ctx);
  registerEtcd(program, ctx);
  registerMisc(program, ctx);
  return program;
}

/** Prints `err` as one stderr line and returns the exit code it maps to. */
function report(ctx: CliContext, err: unknown): number {
  if (err instanceof CommanderError) {
    if (INFO_CODES.has(err.code) && err.exitCode === 0) return 0;
    const message = oneLine(err.message);
    ctx.note(message.startsWith('error:') ? message : `error: ${message}`);
    return EXIT_USAGE;
  }
  if (err instanceof AbortedError || ctx.signal?.aborted === true) return EXIT_INTERRUPTED;
  if (err instanceof CtlError) {
    ctx.note(`error: ${oneLine(err.message)}`);
    return err.exitCode;
  }
  if (err instanceof BallastError) {
    ctx.note(`error: ${err.code}: ${oneLine(err.message)}`);
    return exitCodeOf(err.code);
  }
  // A bug in ballastctl: still one line, but say so instead of pretending it is the server's fault.
  ctx.note(`error: internal error in ballastctl: ${oneLine(messageOf(err))}`);
  return EXIT_FAILURE;
}

/**
 * Runs ballastctl with `argv` (without node and script path) and returns the exit code.
 * Never calls process.exit and never throws; main.ts owns the process.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = new CliContext(io);
  try {
    const program = buildProgram(ctx);
    checkCommandPath(program, argv);
    const { argv: rest, values } = takeShadowedOptions(program, argv);
    program.hook('preAction', (_root, action) => applyShadowedValues(action, values));
    await program.parseAsync(rest, { from: 'user' });
    return 0;
  } catch (err) {
    return report(ctx, err);
  } finally {
    ctx.close();
  }
}
