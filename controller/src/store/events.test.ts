import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRecord } from './events.js';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function newStore(onListenerError?: (err: unknown) => void): Store {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-events-'));
  dirs.push(dir);
  let t = 0;
  const store = openStore({ path: join(dir, 'ballast.db'), now: () => (t += 10), onListenerError });
  t = 0; // opening stamped the migrations; events start at ts 10
  stores.push(store);
  return store;
}
/** Appends 10 events alternating between node-a and node-b; ids 1..10. */
function seed(store: Store): void {
  for (let i = 1; i <= 10; i++) {
    store.events.append({ host: i % 2 === 1 ? 'node-a' : 'node-b', kind: 'state', message: `event ${i}`, data: { i } });
  }
}
const ids = (events: EventRecord[]) => events.map((e) => e.id);

describe('EventRepo', () => {
  it('stores events with id, time and data', () => {
    const { events } = newStore();
    expect(events.lastId()).toBe(0);
    const stored = events.append({ host: 'node-a', kind: 'enrolled', message: 'node-a enrolled', data: { by: 'alice' } });
    expect(stored).toEqual({ id: 1, ts: 10, host: 'node-a', kind: 'enrolled', message: 'node-a enrolled', data: { by: 'alice' } });
    expect(events.append({ host: null, kind: 'state', message: 'up' })).toMatchObject({ id: 2, host: null, data: {} });
    expect(events.lastId()).toBe(2);
  });

  it('without after, returns the newest `limit` in ascending order', () => {
    const store = newStore();
    seed(store);
    expect(ids(store.events.list({ limit: 3 }))).toEqual([8, 9, 10]);
    expect(ids(store.events.list({ limit: 100 }))).toHaveLength(10);
  });

  it('with after, returns the oldest `limit` newer events', () => {
    const store = newStore();
    seed(store);
    expect(ids(store.events.list({ after: 4, limit: 3 }))).toEqual([5, 6, 7]);
    expect(ids(store.events.list({ after: 10, limit: 3 }))).toEqual([]);
    expect(ids(store.events.list({ after: 0, limit: 2 }))).toEqual([1, 2]);
  });

  it('filters by host', () => {
    const store = newStore();
    seed(store);
    expect(ids(store.events.list({ host: 'node-b', limit: 2 }))).toEqual([8, 10]);
    expect(ids(store.events.list({ host: 'node-a', after: 3, limit: 2 }))).toEqual([5, 7]);
    expect(store.events.list({ host: 'node-z', limit: 10 })).toEqual([]);
  });

  it('notifies listeners after each append until they unsubscribe', () => {
    const { events } = newStore();
    const seen: number[] = [];
    const unsubscribe = events.onAppend((e) => {
      seen.push(e.id);
      expect(events.lastId()).toBe(e.id); // already committed and visible
    });
    events.append({ host: null, kind: 'state', message: 'one' });
    events.append({ host: null, kind: 'state', message: 'two' });
    unsubscribe();
    events.append({ host: null, kind: 'state', message: 'three' });
    expect(seen).toEqual([1, 2]);
  });

  it('lets a listener unsubscribe itself without skipping others', () => {
    const { events } = newStore();
    const calls: string[] = [];
    const off = events.onAppend(() => {
      calls.push('once');
      off();
    });
    events.onAppend(() => calls.push('always'));
    events.append({ host: null, kind: 'state', message: 'one' });
    events.append({ host: null, kind: 'state', message: 'two' });
    expect(calls).toEqual(['once', 'always', 'always']);
  });

  it('reports a throwing listener and still appends and notifies the rest', () => {
    const errors: unknown[] = [];
    const { events } = newStore((err) => errors.push(err));
    const boom = new Error('boom');
    const seen: number[] = [];
    events.onAppend(() => {
      throw boom;
    });
    events.onAppend((e) => seen.push(e.id));
    expect(events.append({ host: null, kind: 'state', message: 'one' }).id).toBe(1);
    expect(seen).toEqual([1]);
    expect(errors).toEqual([boom]);
  });
});

describe('EventRepo.prune', () => {
  it('keeps exactly the newest N events', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-prune-'));
    const store = openStore({ path: join(dir, 'b.db') });
    try {
      for (let i = 0; i < 10; i++) store.events.append({ host: 'h', kind: 'state', message: `m${i}` });
      expect(store.events.prune(3)).toBe(7);
      expect(store.events.list({ limit: 100 }).map((e) => e.message)).toEqual(['m7', 'm8', 'm9']);
      expect(store.events.prune(3)).toBe(0);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
