import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Database } from './db.js';
import { type HeartbeatErrorSource, HeartbeatBatcher } from './heartbeat-batcher.js';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const closers: Array<() => void> = [];
afterEach(() => {
  vi.useRealTimers();
  for (const close of closers.splice(0)) close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A store with `hostCount` enrolled hosts `h0..`, and a batcher over it whose errors are collected. */
function setup(hostCount: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-hb-'));
  dirs.push(dir);
  const path = join(dir, 'ballast.db');
  const store: Store = openStore({ path });
  closers.push(() => store.close());
  for (let i = 0; i < hostCount; i++) {
    store.hosts.create({ id: `h${i}`, name: `node-${i}`, certSerial: `s${i}`, certNotAfter: 1e13, enrolledAt: 0 });
  }
  const errors: Array<{ err: unknown; source: HeartbeatErrorSource }> = [];
  const batcher = new HeartbeatBatcher({ db: store.db, now: () => 777, onError: (err, source) => errors.push({ err, source }) });
  return { store, batcher, errors, path };
}

/** A second connection, to see only what is committed. */
function reader(path: string): Database {
  const db = new BetterSqlite3(path, { readonly: true });
  closers.push(() => db.close());
  return db;
}

describe('HeartbeatBatcher', () => {
  it('writes the newest heartbeat of M hosts from N heartbeats in one transaction per flush', () => {
    const { store, batcher } = setup(5);
    const transaction = vi.spyOn(store.db, 'transaction');
    const stored: Array<{ host: string; seq: number; at: number }> = [];
    for (let seq = 1; seq <= 4; seq++) {
      for (let i = 0; i < 5; i++) {
        batcher.record(`h${i}`, seq, 1000 * seq + i, (at) => stored.push({ host: `h${i}`, seq, at }));
      }
    }
    expect(batcher.pendingCount).toBe(5);
    batcher.flush();
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(batcher.lastFlush.rows).toBe(5);
    expect(batcher.pendingCount).toBe(0);
    // Every callback, superseded ones included, with the injected commit time.
    expect(stored).toHaveLength(20);
    expect(new Set(stored.map((s) => s.at))).toEqual(new Set([777]));
    for (let i = 0; i < 5; i++) {
      expect(store.hosts.getById(`h${i}`)).toMatchObject({ lastSeq: 4, lastHeartbeatAt: 4000 + i });
    }
    batcher.flush(); // nothing pending: no transaction, stats unchanged
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(batcher.lastFlush.rows).toBe(5);
  });

  it('keeps the latest recorded heartbeat even if its seq is lower (agent restarted)', () => {
    const { store, batcher } = setup(1);
    batcher.record('h0', 50, 1000, () => {});
    batcher.record('h0', 1, 2000, () => {});
    batcher.flush();
    expect(store.hosts.getById('h0')).toMatchObject({ lastSeq: 1, lastHeartbeatAt: 2000 });
  });

  it('calls callbacks only after the write is committed', () => {
    const { batcher, path } = setup(2);
    const other = reader(path);
    const seen: Array<number | null> = [];
    const read = () => other.prepare<[], number | null>("SELECT last_seq FROM hosts WHERE id = 'h1'").pluck().get() ?? null;
    batcher.record('h0', 1, 10, () => seen.push(read()));
    batcher.record('h1', 9, 10, () => seen.push(read()));
    batcher.flush();
    expect(seen).toEqual([9, 9]);
  });

  it('survives a throwing callback: the others run and the error is reported', () => {
    const { batcher, errors } = setup(3);
    const boom = new Error('boom');
    const called: string[] = [];
    batcher.record('h0', 1, 10, () => called.push('h0'));
    batcher.record('h1', 1, 10, () => {
      throw boom;
    });
    batcher.record('h2', 1, 10, () => called.push('h2'));
    expect(() => batcher.flush()).not.toThrow();
    expect(called).toEqual(['h0', 'h2']);
    expect(errors).toEqual([{ err: boom, source: 'callback' }]);
  });

  it('keeps heartbeats pending when the write fails, and stores them on the next flush', () => {
    const { store, batcher } = setup(2);
    store.db.exec("CREATE TRIGGER fail BEFORE UPDATE ON hosts BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    const calls: number[] = [];
    batcher.record('h0', 1, 10, () => calls.push(1));
    batcher.record('h1', 1, 10, () => calls.push(2));
    expect(() => batcher.flush()).toThrow(/disk on fire/);
    expect(calls).toEqual([]);
    expect(batcher.pendingCount).toBe(2);
    batcher.record('h0', 2, 20, () => calls.push(3));
    store.db.exec('DROP TRIGGER fail');
    batcher.flush();
    expect(calls).toEqual([1, 3, 2]);
    expect(store.hosts.getById('h0')).toMatchObject({ lastSeq: 2, lastHeartbeatAt: 20 });
    expect(store.hosts.getById('h1')).toMatchObject({ lastSeq: 1, lastHeartbeatAt: 10 });
  });

  it('does not touch a host removed before the flush, but still answers its sender', () => {
    const { store, batcher } = setup(1);
    const calls: number[] = [];
    batcher.record('h0', 1, 10, (at) => calls.push(at));
    store.hosts.remove('h0', 5, 'gone');
    batcher.flush();
    expect(calls).toEqual([777]);
    expect(store.hosts.getById('h0', { includeRemoved: true })?.lastSeq).toBeNull();
  });

  it('flushes on its interval, reports interval failures, and flushes on stop()', () => {
    vi.useFakeTimers();
    const { store, batcher, errors } = setup(1);
    batcher.start(1000);
    batcher.record('h0', 1, 10, () => {});
    vi.advanceTimersByTime(1000);
    expect(store.hosts.getById('h0')?.lastSeq).toBe(1);

    store.db.exec("CREATE TRIGGER fail BEFORE UPDATE ON hosts BEGIN SELECT RAISE(ABORT, 'nope'); END");
    batcher.record('h0', 2, 20, () => {});
    vi.advanceTimersByTime(1000);
    expect(errors.map((e) => e.source)).toEqual(['flush']);
    store.db.exec('DROP TRIGGER fail');

    batcher.record('h0', 3, 30, () => {});
    batcher.stop();
    expect(store.hosts.getById('h0')?.lastSeq).toBe(3);
    expect(batcher.pendingCount).toBe(0);
    batcher.record('h0', 4, 40, () => {});
    vi.advanceTimersByTime(5000); // stopped: nothing flushes any more
    expect(batcher.pendingCount).toBe(1);
  });
});
