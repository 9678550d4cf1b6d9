import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stateFromColumn, stateToColumn } from './journal.js';
import { openStore, type Store } from './store.js';

describe('state words of legacy columns', () => {
  it('reads the old success word and the new one as succeeded, and leaves the others', () => {
    expect(stateFromColumn('ok', 'ok')).toBe('succeeded');
    expect(stateFromColumn('succeeded', 'ok')).toBe('succeeded');
    expect(stateFromColumn('failed', 'done')).toBe('failed');
    expect(stateToColumn('succeeded', 'done')).toBe('done');
    expect(stateToColumn('skipped', 'done')).toBe('skipped');
  });
});

describe('runs and operations rows written before the one vocabulary (real SQLite file)', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-journal-'));
    store = openStore({ path: join(dir, 'ballast.db'), now: () => 1_000 });
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a run and its host stored as 'ok' as succeeded, and still stores 'ok'", () => {
    // Exactly what an older controller wrote (migration 3's words).
    store.db.prepare(`INSERT INTO runs (id, role, check_mode, diff_mode, vars_json, status, created_at, created_by, seq) VALUES ('run-old', 'os-prep', 0, 0, '{}', 'ok', 1, 'otto', 3)`).run();
    store.db.prepare(`INSERT INTO run_hosts (run_id, host_name, host_id, position, status, plan_json) VALUES ('run-old', 'a', 'h_a', 0, 'ok', '[]')`).run();
    expect(store.runs.get('run-old')?.status).toBe('succeeded');
    expect(store.runs.hosts('run-old')[0]?.status).toBe('succeeded');

    store.runs.create({ id: 'run-new', role: 'os-prep', check: false, diff: false, vars: {}, createdBy: 'otto', hosts: [{ name: 'a', hostId: 'h_a', plan: [] }] });
    store.runs.hostFinished('run-new', 'a', { status: 'succeeded' });
    store.runs.runFinished('run-new', 'succeeded');
    expect(store.db.prepare(`SELECT status FROM runs WHERE id = 'run-new'`).pluck().get()).toBe('ok');
    expect(store.runs.get('run-new')?.status).toBe('succeeded');
  });

  it("reads a step stored as 'done' as succeeded, and still stores 'done'", () => {
    const step = { phase: 'p', host: null, title: 'T', kind: 'k', args: {}, timeoutMs: null };
    store.operations.create({ id: 'op-1', kind: 'test', cluster: null, check: false, input: {}, createdBy: 'otto', steps: [{ ...step, key: 'a' }, { ...step, key: 'b' }] });
    store.db.prepare(`UPDATE operation_steps SET state = 'done' WHERE key = 'a'`).run();
    expect(store.operations.step('op-1', 'a')?.state).toBe('succeeded');

    store.operations.stepStarted('op-1', 'b');
    store.operations.stepSucceeded('op-1', 'b', 'succeeded', { changed: true, message: 'ok' });
    expect(store.db.prepare(`SELECT state FROM operation_steps WHERE key = 'b'`).pluck().get()).toBe('done');
    expect(store.operations.steps('op-1').map((s) => s.state)).toEqual(['succeeded', 'succeeded']);
  });
});
