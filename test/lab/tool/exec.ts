import { spawn } from 'node:child_process';

/** The outcome of one command. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Set when run() killed the command at its deadline. */
  timedOutMs?: number;
}

/** Options of run(). */
export interface RunOptions {
  /** Killed (SIGKILL) after this long; every lab command is bounded. Default 60 s. */
  timeoutMs?: number;
  /** Return a non-zero result instead of throwing. */
  allowFail?: boolean;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;

/** Thrown when a command fails; carries its output for the report. */
export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    const why = result.timedOutMs !== undefined ? `timed out after ${result.timedOutMs} ms (killed)` : result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
    super(`failed to run ${argv.join(' ')}: ${why}${tail ? `\n${tail}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs an argv (never a shell string) to completion with a deadline, capturing output. */
export function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const [command, ...args] = argv;
  if (!command) throw new Error('failed to run a command: empty argv');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += d.toString();
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const limitMs = options.timeoutMs ?? 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`failed to run ${argv.join(' ')}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = { code, signal, stdout, stderr, durationMs: Date.now() - started, ...(timedOut ? { timedOutMs: limitMs } : {}) };
      if (code !== 0 && !options.allowFail) reject(new CommandError(argv, result));
      else resolve(result);
    });
  });
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Runs an argv with our stdin, stdout and stderr (output streams as it comes, e.g. `ctl events
 * -f`), forwarding SIGINT, SIGTERM and SIGHUP to it, and resolves with the exit code a shell
 * would report (128 + signal number when it was killed). `run` captures output until the command
 * exits, and a killed lab CLI left its child running: this one does neither.
 */
export function runStreaming(argv: string[], options: Pick<RunOptions, 'env' | 'cwd'> = {}): Promise<number> {
  const [command, ...args] = argv;
  if (!command) throw new Error('failed to run a command: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env: options.env ?? process.env, cwd: options.cwd });
    const forward = (sig: NodeJS.Signals) => {
      child.kill(sig);
    };
    for (const sig of FORWARDED) process.on(sig, forward);
    const done = () => {
      for (const sig of FORWARDED) process.off(sig, forward);
    };
    child.once('error', (err) => {
      done();
      reject(new Error(`failed to run ${argv.join(' ')}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : (SIGNAL_NUMBERS[signal] ?? 0)));
    });
  });
}

/** Thrown by a waitUntil probe to stop waiting at once (the awaited thing can no longer happen). */
export class StopWaiting extends Error {}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value other than undefined, at most until `timeoutMs`.
 * Bounded in time and (through the interval) in count.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}
