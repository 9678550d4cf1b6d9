/**
 * The event log (host enrolled, state changes, connects, refusals). Appends also notify in-process
 * listeners, so that long-polling API requests wake up without polling the database.
 */
import type { EventKind } from '../../../shared/src/events.js';
import type { Database } from './db.js';

/** One event as stored; `ts` is ms since the epoch. Maps onto the API's BallastEvent. */
export interface EventRecord {
  id: number;
  ts: number;
  host: string | null;
  /** Read back as stored: kinds are never renamed (shared/src/events.ts), so old rows still fit. */
  kind: EventKind;
  message: string;
  data: Record<string, unknown>;
}

/** What to append; `host` is the host *name* (events outlive host ids). */
export interface NewEvent {
  host: string | null;
  kind: EventKind;
  message: string;
  data?: Record<string, unknown>;
}

/** Which events to list: those after id `after` (oldest first), or else the newest `limit`. */
export interface EventQuery {
  host?: string;
  after?: number;
  limit: number;
}

/** Called synchronously after each committed append. */
export type EventListener = (event: EventRecord) => void;

/** Options of {@link EventRepo}. */
export interface EventRepoOptions {
  now?: () => number;
  /**
   * Receives exceptions thrown by listeners; the append itself has committed and still returns.
   * By default the exception is rethrown from a microtask, so a listener bug is loud.
   */
  onListenerError?: (err: unknown) => void;
}

interface EventRow {
  id: number;
  ts: number;
  host_name: string | null;
  kind: EventKind;
  message: string;
  data_json: string;
}

/** Reads and writes `events`. */
export class EventRepo {
  readonly #now: () => number;
  readonly #onListenerError: (err: unknown) => void;
  readonly #listeners = new Set<EventListener>();
  readonly #insert;
  readonly #get;
  readonly #after;
  readonly #afterForHost;
  readonly #newest;
  readonly #newestForHost;
  readonly #lastId;
  readonly #prune;

  constructor(db: Database, options: EventRepoOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#onListenerError =
      options.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
    this.#insert = db.prepare<[number, string | null, string, string, string]>(
      'INSERT INTO events (ts, host_name, kind, message, data_json) VALUES (?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[number | bigint], EventRow>('SELECT * FROM events WHERE id = ?');
    this.#after = db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.#afterForHost = db.prepare<[string, number, number], EventRow>(
      'SELECT * FROM events WHERE host_name = ? AND id > ? ORDER BY id LIMIT ?',
    );
    this.#newest = db.prepare<[number], EventRow>('SELECT * FROM events ORDER BY id DESC LIMIT ?');
    this.#newestForHost = db.prepare<[string, number], EventRow>(
      'SELECT * FROM events WHERE host_name = ? ORDER BY id DESC LIMIT ?',
    );
    this.#lastId = db.prepare<[], number | null>('SELECT MAX(id) FROM events').pluck();
    this.#prune = db.prepare<[number]>('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?');
  }

  /**
   * Keeps only the newest `keep` events (ids are dense, so an id bound is exact and uses the
   * primary key). Returns how many were deleted. Bounded retention: a flapping fleet must not grow
   * the database without end.
   */
  prune(keep: number): number {
    return this.#prune.run(keep).changes;
  }

  /** Stores an event stamped with the current time, notifies listeners, and returns it. */
  append(event: NewEvent): EventRecord {
    const { lastInsertRowid } = this.#insert.run(
      this.#now(),
      event.host,
      event.kind,
      event.message,
      JSON.stringify(event.data ?? {}),
    );
    const stored = toRecord(this.#get.get(lastInsertRowid)!);
    // Copy first: a listener may unsubscribe itself (a long-poll that got its answer).
    for (const listener of [...this.#listeners]) {
      try {
        listener(stored);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
    return stored;
  }

  /** Events in ascending id order; see {@link EventQuery}. */
  list(query: EventQuery): EventRecord[] {
    const { host, after, limit } = query;
    if (after !== undefined) {
      const rows = host === undefined ? this.#after.all(after, limit) : this.#afterForHost.all(host, after, limit);
      return rows.map(toRecord);
    }
    const rows = host === undefined ? this.#newest.all(limit) : this.#newestForHost.all(host, limit);
    return rows.reverse().map(toRecord);
  }

  /** The id of the newest event, 0 when there is none; what a client passes as `after` next. */
  lastId(): number {
    return this.#lastId.get() ?? 0;
  }

  /** Calls `listener` after every append until the returned function is called. */
  onAppend(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}

function toRecord(row: EventRow): EventRecord {
  return {
    id: row.id,
    ts: row.ts,
    host: row.host_name,
    kind: row.kind,
    message: row.message,
    data: JSON.parse(row.data_json) as Record<string, unknown>,
  };
}
