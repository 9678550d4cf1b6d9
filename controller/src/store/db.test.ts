import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isBallastError } from '../../../shared/src/errors.js';
import { type Database, migrate, openDatabase, schemaVersion } from './db.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { openStore } from './store.js';

const dirs: string[] = [];
const dbs: Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-db-'));
  dirs.push(dir);
  return join(dir, 'ballast.db');
}
function open(path: string, migrations?: readonly Migration[]): Database {
  const db = openDatabase(path, migrations === undefined ? {} : { migrations });
  dbs.push(db);
  return db;
}
function appliedVersions(db: Database): number[] {
  return db.prepare<[], number>('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
}
function tableNames(db: Database): string[] {
  return db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
}

describe('openDatabase', () => {
  it('creates every table and records each migration once', () => {
    const db = open(tempPath());
    expect(tableNames(db)).toEqual(
      expect.arrayContaining([
        'audit',
        'events',
        'health_samples',
        'hosts',
        'join_tokens',
        'operators',
        'revoked_certs',
        'schema_migrations',
      ]),
    );
    expect(appliedVersions(db)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
  });

  it('is idempotent on reopen and keeps the data', () => {
    const path = tempPath();
    const first = open(path);
    first.prepare("INSERT INTO audit (ts, actor, role, action, target, outcome, detail) VALUES (1, 'a', 'admin', 'x', 'y', 'ok', '')").run();
    first.close();
    const second = open(path);
    expect(appliedVersions(second)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(second.prepare('SELECT COUNT(*) FROM audit').pluck().get()).toBe(1);
    expect(migrate(second, { migrations: MIGRATIONS, now: () => 0 })).toEqual([]);
  });

  it('sets WAL, synchronous=NORMAL, foreign keys and a busy timeout', () => {
    const db = open(tempPath());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('refuses a database written by a newer controller, naming both versions', () => {
    const path = tempPath();
    const db = open(path);
    const future = MIGRATIONS.length + 1;
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)").run(future);
    db.close();
    let error: unknown;
    try {
      open(path);
    } catch (err) {
      error = err;
    }
    expect(isBallastError(error, 'BALLAST_ERR_STORE')).toBe(true);
    expect((error as Error).message).toContain(`version ${future}`);
    expect((error as Error).message).toContain(`version ${MIGRATIONS.length}`);
  });

  it('applies only the new migrations of a longer list', () => {
    const path = tempPath();
    const v1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER)' };
    const v2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE b (y INTEGER)' };
    open(path, [v1]).close();
    const db = open(path, [v1, v2]);
    expect(appliedVersions(db)).toEqual([1, 2]);
    expect(tableNames(db)).toEqual(expect.arrayContaining(['a', 'b']));
  });

  it('rolls back a failing migration entirely and reports it', () => {
    const path = tempPath();
    const v1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER)' };
    const bad: Migration = { version: 2, name: 'bad', sql: 'CREATE TABLE b (y INTEGER); CREATE TABLE a (x INTEGER);' };
    open(path, [v1]).close();
    expect(() => open(path, [v1, bad])).toThrow(/migration 2 \(bad\)/);
    const db = new BetterSqlite3(path);
    dbs.push(db);
    expect(appliedVersions(db)).toEqual([1]);
    expect(tableNames(db)).not.toContain('b');
  });

  it('rejects a migration list with a gap as a programming error', () => {
    const list: Migration[] = [
      { version: 1, name: 'one', sql: 'SELECT 1' },
      { version: 3, name: 'three', sql: 'SELECT 1' },
    ];
    expect(() => open(tempPath(), list)).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_INTERNAL' }));
  });

  it('reports a file that is not a database as a store error', () => {
    const path = tempPath();
    writeFileSync(path, 'this is not a sqlite database\n'.repeat(200));
    expect(() => open(path)).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_STORE' }));
  });
});

describe('openStore', () => {
  it('wires the repositories to one connection and closes idempotently', () => {
    const store = openStore({ path: tempPath(), now: () => 1234 });
    expect(store.events.append({ host: null, kind: 'state', message: 'controller started' }).ts).toBe(1234);
    expect(store.audit.append({ actor: 'a', role: 'admin', action: 'x', target: 't', outcome: 'ok' }).ts).toBe(1234);
    store.close();
    expect(store.db.open).toBe(false);
    expect(() => store.close()).not.toThrow();
  });
});
