import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { checkSnapshotPolicy, defaultSnapshotPolicy } from '../cluster/snapshot-spec.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { policySource } from './policy.js';
import { expiredSnapshots } from './retention.js';
import { SnapshotScheduler } from './scheduler.js';
import { fileSink, UploadSlots } from './uploads.js';

const HOUR = 3_600_000;
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('retention', () => {
  it('keeps the newest N, then the newest of each of the last D days, and never counts bad ones', () => {
    const base = Date.UTC(2026, 11, 7, 23, 0);
    // 72 hourly snapshots over three days, newest first.
    const items = Array.from({ length: 72 }, (_, i) => ({ id: `s${i}`, createdAt: base - i * HOUR, bad: false }));
    const expired = new Set(expiredSnapshots(items, { keepHourly: 24, keepDaily: 3 }));
    const kept = items.filter((i) => !expired.has(i.id)).map((i) => i.id);
    // 24 newest (Dec 7 00:00..23:00) + newest of Dec 6 (s24) and Dec 5 (s48).
    expect(kept).toEqual([...Array.from({ length: 24 }, (_, i) => `s${i}`), 's24', 's48']);
    const withBad = [{ id: 'bad', createdAt: base + HOUR, bad: true }, ...items];
    const e2 = expiredSnapshots(withBad, { keepHourly: 1, keepDaily: 0 });
    expect(e2).toContain('bad');
    expect(e2).not.toContain('s0');
  });
});

describe('snapshot policy', () => {
  it('fills fields a stored spec or override predates (autoDefrag, defragSchedule) with their defaults', () => {
    const old = { enabled: true, schedule: '*/30 * * * *', keepHourly: 4, keepDaily: 2, drillSchedule: '30 3 * * *' };
    const spec = { name: 'a', snapshots: old } as unknown as ClusterSpec;
    const fromSpec = policySource({ policy: () => null, setPolicy: () => {} }, () => spec).policy('a');
    expect(fromSpec).toEqual({ ...old, autoDefrag: true, defragSchedule: '0 4 * * *' });
    const stored = policySource({ policy: () => ({ ...old, keepHourly: 9 }), setPolicy: () => {} }, () => spec).info('a');
    expect(stored).toMatchObject({ source: 'ballastctl', policy: { keepHourly: 9, autoDefrag: true, defragSchedule: '0 4 * * *' } });
  });

  it('has hourly snapshots, 24 + 7 kept and a daily drill by default, and reports bad cron expressions with their path', () => {
    expect(defaultSnapshotPolicy()).toEqual({ enabled: true, schedule: '0 * * * *', keepHourly: 24, keepDaily: 7, drillSchedule: '30 3 * * *', autoDefrag: true, defragSchedule: '0 4 * * *' });
    const bad = checkSnapshotPolicy({ schedule: '61 * * * *', keepHourly: 0 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => p.path)).toContain('/snapshots/keepHourly');
    const badCron = checkSnapshotPolicy({ schedule: '61 * * * *' });
    expect(badCron.ok === false && badCron.problems[0]?.path).toBe('/snapshots/schedule');
  });
});

describe('UploadSlots', () => {
  async function tmp(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'ballast-slots-'));
    dirs.push(d);
    return d;
  }

  it('accepts one upload from the host it was opened for, hashing it', async () => {
    const slots = new UploadSlots();
    const id = slots.open({ host: 'h1', maxBytes: 100, sink: fileSink(join(await tmp(), 'up.db')), ttlMs: 60_000 });
    const got = await slots.receive(id, 'h1', Readable.from([Buffer.from('hello')]), 5);
    expect(got).toMatchObject({ size: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
    await expect(slots.receive(id, 'h1', Readable.from([Buffer.from('x')]), 1)).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION' });
  });

  it('refuses another host, an expired slot and more bytes than the bound (leaving no file)', async () => {
    let now = 1000;
    const slots = new UploadSlots({ now: () => now });
    const dir = await tmp();
    const id = slots.open({ host: 'h1', maxBytes: 4, sink: fileSink(join(dir, 'a.db')), ttlMs: 100 });
    await expect(slots.receive(id, 'h2', Readable.from([Buffer.from('x')]), 1)).rejects.toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    await expect(slots.receive(id, 'h1', Readable.from([Buffer.from('hello')]), null)).rejects.toMatchObject({ code: 'BALLAST_ERR_TOO_LARGE' });
    expect(await readdir(dir)).toEqual([]);
    const late = slots.open({ host: 'h1', maxBytes: 4, sink: fileSink(join(dir, 'b.db')), ttlMs: 100 });
    now += 101;
    await expect(slots.receive(late, 'h1', Readable.from([Buffer.from('x')]), 1)).rejects.toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
  });
});

describe('SnapshotScheduler', () => {
  it('runs each cluster on its cron schedule with node-cron, converges to policy changes and stops', async () => {
    const runs: string[] = [];
    let policy = { ...defaultSnapshotPolicy(), schedule: '* * * * * *', drillSchedule: '0 0 1 1 *' };
    const scheduler = new SnapshotScheduler({
      clusters: () => ['a'],
      policy: () => policy,
      work: { take: async (c) => runs.push(`take:${c}`), drill: async (c) => runs.push(`drill:${c}`), defrag: async (c) => runs.push(`defrag:${c}`) },
      log: silentLogger(),
    });
    await scheduler.start();
    expect(scheduler.running()).toEqual({ 'a/snapshot': '* * * * * *', 'a/drill': '0 0 1 1 *', 'a/defrag': '0 4 * * *' });
    policy = { ...policy, autoDefrag: false };
    scheduler.ensureSchedules();
    expect(scheduler.running()).toEqual({ 'a/snapshot': '* * * * * *', 'a/drill': '0 0 1 1 *' });
    await new Promise((r) => setTimeout(r, 2200));
    expect(runs.filter((r) => r === 'take:a').length).toBeGreaterThanOrEqual(1);
    policy = { ...policy, enabled: false };
    scheduler.ensureSchedules();
    expect(scheduler.running()).toEqual({});
    const before = runs.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(runs.length).toBe(before);
    await scheduler.stop();
  }, 10_000);
});
