/**
 * Small helpers shared by the command files: help examples, and treating Ctrl-C as the normal
 * end of a stream.
 */
import type { Command } from 'commander';
import { AbortedError } from '../errors.js';

/** Adds an "Examples:" section to a command's --help. */
export function withExamples(cmd: Command, examples: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}

/**
 * Runs a streaming loop and returns normally when the user interrupts it: Ctrl-C is how a watch
 * is meant to end, so it exits 0 rather than reporting an error.
 */
export async function untilInterrupted(signal: AbortSignal | undefined, loop: () => Promise<void>): Promise<void> {
  try {
    await loop();
  } catch (err) {
    if (err instanceof AbortedError || signal?.aborted === true) return;
    throw err;
  }
}

/** ANSI "home + clear screen", used to redraw a watched table in place on a terminal. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';
