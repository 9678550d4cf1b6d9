/**
 * The `command` fence agent: an argv run on the controller (never a shell) with BALLAST_FENCE_HOST
 * set; exit 0 within the timeout is the confirmation that the host is off, anything else is
 * BALLAST_ERR_FENCE_FAILED with the exit code and the end of stderr.
 *
 * Decisions, for the ways a real fence command misbehaves:
 * - Output is kept bounded (the last 4 KiB of each stream) and never fails the fence: a chatty
 *   ipmitool that did power the host off is a success (execFile's maxBuffer would kill it and
 *   report a failure for a host that is in fact off).
 * - The command runs in its own process group; at the timeout (or when the operation is aborted)
 *   the whole group gets SIGTERM, then SIGKILL 2 s later, so a wrapper script's children (a
 *   `sleep`, a hung `ipmitool`) die too and cannot keep the pipes — and the fence step — open.
 * - After the command exits, output still held open by a leftover background child is waited for
 *   at most 1 s.
 */
import { spawn } from 'node:child_process';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { FenceOutcome } from './fence.js';

const KEEP_BYTES = 4096;
const KILL_GRACE_MS = 2000;
const DRAIN_AFTER_EXIT_MS = 1000;

/** Options of {@link runFenceCommand}. */
export interface FenceCommandOptions {
  host: string;
  argv: readonly string[];
  timeoutMs: number;
  signal: AbortSignal;
  /** SIGTERM → SIGKILL grace at the timeout; tests shorten it. */
  killGraceMs?: number;
}

/** Runs a fence command; exit 0 in time confirms the host is off. See the file comment. */
export function runFenceCommand(o: FenceCommandOptions): Promise<FenceOutcome> {
  const [file, ...args] = o.argv;
  if (file === undefined) return Promise.reject(new BallastError('BALLAST_ERR_CONFIG', `failed to fence ${o.host}: the fence command's argv is empty`));
  const failed = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_FENCE_FAILED', `failed to fence ${o.host} with ${file}: ${why}; the host may still be running, nothing was removed`, cause === undefined ? {} : { cause });
  if (o.signal.aborted) return Promise.reject(o.signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BALLAST_FENCE_HOST: o.host } });
    const out = tail();
    const err = tail();
    child.stdout.on('data', out.add);
    child.stderr.on('data', err.add);
    let settled = false;
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone, which is what we want
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, o.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      o.signal.removeEventListener('abort', onAbort);
      fn();
    };
    child.once('error', (e) => finish(() => reject(failed(`cannot run it (${messageOf(e)})`, e))));
    child.once('exit', () => {
      // A background child of the command may hold the pipes open: read what is there, then stop waiting.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, DRAIN_AFTER_EXIT_MS);
    });
    child.once('close', (code, sig) => {
      finish(() => {
        if (aborted) return reject(o.signal.reason);
        const stderr = err.text();
        if (timedOut) return reject(failed(`no answer within ${o.timeoutMs} ms (its process group was killed)${stderr === '' ? '' : `: ${stderr.slice(-300)}`}`));
        if (code === 0) {
          const stdout = out.text();
          return resolve({ method: 'command', message: `${o.host} fenced by ${file}${stdout === '' ? '' : `: ${stdout.slice(-200)}`}` });
        }
        const exit = code === null ? `killed by ${sig ?? 'a signal'}` : `exit code ${code}`;
        reject(failed(`${exit}${stderr === '' ? '' : `: ${stderr.slice(-300)}`}`));
      });
    });
  });
}

/** The last {@link KEEP_BYTES} of a stream, as trimmed text. */
function tail(): { add: (d: Buffer) => void; text: () => string } {
  let buf = Buffer.alloc(0);
  return {
    add: (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > KEEP_BYTES) buf = buf.subarray(buf.length - KEEP_BYTES);
    },
    text: () => buf.toString('utf8').replace(/^\uFFFD+/, '').trim(),
  };
}
