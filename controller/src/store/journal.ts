/**
 * What runs (runs/) and operations (ops/) share in the store. Both are journals: a parent row with
 * a `seq` change counter and child rows (hosts and results, steps) whose every change bumps the
 * parent's `seq` in the same transaction — the long-poll cursor of `?after=` and `--follow`. Both
 * turn rows into API documents with the same time and JSON conventions, and both translate the
 * one state vocabulary (shared/src/states.ts) to the words their tables were created with.
 */
import type { Statement } from 'better-sqlite3';
import type { Database } from './db.js';
import { StatementCache } from './statements.js';

/** Options of {@link Journal}. */
export interface JournalOptions {
  db: Database;
  now?: () => number;
  /** Bumps the parent's seq and returns it (`… RETURNING seq`); constant SQL. */
  bumpSql: string;
  /** The bump's parameters for parent `id` at time `now` (e.g. `[now, id]` when it also stamps `updated_at`). */
  bumpArgs: (id: string, now: number) => unknown[];
  /** The error when the parent does not exist. */
  notFound: (id: string) => Error;
}

/** The statements and the seq-bumping transaction of one journal table family. */
export class Journal {
  readonly db: Database;
  readonly now: () => number;
  readonly #statements: StatementCache;
  readonly #options: JournalOptions;

  constructor(options: JournalOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    this.#statements = new StatementCache(options.db);
    this.#options = options;
  }

  /** A prepared statement, cached by its SQL (only ever constant text). */
  q<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    return this.#statements.get<P, R>(sql);
  }

  /** Runs `apply` and bumps the parent's seq in one transaction; returns the new seq. */
  change(id: string, apply: (seq: number) => void): number {
    return this.db.transaction(() => {
      const seq = this.q<unknown[], number>(this.#options.bumpSql).pluck().get(...this.#options.bumpArgs(id, this.now()));
      if (seq === undefined) throw this.#options.notFound(id);
      apply(seq);
      return seq;
    })();
  }
}

/** A coded error as stored for a run's host or an operation's step (`error_json`). */
export interface StoredError {
  code: string;
  message: string;
  /** Where in the input the problem is, when the error names one. */
  path?: string;
}

/** ms since the epoch → RFC 3339, as every API document shows times. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** {@link iso}, keeping null (not started, not ended). */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** A JSON column that may be NULL, parsed; the column's type is the caller's to name. */
export const parseJsonOrNull = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

/**
 * The success word a table was created with, where it is not `succeeded`: `runs.status` and
 * `run_hosts.status` say `ok` (migration 3), `operation_steps.state` says `done` (migration 5).
 * Their CHECK constraints still require it, so it is what is written, and old rows hold it.
 */
export type LegacySuccess = 'ok' | 'done';

/** A state as a legacy column holds it: `succeeded` is spelled with the table's old word. */
export type StoredState<S extends string, L extends LegacySuccess> = Exclude<S, 'succeeded'> | L | 'succeeded';

/**
 * A stored state → the vocabulary. `succeeded` is passed through as well, so rows keep reading
 * right after a future migration rewrites the columns to the new word.
 */
export function stateFromColumn<S extends string, L extends LegacySuccess>(stored: StoredState<S, L>, legacy: L): S {
  // Every other word is the same in both vocabularies (checked by the tables' CHECK constraints).
  return (stored === legacy ? 'succeeded' : stored) as S;
}

/** A state → what the legacy column accepts (its CHECK constraint has the old success word). */
export function stateToColumn<S extends string, L extends LegacySuccess>(state: S, legacy: L): Exclude<S, 'succeeded'> | L {
  return (state === 'succeeded' ? legacy : state) as Exclude<S, 'succeeded'> | L;
}
