/**
 * Opens the controller's SQLite database and brings its schema up to date. WAL lets the API read
 * while the hub writes; synchronous=NORMAL is durable across process crashes in WAL mode and only
 * risks the last transactions on power loss, which heartbeats and events can afford.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/** A better-sqlite3 connection; every repository takes one. */
export type Database = BetterSqlite3.Database;

/** Options of {@link openDatabase}; the defaults are what production uses. */
export interface OpenDatabaseOptions {
  /** The schema to migrate to; tests pass their own lists. */
  migrations?: readonly Migration[];
  /** Clock for `schema_migrations.applied_at`. */
  now?: () => number;
}

/**
 * Opens (creating if needed) the database at `path`, sets the connection pragmas and applies any
 * pending migrations. Throws BALLAST_ERR_STORE if the file cannot be opened, cannot use WAL, or was
 * written by a newer controller; the connection is closed before throwing.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  let db: Database;
  try {
    ensurePrivateFile(path);
    db = new BetterSqlite3(path);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_STORE', `failed to open database ${path}: ${messageOf(err)}`, { cause: err });
  }
  try {
    // busy_timeout first, so that switching to WAL waits for another connection's lock.
    db.pragma('busy_timeout = 5000');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new BallastError(
        'BALLAST_ERR_STORE',
        `failed to open database ${path}: journal_mode is ${String(mode)}, not wal (is it on a network filesystem?)`,
      );
    }
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, { migrations: options.migrations ?? MIGRATIONS, now: options.now ?? Date.now, path });
    // SQLite creates -wal and -shm with the database's mode; an older controller's may be 0644.
    for (const suffix of ['-wal', '-shm']) if (existsSync(`${path}${suffix}`)) chmodSync(`${path}${suffix}`, PRIVATE_MODE);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof BallastError) throw err;
    throw new BallastError('BALLAST_ERR_STORE', `failed to open database ${path}: ${messageOf(err)}`, { cause: err });
  }
}

/** ballast.db holds the cluster CA keys: owner read/write only, whatever the umask (issue 16 point 11). */
const PRIVATE_MODE = 0o600;

/**
 * Creates the database file 0600 before SQLite does (SQLite would use 0644 minus the umask, and
 * its -wal and -shm files copy the database's mode), and narrows an existing one to 0600.
 * In-memory and URI databases have no file of ours to protect.
 */
function ensurePrivateFile(path: string): void {
  if (path === ':memory:' || path === '' || path.startsWith('file:')) return;
  closeSync(openSync(path, 'a', PRIVATE_MODE));
  chmodSync(path, PRIVATE_MODE);
}

/** The highest applied migration version, 0 for a new database. */
export function schemaVersion(db: Database): number {
  const row = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').get();
  return row?.v ?? 0;
}

/**
 * Applies the migrations newer than the database's version, each in its own IMMEDIATE transaction
 * (so two processes opening the same file cannot both apply one), and returns the versions applied.
 * Note: `PRAGMA foreign_keys` cannot change inside a transaction, so a future migration that
 * rebuilds a referenced table must not rely on turning it off.
 */
export function migrate(
  db: Database,
  options: { migrations: readonly Migration[]; now: () => number; path?: string },
): number[] {
  const { migrations, now } = options;
  const where = options.path ?? db.name;
  checkOrder(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const known = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > known) {
    throw new BallastError(
      'BALLAST_ERR_STORE',
      `failed to open database ${where}: its schema is version ${current} but this controller knows only up to ` +
        `version ${known}; run a newer ballast-controller or restore a backup`,
    );
  }
  const record = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    const apply = db.transaction(() => {
      // Re-read under the write lock: another process may have migrated since we looked.
      if (schemaVersion(db) >= migration.version) return false;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now());
      return true;
    });
    try {
      if (apply.immediate()) applied.push(migration.version);
    } catch (err) {
      throw new BallastError(
        'BALLAST_ERR_STORE',
        `failed to apply migration ${migration.version} (${migration.name}) to ${where}: ${messageOf(err)}`,
        { cause: err },
      );
    }
  }
  return applied;
}

/** A gap or reordering in the list is a programming error that would skip schema steps. */
function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new BallastError(
        'BALLAST_ERR_INTERNAL',
        `failed to check migrations: entry ${i} has version ${m.version}, expected ${i + 1}`,
      );
    }
  });
}
