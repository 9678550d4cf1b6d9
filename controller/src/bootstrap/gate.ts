/**
 * Health gates: poll a condition until it holds, the deadline passes (BALLAST_ERR_GATE with the
 * last reason it did not hold) or the step is aborted. Every probe has its own deadline inside
 * `probe`, so a gate never hangs on one unreachable endpoint.
 */
import { BallastError, messageOf } from '../../../shared/src/errors.js';

/**
 * Default pause between probes: short, because a gate's wait is pure latency of the rollout, and
 * every probe is a few cheap calls with their own deadlines.
 */
export const GATE_INTERVAL_MS = 250;

/** One probe: null when the condition holds, else why not. */
export type GateProbe = () => Promise<string | null>;

/** Options of {@link waitForGate}. */
export interface GateOptions {
  what: string;
  probe: GateProbe;
  signal: AbortSignal;
  timeoutMs: number;
  intervalMs: number;
  progress?: (message: string) => void;
}

/** Resolves with the number of probes it took; throws BALLAST_ERR_GATE when the deadline passes first. */
export async function waitForGate(opts: GateOptions): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'not probed yet';
  for (let attempt = 1; ; attempt++) {
    if (opts.signal.aborted) throw opts.signal.reason;
    try {
      const why = await opts.probe();
      if (why === null) return attempt;
      last = why;
    } catch (err) {
      last = messageOf(err);
    }
    if (attempt === 1 || attempt % 5 === 0) opts.progress?.(`${opts.what}: waiting (${last})`);
    if (Date.now() + opts.intervalMs > deadline) {
      throw new BallastError('BALLAST_ERR_GATE', `${opts.what}: not met after ${Math.round(opts.timeoutMs / 1000)} s: ${last}`);
    }
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        opts.signal.removeEventListener('abort', onAbort);
        resolve();
      }, opts.intervalMs);
      opts.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
