import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Store, openStore } from '../store/store.js';

describe('RunRepo (real SQLite file)', () => {
  let dir: string;
  let store: Store;
  let clock = 1_000;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-runrepo-'));
    store = openStore({ path: join(dir, 'ballast.db'), now: () => clock });
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const create = (id: string) => {
    clock += 1;
    store.runs.create({ id, role: 'os-prep', check: false, diff: false, vars: {}, createdBy: 'otto', hosts: [{ name: 'a', hostId: 'h_a', plan: [] }] });
  };

  it('bumps seq on every change and keys results by it; counts results until a summary replaces them', () => {
    create('run-1');
    expect(store.runs.hostStarted('run-1', 'a')).toBe(1);
    const task = { phase: 'task' as const, index: 0, name: 't', module: 'file' };
    expect(store.runs.taskStarted('run-1', 'a', task)).toBe(2);
    expect(store.runs.hosts('run-1')[0]?.current).toEqual(task);
    expect(store.runs.taskFinished('run-1', 'a', task, { status: 'changed', durationMs: 1, diff: '', message: '', notified: [] })).toBe(3);
    const [host] = store.runs.hosts('run-1');
    expect(host?.current).toBeNull();
    expect(host?.recap).toEqual({ ok: 0, changed: 1, failed: 0, skipped: 0 });
    expect(store.runs.results('run-1').map((r) => r.seq)).toEqual([3]);
    expect(store.runs.results('run-1', 3)).toEqual([]);
    store.runs.hostFinished('run-1', 'a', { status: 'succeeded', recap: { ok: 4, changed: 1, failed: 0, skipped: 0 } });
    expect(store.runs.hosts('run-1')[0]).toMatchObject({ status: 'succeeded', recap: { ok: 4, changed: 1 } });
    expect(store.runs.runFinished('run-1', 'succeeded')).toBe(5);
    expect(store.runs.get('run-1')).toMatchObject({ status: 'succeeded', seq: 5, finishedAt: clock });
    expect(() => store.runs.hostStarted('run-nope', 'a')).toThrow(/does not exist/);
  });

  it('interrupts only running runs and their unfinished hosts', () => {
    create('run-1');
    create('run-2');
    store.runs.runFinished('run-2', 'succeeded');
    store.runs.hostStarted('run-1', 'a');
    expect(store.runs.interruptRunning()).toEqual(['run-1']);
    expect(store.runs.get('run-1')?.status).toBe('interrupted');
    expect(store.runs.hosts('run-1')[0]?.error?.code).toBe('BALLAST_ERR_PEER_GONE');
    expect(store.runs.get('run-2')?.status).toBe('succeeded');
    expect(store.runs.interruptRunning()).toEqual([]);
  });

  it('prunes the oldest finished runs beyond the newest N, never a running one, with their rows', () => {
    for (const id of ['run-1', 'run-2', 'run-3', 'run-4']) create(id);
    for (const id of ['run-2', 'run-3', 'run-4']) store.runs.runFinished(id, 'succeeded');
    expect(store.runs.prune(2)).toBe(1);
    expect(store.runs.list(10).map((r) => r.id)).toEqual(['run-4', 'run-3', 'run-1']);
    expect(store.runs.hosts('run-2')).toEqual([]);
  });
});
