import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Facts } from '../../../shared/src/protocol/facts.js';
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
  const flushed: number[] = [];
  const batcher = new HeartbeatBatcher({ db: store.db, now: () => 777, onError: (err, source) => errors.push({ err, source }), onFlushed: (s) => flushed.push(s.rows) });
  return { store, batcher, errors, path, flushed };
}

/** Makes every heartbeat write fail with `message` (both halves of the upsert). */
function failWrites(store: Store, message: string): void {
  for (const op of ['INSERT', 'UPDATE']) {
    store.db.exec(`CREATE TRIGGER fail_${op} BEFORE ${op} ON host_heartbeats BEGIN SELECT RAISE(ABORT, '${message}'); END`);
  }
}

function healWrites(store: Store): void {
  for (const op of ['INSERT', 'UPDATE']) store.db.exec(`DROP TRIGGER fail_${op}`);
}

/** Facts of a host with many NICs: the multi-KB JSON a hosts row carries. */
const FACTS_4K: Facts = {
  hostname: 'node-0',
  os: { platform: 'linux', distro: 'Debian', release: '13', codename: 'trixie', kernel: '6.12', arch: 'x64' },
  cpu: { manufacturer: 'x', brand: 'y', cores: 64, physicalCores: 32, speedGHz: 3 },
  memory: { totalBytes: 2 ** 38 },
  disks: [],
  nics: Array.from({ length: 24 }, (_, i) => ({ name: `eth${i}`, mac: '02:00:00:00:00:00', ipv4: [`10.0.${i}.1`], ipv6: [`fe80::${i}`], speedMbps: 25_000, virtual: false })),
  productUuid: 'u',
  bootId: 'b',
};

/** A second connection, to see only what is committed. */
function reader(path: string): Database {
  const db = new BetterSqlite3(path, { readonly: true });
  closers.push(() => db.close());
  return db;
}

describe('HeartbeatBatcher', () => {
  it('writes the newest heartbeat of M hosts from N heartbeats in one transaction per flush', () => {
    const { store, batcher, flushed } = setup(5);
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
    expect(flushed).toEqual([5]);
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
    const read = () => other.prepare<[], number | null>("SELECT seq FROM host_heartbeats WHERE host_id = 'h1'").pluck().get() ?? null;
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
    failWrites(store, 'disk on fire');
    const calls: number[] = [];
    batcher.record('h0', 1, 10, () => calls.push(1));
    batcher.record('h1', 1, 10, () => calls.push(2));
    expect(() => batcher.flush()).toThrow(/disk on fire/);
    expect(calls).toEqual([]);
    expect(batcher.pendingCount).toBe(2);
    batcher.record('h0', 2, 20, () => calls.push(3));
    healWrites(store);
    batcher.flush();
    expect(calls).toEqual([1, 3, 2]);
    expect(store.hosts.getById('h0')).toMatchObject({ lastSeq: 2, lastHeartbeatAt: 20 });
    expect(store.hosts.getById('h1')).toMatchObject({ lastSeq: 1, lastHeartbeatAt: 10 });
  });

  it('commits a batch holding a removed or deleted host, answers every sender, and drops orphans at start', () => {
    const { store, batcher } = setup(3);
    const calls: number[] = [];
    batcher.record('h0', 1, 10, (at) => calls.push(at));
    batcher.record('h1', 1, 10, (at) => calls.push(at));
    batcher.record('h2', 1, 10, (at) => calls.push(at));
    store.hosts.remove('h0', 5, 'gone');
    // Re-enrolling node-1 deletes h1's row (and, by trigger, its last-seen row) before the flush.
    store.hosts.remove('h1', 5, 'gone');
    store.hosts.create({ id: 'h1-new', name: 'node-1', certSerial: 'sx', certNotAfter: 1e13, enrolledAt: 6 });
    batcher.flush();
    expect(calls).toEqual([777, 777, 777]);
    expect(store.hosts.getById('h2')?.lastSeq).toBe(1);
    expect(store.hosts.getById('h1-new')?.lastHeartbeatAt).toBeNull();
    expect(batcher.dropOrphans()).toBe(1); // h1's row, written after its host row was deleted
    expect(store.db.prepare('SELECT host_id FROM host_heartbeats ORDER BY host_id').pluck().all()).toEqual(['h0', 'h2']);
  });

  it('never writes the hosts row: a heartbeat costs a narrow upsert, not a rewrite of the facts and health JSON', () => {
    const { store, batcher } = setup(2);
    store.hosts.setFacts('h0', FACTS_4K);
    store.db.exec("CREATE TRIGGER no_host_writes BEFORE UPDATE ON hosts BEGIN SELECT RAISE(ABORT, 'hosts row written'); END");
    for (let seq = 1; seq <= 3; seq++) {
      batcher.record('h0', seq, seq * 1000, () => {});
      batcher.record('h1', seq, seq * 1000, () => {});
      batcher.flush();
    }
    expect(store.hosts.getById('h0')).toMatchObject({ lastSeq: 3, lastHeartbeatAt: 3000, facts: FACTS_4K });
  });

  it('flushes on its interval, reports interval failures, and flushes on stop()', () => {
    vi.useFakeTimers();
    const { store, batcher, errors } = setup(1);
    batcher.start(1000);
    batcher.record('h0', 1, 10, () => {});
    vi.advanceTimersByTime(1000);
    expect(store.hosts.getById('h0')?.lastSeq).toBe(1);

    failWrites(store, 'nope');
    batcher.record('h0', 2, 20, () => {});
    vi.advanceTimersByTime(1000);
    expect(errors.map((e) => e.source)).toEqual(['flush']);
    healWrites(store);

    batcher.record('h0', 3, 30, () => {});
    batcher.stop();
    expect(store.hosts.getById('h0')?.lastSeq).toBe(3);
    expect(batcher.pendingCount).toBe(0);
    batcher.record('h0', 4, 40, () => {});
    vi.advanceTimersByTime(5000); // stopped: nothing flushes any more
    expect(batcher.pendingCount).toBe(1);
  });
});
