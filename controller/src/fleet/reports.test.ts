/**
 * The session reports over a real SQLite file: a report that changes nothing is not written again
 * (report-memo.ts), events still flow for every report, and a restarted controller (a new fleet
 * seeded from the same file) knows what is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { Store } from '../store/store.js';
import { tempStores } from '../store/testing.js';
import { createFleet } from './fleet.js';

const stores = tempStores('ballast-reports-');
afterEach(() => stores.cleanup());

const facts = (kernel = '6.1.0') => ({ hostname: 'n', os: { platform: 'linux', distro: 'Debian', release: '12', codename: 'bookworm', kernel, arch: 'x64' } }) as Facts;
const health = (ts: number, failing: string[] = [], load = 0.1): Health => ({
  ts,
  load: [load, 0, 0],
  memory: { totalBytes: 1, availableBytes: 1 },
  disks: [],
  clockOffsetMs: null,
  checks: [{ name: 'disk', ok: true, message: 'ok' }, ...failing.map((name) => ({ name, ok: false, message: 'failing' }))],
});

/** Counts the UPDATEs of the hosts table and INSERTs of health_samples the reports make. */
function countWrites(store: Store): { hostWrites: () => number; samples: () => number } {
  store.db.exec(`CREATE TABLE IF NOT EXISTS write_log (what TEXT NOT NULL);
    CREATE TRIGGER IF NOT EXISTS log_host_update AFTER UPDATE ON hosts BEGIN INSERT INTO write_log VALUES ('host'); END;`);
  const count = (what: string) => store.db.prepare<[string], number>('SELECT COUNT(*) FROM write_log WHERE what = ?').pluck().get(what) ?? 0;
  return {
    hostWrites: () => count('host'),
    samples: () => store.db.prepare<[], number>('SELECT COUNT(*) FROM health_samples').pluck().get() ?? 0,
  };
}

function setup(path = stores.path(), now = 1_000_000) {
  const store = stores.open(path, () => now);
  const fleet = createFleet({ store, log: silentLogger(), now: () => now, healthRefreshMs: 60_000 });
  const stored = store.hosts.list();
  fleet.tracker.load(stored, 5000);
  fleet.memo.seed(stored, now);
  const healthEvents: number[] = [];
  fleet.directory.on('host.health', (e) => healthEvents.push(e.at));
  return { store, ...fleet, healthEvents };
}

describe('host reports', () => {
  it('writes facts, connection and health only when they change; unchanged health at most once a minute', () => {
    const { store, reports, healthEvents } = setup();
    store.hosts.create({ id: 'h1', name: 'node-1', certSerial: 's1', certNotAfter: 1e13, enrolledAt: 0 });
    const writes = countWrites(store);
    const conn = { address: '127.0.0.2', agentVersion: '0.1.0', sessionId: 'a1' };

    reports.saveConnection('h1', conn);
    reports.saveFacts('h1', facts());
    reports.saveHealth('h1', health(1000), 1_000_000);
    expect([writes.hostWrites(), writes.samples()]).toEqual([3, 1]);

    // A reconnect of the same agent process: same connection, same facts, same checks.
    reports.saveConnection('h1', { ...conn });
    reports.saveFacts('h1', facts());
    reports.saveHealth('h1', health(16_000, [], 0.5), 1_015_000);
    reports.saveHealth('h1', health(31_000, [], 0.7), 1_030_000);
    expect([writes.hostWrites(), writes.samples()]).toEqual([3, 1]);
    expect(healthEvents).toEqual([1_000_000, 1_015_000, 1_030_000]); // subscribers still see every snapshot

    // A failing check is written at once; an unchanged snapshot a minute after the last write too.
    reports.saveHealth('h1', health(32_000, ['etcd']), 1_031_000);
    expect(store.hosts.getById('h1')?.health?.checks.map((c) => c.ok)).toEqual([true, false]);
    reports.saveHealth('h1', health(91_000, ['etcd'], 2), 1_090_000);
    expect(writes.samples()).toBe(2);
    reports.saveHealth('h1', health(92_000, ['etcd'], 3), 1_091_000);
    expect(writes.samples()).toBe(3);
    expect(store.hosts.getById('h1')?.health?.load[0]).toBe(3);

    // Changed facts and a restarted agent (new session id) are written.
    reports.saveFacts('h1', facts('6.12.0'));
    reports.saveConnection('h1', { ...conn, sessionId: 'a2' });
    expect(store.hosts.getById('h1')).toMatchObject({ sessionId: 'a2', facts: { os: { kernel: '6.12.0' } } });
  });

  it('a restarted controller knows what is stored: the reconnect storm writes nothing unchanged', () => {
    const path = stores.path();
    const first = setup(path);
    first.store.hosts.create({ id: 'h1', name: 'node-1', certSerial: 's1', certNotAfter: 1e13, enrolledAt: 0 });
    const conn = { address: '127.0.0.2', agentVersion: '0.1.0', sessionId: 'a1' };
    first.reports.saveConnection('h1', conn);
    first.reports.saveFacts('h1', facts());
    first.reports.saveHealth('h1', health(1_000_000), 1_000_000);
    first.store.close();

    const second = setup(path, 1_010_000);
    const writes = countWrites(second.store);
    second.reports.saveConnection('h1', conn);
    second.reports.saveFacts('h1', facts());
    second.reports.saveHealth('h1', health(1_010_000), 1_010_000);
    expect([writes.hostWrites(), writes.samples()]).toEqual([0, 1]);
  });

  it('forgets a removed host', () => {
    const { store, reports, tracker, memo } = setup();
    store.hosts.create({ id: 'h1', name: 'node-1', certSerial: 's1', certNotAfter: 1e13, enrolledAt: 0 });
    tracker.add({ id: 'h1', name: 'node-1', enrolledAt: 0 });
    reports.saveConnection('h1', { address: null, agentVersion: '0.1.0', sessionId: 'a1' });
    expect(memo.size).toBe(1);
    store.hosts.remove('h1', 1, 'test');
    tracker.remove('h1');
    expect(memo.size).toBe(0);
  });
});
