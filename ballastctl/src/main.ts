/**
 * ballastctl's process entry (launched by bin/ballastctl from dist/). The only place that touches
 * process-wide state: signals, the real streams, and the exit code.
 */
import { homedir } from 'node:os';
import { runCli } from './cli.js';
import { EXIT_INTERRUPTED } from './errors.js';

const interrupt = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C ends a watch cleanly; a second one means "stop now", whatever is still pending.
  if (interrupt.signal.aborted) process.exit(EXIT_INTERRUPTED);
  interrupt.abort();
});
// `ballastctl hosts | head -1`: a closed pipe is the reader's choice, not an error worth a trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  homedir: homedir(),
  cwd: process.cwd(),
  signal: interrupt.signal,
});
// Exit only after stdout has flushed, so piped output is never cut short.
process.stdout.write('', () => process.exit(code));
