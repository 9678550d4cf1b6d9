/**
 * Command-line flags of a benchmark: `--help`/`-h` prints its usage and exits 0; an unknown flag or
 * a missing value prints the mistake and the usage and exits 2 — never a stack trace. Every bench's
 * entry point parses its flags through this.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** parseArgs(config) (strict), with the behaviour above; `usage` is the whole help text. */
export function benchArgs<const T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const argv = config.args ?? process.argv.slice(2);
  // Before parsing: `--help` must work even next to a flag that is wrong.
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs<T>(config);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${usage.trimEnd()}\n`);
    process.exit(2);
  }
}

/** Exits 2 with `message` and a pointer to --help (for values the bench checks itself). */
export function usageError(message: string): never {
  process.stderr.write(`error: ${message} (--help lists the flags)\n`);
  process.exit(2);
}
