/**
 * Checks the command words of argv against the command tree before commander parses it. With
 * `--help` anywhere, commander prints the help of the deepest command it recognised and exits 0,
 * so `ballastctl node replace --help` printed the top-level help with success: a script could
 * not tell a missing command from a present one. Same for `ballastctl help node`.
 */
import type { Command, Option } from 'commander';
import { didYouMean } from '../../shared/src/suggest.js';
import { usageError } from './errors.js';

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The option of `cmd` or an ancestor that `token` names (`--config`, `-o`, `--config=x`). */
function optionOf(cmd: Command, token: string): Option | undefined {
  const flag = token.split('=')[0];
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Throws a usage error (exit 2) naming the first word of `argv` that is not a command where a
 * command is expected, with "did you mean". Only needed, and only run, when argv asks for help:
 * without it commander already fails on an unknown command.
 */
export function checkCommandPath(program: Command, argv: readonly string[]): void {
  const wantsHelp = argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';
  if (!wantsHelp) return;
  let cmd = program;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') return;
    if (token.startsWith('-')) {
      const option = optionOf(cmd, token);
      // A value-taking option given as two words: its value is not a command.
      if (option !== undefined && (option.required || option.optional) && !token.includes('=')) i++;
      continue;
    }
    if (cmd === program && token === 'help' && i === 0) continue;
    if (cmd.commands.length === 0) return;
    const sub = cmd.commands.find((c) => c.name() === token || c.aliases().includes(token));
    if (sub !== undefined) {
      cmd = sub;
      continue;
    }
    // A group that also takes arguments of its own (`host NAME`): the word is an argument.
    if (cmd.registeredArguments.length > 0) return;
    const names = cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]).filter((n) => n !== 'help');
    const path = commandPath(cmd);
    throw usageError(`unknown command '${token}' for '${path}'${didYouMean(token, names)} (see '${path} --help')`);
  }
}
