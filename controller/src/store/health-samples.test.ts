import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Health } from '../../../shared/src/protocol/facts.js';
import { DEFAULT_HEALTH_RETENTION } from './health-samples.js';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const HOUR = 3_600_000;
function newStore(now = () => 100 * HOUR): Store {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-health-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'ballast.db'), now });
  stores.push(store);
  for (const id of ['a', 'b']) {
    store.hosts.create({ id, name: `node-${id}`, certSerial: id, certNotAfter: 0, enrolledAt: 0 });
  }
  return store;
}
function health(ts: number): Health {
  return { ts, load: [0, 0, 0], memory: { totalBytes: 1, availableBytes: 1 }, disks: [], clockOffsetMs: 0, checks: [] };
}
const tsOf = (store: Store, host: string) => store.healthSamples.latest(host, 10_000).map((s) => s.ts);

describe('HealthSampleRepo', () => {
  it('returns the newest samples first', () => {
    const store = newStore();
    for (const ts of [1, 3, 2]) store.healthSamples.append('a', health(ts), ts);
    const latest = store.healthSamples.latest('a', 2);
    expect(latest.map((s) => s.ts)).toEqual([3, 2]);
    expect(latest[0]).toMatchObject({ hostId: 'a', health: health(3) });
    expect(store.healthSamples.latest('b', 5)).toEqual([]);
  });

  it('defaults to 24 hours and 1000 samples per host', () => {
    expect(DEFAULT_HEALTH_RETENTION).toEqual({ maxPerHost: 1000, maxAgeMs: 24 * HOUR });
  });

  it('prunes samples older than maxAgeMs, keeping the boundary', () => {
    const now = 100 * HOUR;
    const store = newStore(() => now);
    for (const ts of [now - 25 * HOUR, now - 24 * HOUR - 1, now - 24 * HOUR, now - HOUR]) {
      store.healthSamples.append('a', health(ts), ts);
    }
    expect(store.healthSamples.prune()).toBe(2);
    expect(tsOf(store, 'a')).toEqual([now - HOUR, now - 24 * HOUR]);
  });

  it('prunes beyond maxPerHost for each host separately', () => {
    const store = newStore();
    const now = 100 * HOUR;
    for (let i = 0; i < 6; i++) store.healthSamples.append('a', health(i), now - i);
    for (let i = 0; i < 2; i++) store.healthSamples.append('b', health(i), now - i);
    expect(store.healthSamples.prune({ maxPerHost: 3, maxAgeMs: HOUR, now })).toBe(3);
    expect(tsOf(store, 'a')).toEqual([now, now - 1, now - 2]);
    expect(tsOf(store, 'b')).toEqual([now, now - 1]);
  });

  it('applies both bounds in one prune, with the default count', () => {
    const store = newStore();
    const now = 100 * HOUR;
    for (let i = 0; i < 1005; i++) store.healthSamples.append('a', health(i), now - i);
    store.healthSamples.append('b', health(0), now - 48 * HOUR);
    expect(store.healthSamples.prune({ now })).toBe(6);
    expect(tsOf(store, 'a')).toHaveLength(1000);
    expect(tsOf(store, 'b')).toEqual([]);
  });
});
