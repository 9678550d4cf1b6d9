/**
 * Bounds the `connected` / `disconnected` rows a reconnect storm writes to the event log (issue 15).
 * A controller restart under 10,000 agents meant 10,000 `disconnected` rows at shutdown and 10,000
 * `connected` rows within a minute of the start — a fifth of the log's 100,000-row retention for
 * one routine event, burying what else happened. Within each window (10 s), the first
 * `perWindow` connection events of each kind are written as usual; the rest are counted and written
 * as one summary row per kind when the window ends ("… 9,900 more hosts connected …", with the
 * first names as a sample), so a storm costs at most `perWindow` + 1 rows per kind per window.
 * Hosts' states are unaffected: only the log entries are coalesced. `flush()` writes a pending
 * summary now (at shutdown, before the store closes).
 */
import type { EventKind } from '../../../shared/src/events.js';

/** A connection event as the sessions emit it. */
export interface ConnectionEvent {
  host: string;
  kind: EventKind;
  message: string;
  data?: Record<string, unknown>;
}

/** The event log's append (a summary row has no host). */
export type StormSink = (e: { host: string | null; kind: EventKind; message: string; data?: Record<string, unknown> }) => void;

/** Options of {@link ConnectionStorm}. */
export interface ConnectionStormOptions {
  /** Connection events of one kind written one by one per window; the excess is summarised. */
  perWindow: number;
  windowMs: number;
  /** Names listed in a summary row. */
  sampleNames: number;
  now: () => number;
  sink: StormSink;
}

/** Defaults: far above a normal fleet's churn, far below a storm. */
export const CONNECTION_STORM_DEFAULTS = { perWindow: 100, windowMs: 10_000, sampleNames: 20 } as const;

const COALESCED: ReadonlySet<EventKind> = new Set<EventKind>(['connected', 'disconnected']);

interface Held {
  count: number;
  names: string[];
}

/** See the file comment. */
export class ConnectionStorm {
  #windowStart = Number.NEGATIVE_INFINITY;
  readonly #written = new Map<EventKind, number>();
  readonly #held = new Map<EventKind, Held>();
  #timer: NodeJS.Timeout | null = null;
  /** Connection events summarised instead of written, since start (for tests and metrics). */
  coalescedTotal = 0;

  constructor(private readonly opts: ConnectionStormOptions) {}

  /** Writes `e`, or counts it into this window's summary when its kind is over the window's budget. */
  event(e: ConnectionEvent): void {
    if (!COALESCED.has(e.kind)) {
      this.opts.sink(e);
      return;
    }
    const now = this.opts.now();
    if (now - this.#windowStart >= this.opts.windowMs) this.#newWindow(now);
    const written = this.#written.get(e.kind) ?? 0;
    if (written < this.opts.perWindow) {
      this.#written.set(e.kind, written + 1);
      this.opts.sink(e);
      return;
    }
    let held = this.#held.get(e.kind);
    if (held === undefined) {
      held = { count: 0, names: [] };
      this.#held.set(e.kind, held);
      // The summary is written when the window ends, even if no later event arrives.
      this.#timer = setTimeout(() => this.flush(), Math.max(0, this.#windowStart + this.opts.windowMs - now));
      this.#timer.unref();
    }
    held.count += 1;
    this.coalescedTotal += 1;
    if (held.names.length < this.opts.sampleNames) held.names.push(e.host);
  }

  /** Writes the pending summary rows now. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const [kind, held] of this.#held) {
      const more = held.count - held.names.length;
      const verb = kind === 'connected' ? 'connected' : 'disconnected';
      this.opts.sink({
        host: null,
        kind,
        message:
          `${held.count} more hosts ${verb} within ${this.opts.windowMs / 1000} s (a reconnect storm: only the first ${this.opts.perWindow} ` +
          `per ${this.opts.windowMs / 1000} s are logged one by one): ${held.names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`,
        data: { coalesced: held.count, windowMs: this.opts.windowMs, sample: held.names },
      });
    }
    this.#held.clear();
  }

  #newWindow(now: number): void {
    this.flush();
    this.#windowStart = now;
    this.#written.clear();
  }
}
