/**
 * A per-source token bucket for unauthenticated endpoints (the join): an attacker without a token
 * must not be able to spend the controller's CPU or fill its logs at line rate. Memory is bounded:
 * at most `maxSources` buckets are kept, the least recently used is dropped first (a dropped source
 * simply starts again with a full bucket, which is the safe direction for a legitimate host).
 */
import { BallastError } from '../../../shared/src/errors.js';

/** How fast a source may call: `burst` at once, then `perSecond`. */
export interface RateLimitOptions {
  perSecond: number;
  burst: number;
  /** Bound on tracked sources (default 10,000). */
  maxSources?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by source (an IP address). */
export class SourceRateLimiter {
  readonly #opts: Required<RateLimitOptions>;
  // Map iteration order is insertion order: re-inserting on every take makes it an LRU.
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RateLimitOptions) {
    this.#opts = { maxSources: 10_000, now: Date.now, ...opts };
  }

  /** Takes one call's token for `source` or throws BALLAST_ERR_RATE_LIMITED (HTTP 429). */
  take(source: string, what: string): void {
    const now = this.#opts.now();
    const prev = this.#buckets.get(source);
    const refilled = prev === undefined ? this.#opts.burst : Math.min(this.#opts.burst, prev.tokens + ((now - prev.at) / 1000) * this.#opts.perSecond);
    this.#buckets.delete(source);
    if (refilled < 1) {
      this.#buckets.set(source, { tokens: refilled, at: now });
      const waitS = Math.ceil((1 - refilled) / this.#opts.perSecond);
      throw new BallastError('BALLAST_ERR_RATE_LIMITED', `failed to ${what}: too many attempts from ${source}; try again in ${waitS} s`);
    }
    this.#buckets.set(source, { tokens: refilled - 1, at: now });
    if (this.#buckets.size > this.#opts.maxSources) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }

  /** Number of tracked sources (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }
}
