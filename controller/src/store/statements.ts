import type { Statement } from 'better-sqlite3';
import type { Database } from './db.js';

/**
 * Prepared statements of one database, each prepared on first use and cached by its SQL text, for
 * repositories that issue the same constant SQL over and over (runs, operations). Only for constant
 * SQL: text built from values would grow the cache without bound.
 */
export class StatementCache {
  readonly #db: Database;
  readonly #statements = new Map<string, Statement>();

  constructor(db: Database) {
    this.#db = db;
  }

  /** The prepared statement for `sql`, prepared on the first call. */
  get<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt as unknown as Statement<P, R>;
  }
}
