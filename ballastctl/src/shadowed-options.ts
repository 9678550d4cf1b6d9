/**
 * A command's own option that has the name of a global one: after the command's word it is the
 * command's, before it the global's. `ballastctl cluster kubeconfig prod --server URL` writes URL
 * into the kubeconfig as kubectl's `--server` would, while `ballastctl --server CTL cluster
 * kubeconfig prod` still picks the controller. Commander cannot say this: unless positional
 * options are on for the whole program (which would break `ballastctl hosts --config x`), the
 * root claims its options anywhere on the line. So such tokens are taken out of argv before
 * commander parses it and handed to the command just before its action runs.
 */
import type { Command, Option } from 'commander';
import { messageOf } from '../../shared/src/errors.js';
import { usageError } from './errors.js';

/** One value of a command's own option that shadows a global one. */
export interface ShadowedValue {
  command: Command;
  option: Option;
  value: string;
}

/** The option of `cmd` or an ancestor that `flag` names. */
function optionOf(cmd: Command, flag: string): Option | undefined {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** `cmd`'s own option named `flag` when an ancestor has an option of that name too. */
function shadowing(cmd: Command, flag: string): Option | undefined {
  const own = cmd.options.find((o) => o.long === flag);
  if (own === undefined || !(own.required || own.optional)) return undefined;
  for (let c = cmd.parent; c !== null; c = c.parent) if (c.options.some((o) => o.long === flag)) return own;
  return undefined;
}

/**
 * Splits `argv` into what commander should parse and the values of shadowing options that came
 * after their command's word (`--server URL` and `--server=URL`). A shadowing option without a
 * value is a usage error (exit 2), as commander would report it.
 */
export function takeShadowedOptions(program: Command, argv: readonly string[]): { argv: string[]; values: ShadowedValue[] } {
  const rest: string[] = [];
  const values: ShadowedValue[] = [];
  let cmd = program;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (token.startsWith('-')) {
      const [flag = '', inline] = token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
      const own = shadowing(cmd, flag);
      if (own !== undefined) {
        const value = inline ?? argv[i + 1];
        if (value === undefined) throw usageError(`option '${own.flags}' argument missing`);
        values.push({ command: cmd, option: own, value });
        if (inline === undefined) i++;
        continue;
      }
      rest.push(token);
      const option = optionOf(cmd, flag);
      // A value-taking option given as two words: its value is not a command word.
      if (option?.required && inline === undefined && i + 1 < argv.length) rest.push(argv[++i] ?? '');
      continue;
    }
    rest.push(token);
    const sub = cmd.commands.find((c) => c.name() === token || c.aliases().includes(token));
    if (sub !== undefined) cmd = sub;
  }
  return { argv: rest, values };
}

/** Sets the values taken by {@link takeShadowedOptions} on `action` (a `preAction` hook), through the option's parser. */
export function applyShadowedValues(action: Command, values: readonly ShadowedValue[]): void {
  for (const { command, option, value } of values) {
    if (command !== action) continue;
    let parsed: unknown = value;
    if (option.parseArg !== undefined) {
      try {
        parsed = option.parseArg(value, undefined);
      } catch (err) {
        throw usageError(`option '${option.flags}' argument '${value}' is invalid. ${messageOf(err)}`);
      }
    }
    action.setOptionValueWithSource(option.attributeName(), parsed, 'cli');
  }
}
