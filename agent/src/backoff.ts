/**
 * Reconnect delays for the agent's controller connection.
 *
 * Why "decorrelated jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter") and not
 * "full jitter": when a controller restarts, every agent loses its connection in the same instant.
 * Full jitter draws from [0, base·2^n], so the first retry of all agents lands in [0, base] and a
 * large share retries within a few ms, hammering a controller that is still starting; adding a
 * floor only moves that pile-up onto the floor. Decorrelated jitter draws from [base, 3·previous],
 * so the first retries are already spread over [base, 3·base], no retry is ever shorter than base,
 * and each agent's next delay depends on its own previous draw, so agents drift further apart with
 * every attempt instead of marching in lock-step.
 *
 * One deviation from the blog: its `min(cap, random(base, 3·previous))` clamps *after* drawing, so
 * once `3·previous` exceeds the cap about two thirds of long-failing agents sleep exactly `cap` and
 * are synchronised again. We clamp the range *before* drawing, so long-failing agents stay spread
 * over [base, cap]. The price (inherent to decorrelated jitter) is that a draw may fall back towards
 * base, so the steady-state mean is about a third of the cap (~10 s for 30 s), not the cap itself.
 */

/** No delay is ever shorter than this, whatever `baseMs` says, so a restarted controller is not hammered. */
export const MIN_BACKOFF_MS = 100;

/** Options of {@link createBackoff}. */
export interface BackoffOptions {
  /** Smallest delay and the scale of the first ones; default 500 ms, raised to {@link MIN_BACKOFF_MS}. */
  baseMs?: number;
  /** No delay is ever longer than this; default 30 s. */
  capMs?: number;
  /** Uniform source in [0, 1); injected so tests are deterministic. Default `Math.random`. */
  random?: () => number;
}

/** A stateful reconnect-delay sequence; one per connection. */
export interface Backoff {
  /** The delay before the next attempt, in ms; advances the sequence. */
  next(): number;
  /** Back to the first delay, after a connection succeeded (and stayed up). */
  reset(): void;
  /** How many delays `next()` has handed out since creation or the last `reset()`. */
  readonly attempts: number;
}

/** Creates a decorrelated-jitter backoff (see the file comment for why this flavour). */
export function createBackoff(opts: BackoffOptions = {}): Backoff {
  const base = Math.max(MIN_BACKOFF_MS, finiteOr(opts.baseMs, 500));
  const cap = Math.max(base, finiteOr(opts.capMs, 30_000));
  const random = opts.random ?? Math.random;
  let previous = base;
  let attempts = 0;

  return {
    next(): number {
      const upper = Math.min(cap, previous * 3);
      // Clamp the draw too: a misbehaving random source (1, NaN, negative) must not break the bounds.
      const r = Math.min(1, Math.max(0, random() || 0));
      const delay = Math.min(upper, Math.max(base, Math.round(base + r * (upper - base))));
      previous = delay;
      attempts += 1;
      return delay;
    },
    reset(): void {
      previous = base;
      attempts = 0;
    },
    get attempts(): number {
      return attempts;
    },
  };
}

function finiteOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) ? value : fallback;
}
