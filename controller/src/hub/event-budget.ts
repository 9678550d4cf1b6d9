/**
 * Per-session bound on agent `event` frames (issue 16 point 6): each is a row in the event log, and
 * one agent wrote ~50 MB/s of them. A token bucket lets a real burst through (a host whose
 * components all restart at once) and drops the rest; the drops are counted, and summarised in one
 * warning per interval rather than one log line per frame (a log line per dropped frame would be
 * the same flood, moved to the journal).
 */

/** How many events a session may send: `burst` at once, then `perSecond`. */
export interface EventBudgetOptions {
  perSecond: number;
  burst: number;
  /** At most one warning (and one coded error frame to the agent) per this many ms. */
  warnEveryMs: number;
}

/** The defaults: far above what an agent sends (a few events a minute), far below a flood. */
export const EVENT_BUDGET_DEFAULTS: EventBudgetOptions = { perSecond: 20, burst: 100, warnEveryMs: 60_000 };

/** What to do with one event frame. */
export type EventVerdict = { accept: true } | { accept: false; warn: { dropped: number } | null };

/** One session's token bucket plus the rate limit of its warning. */
export class EventBudget {
  private tokens: number;
  private at: number | null = null;
  private readonly warnings: WarnThrottle;

  constructor(private readonly opts: EventBudgetOptions = EVENT_BUDGET_DEFAULTS) {
    this.tokens = opts.burst;
    this.warnings = new WarnThrottle(opts.warnEveryMs);
  }

  /** Takes a token for an event arriving at `now`; a refusal carries a warning at most once per interval. */
  take(now: number): EventVerdict {
    if (this.at !== null) this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.at) / 1000) * this.opts.perSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { accept: true };
    }
    const dropped = this.warnings.take(now);
    return { accept: false, warn: dropped === null ? null : { dropped } };
  }
}

/**
 * Lets a repeated warning through at most once per interval, counting what it held back, so that a
 * peer repeating one mistake at line rate costs one log line a minute, not one per frame.
 */
export class WarnThrottle {
  private suppressed = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  /** The number of occurrences this warning stands for (itself + the suppressed), or null: stay quiet. */
  take(now: number): number | null {
    this.suppressed += 1;
    if (now - this.lastAt < this.everyMs) return null;
    this.lastAt = now;
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
