import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { ExecOptions, ExecPort, ExecResult } from './ports.js';

/** Output beyond this is dropped from the front: the end of stderr is what explains a failure. */
export const MAX_CAPTURED_OUTPUT = 1024 * 1024;

/** A command still alive this long after SIGTERM is killed with SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** Options of {@link createExec}. */
export interface CreateExecOptions {
  /** Used when a call gives no timeout; default 10 minutes (kubeadm init can take minutes). */
  defaultTimeoutMs?: number;
}

/**
 * The real {@link ExecPort}: spawns argv directly (no shell), captures output, and on timeout or
 * abort terminates the command's whole process group — kubeadm and friends start children that
 * would otherwise outlive a cancelled run.
 */
export function createExec(opts: CreateExecOptions = {}): ExecPort {
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? 600_000;
  return (argv, callOpts = {}) => runArgv(argv, callOpts, defaultTimeoutMs);
}

function runArgv(argv: string[], opts: ExecOptions, defaultTimeoutMs: number): Promise<ExecResult> {
  const [command, ...args] = argv;
  if (command === undefined || command === '') {
    return Promise.reject(new BallastError('BALLAST_ERR_COMMAND_FAILED', 'failed to run a command: argv is empty'));
  }
  if (opts.signal?.aborted) return Promise.reject(cancelled(command));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a kill reaches the grandchildren too.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let ended: 'timeout' | 'cancelled' | null = null;
    let graceTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = capTail(stdout + chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = capTail(stderr + chunk);
    });
    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone: nothing left to kill.
      }
    };
    const terminate = (why: 'timeout' | 'cancelled') => {
      if (ended !== null) return;
      ended = why;
      killGroup('SIGTERM');
      graceTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const timer = setTimeout(() => terminate('timeout'), timeoutMs);
    const onAbort = () => terminate('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      cleanup();
      reject(new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run ${command}: ${messageOf(err)}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      cleanup();
      if (ended === 'timeout') {
        reject(new BallastError('BALLAST_ERR_COMMAND_TIMEOUT', `failed to run ${command}: timed out after ${timeoutMs} ms`));
      } else if (ended === 'cancelled') {
        reject(cancelled(command));
      } else {
        resolve({ code: code ?? 128 + (signal === null ? 0 : constants.signals[signal]), stdout, stderr });
      }
    });
  });
}

function cancelled(command: string): BallastError {
  return new BallastError('BALLAST_ERR_CANCELLED', `failed to run ${command}: cancelled`);
}

function capTail(text: string): string {
  return text.length <= MAX_CAPTURED_OUTPUT ? text : text.slice(text.length - MAX_CAPTURED_OUTPUT);
}

/** The last `maxLines` lines (at most `maxChars`) of command output, for error messages. */
export function tail(text: string, maxLines = 20, maxChars = 2000): string {
  const lines = text.trimEnd().split('\n');
  const last = lines.slice(-maxLines).join('\n');
  return last.length <= maxChars ? last : `…${last.slice(last.length - maxChars)}`;
}
