/**
 * Heartbeats arrive every second from every host; writing each one would make SQLite commit
 * thousands of times a second. The batcher keeps only the newest heartbeat per host and writes
 * them all in one transaction per interval (`--heartbeat-flush`, 50 ms), then tells each sender its
 * heartbeat is durable (the `hb-ack`).
 *
 * They go to the narrow `host_heartbeats` table (migration 10), not the `hosts` row: a host row
 * carries multi-KB facts and health JSON, and rewriting it per heartbeat was 42% of the
 * controller's CPU at 5,000 agents (README "Performance"). The live deadline is kept in memory by
 * the host tracker; this table is what survives a crash: at most one flush interval of last-seen
 * times is lost, and a restarted controller gives every host a grace period before that old time
 * counts against it (host-tracker.ts `load`).
 */
import { performance } from 'node:perf_hooks';
import type { Database } from './db.js';

/** Called once the heartbeat (or a newer one of the same host) is committed. */
export type HeartbeatStored = (storedAt: number) => void;

/** Where a batcher error happened: the write itself, or a sender's callback. */
export type HeartbeatErrorSource = 'flush' | 'callback';

/** Options of {@link HeartbeatBatcher}. */
export interface HeartbeatBatcherOptions {
  db: Database;
  /** Clock for `storedAt`; ms since the epoch. */
  now?: () => number;
  /**
   * Receives errors that cannot be thrown to a caller: a failed flush run by the interval timer,
   * and exceptions from callbacks (which must not stop the others). Wire it to the logger.
   */
  onError: (err: unknown, source: HeartbeatErrorSource) => void;
  /** Told the size and duration of every committed batch (the `ballast_heartbeat_batch_rows` metric). */
  onFlushed?: (stats: FlushStats) => void;
}

/** Size and duration of the last successful flush, for metrics. */
export interface FlushStats {
  /** Hosts written (one UPDATE each). */
  rows: number;
  durationMs: number;
}

interface Pending {
  seq: number;
  receivedAt: number;
  callbacks: HeartbeatStored[];
}

/** Batches `host_heartbeats` writes; see the file comment. */
export class HeartbeatBatcher {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #onError: HeartbeatBatcherOptions['onError'];
  readonly #onFlushed: HeartbeatBatcherOptions['onFlushed'];
  readonly #update;
  #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #lastFlush: FlushStats = { rows: 0, durationMs: 0 };

  constructor(options: HeartbeatBatcherOptions) {
    this.#db = options.db;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
    this.#onFlushed = options.onFlushed;
    // A host removed since its heartbeat arrived keeps a harmless last-seen row (removed hosts are
    // never read for liveness); a host row deleted meanwhile leaves an orphan, dropped at start.
    this.#update = options.db.prepare<[string, number, number]>(
      'INSERT INTO host_heartbeats (host_id, at, seq) VALUES (?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET at = excluded.at, seq = excluded.seq',
    );
  }

  /**
   * Deletes last-seen rows whose host row is gone (a heartbeat batched while its host was deleted
   * on re-enrolment); returns how many. Called once at start, before the first flush.
   */
  dropOrphans(): number {
    return this.#db.prepare('DELETE FROM host_heartbeats WHERE host_id NOT IN (SELECT id FROM hosts)').run().changes;
  }

  /** Hosts with a heartbeat waiting to be written. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Stats of the last successful flush. */
  get lastFlush(): FlushStats {
    return this.#lastFlush;
  }

  /**
   * Queues a heartbeat. It replaces any pending one of the same host (the latest received wins, as
   * a restarted agent starts its seq again), but the older callback is still called on flush.
   */
  record(hostId: string, seq: number, receivedAt: number, onStored: HeartbeatStored): void {
    const pending = this.#pending.get(hostId);
    if (pending === undefined) {
      this.#pending.set(hostId, { seq, receivedAt, callbacks: [onStored] });
      return;
    }
    pending.seq = seq;
    pending.receivedAt = receivedAt;
    pending.callbacks.push(onStored);
  }

  /**
   * Writes every pending heartbeat in one transaction, then calls all their callbacks with the
   * commit time. If the write fails the heartbeats stay pending for the next flush and the error
   * is thrown; callback exceptions go to `onError`.
   */
  flush(): void {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const started = performance.now(); // monotonic: a wall-clock step must not skew the metric
    try {
      this.#db.transaction(() => {
        for (const [hostId, p] of batch) this.#update.run(hostId, p.receivedAt, p.seq);
      })();
    } catch (err) {
      this.#requeue(batch);
      throw err;
    }
    this.#lastFlush = { rows: batch.size, durationMs: performance.now() - started };
    this.#onFlushed?.(this.#lastFlush);
    const storedAt = this.#now();
    for (const p of batch.values()) {
      for (const callback of p.callbacks) {
        try {
          callback(storedAt);
        } catch (err) {
          this.#onError(err, 'callback');
        }
      }
    }
  }

  /** Flushes every `intervalMs` until {@link stop}. Calling it again restarts the timer. */
  start(intervalMs: number): void {
    this.#clearTimer();
    this.#timer = setInterval(() => {
      try {
        this.flush();
      } catch (err) {
        this.#onError(err, 'flush');
      }
    }, intervalMs);
    // The batcher alone must not keep the process alive; stop() flushes on shutdown.
    this.#timer.unref();
  }

  /** Stops the timer and flushes what is pending; throws if that last write fails. */
  stop(): void {
    this.#clearTimer();
    this.flush();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Puts a failed batch back, behind anything recorded meanwhile (which is newer). */
  #requeue(batch: Map<string, Pending>): void {
    for (const [hostId, old] of batch) {
      const newer = this.#pending.get(hostId);
      if (newer === undefined) this.#pending.set(hostId, old);
      else newer.callbacks.unshift(...old.callbacks);
    }
  }
}
