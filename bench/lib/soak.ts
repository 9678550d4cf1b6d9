/**
 * Soak figures (issue 15: "5,000 agents for 30 minutes: RSS growth < 5% after warm-up, no growth in
 * the store beyond the documented retention"): the controller's RSS series over the window and the
 * store's size and bounded tables at the window's start and end. The store is read through a second,
 * read-only SQLite connection (WAL lets it read beside the controller).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** The store at one moment. */
export interface StoreSnapshot {
  /** ballast.db plus its WAL, MB. */
  fileMb: number;
  rows: { events: number; healthSamples: number; hostHeartbeats: number; hosts: number };
}

/** What a soak window showed. */
export interface SoakResult {
  /** Median RSS of the first and the last tenth of the window (the first tenth is after warm-up). */
  rssMbStart: number;
  rssMbEnd: number;
  rssGrowthPercent: number;
  /** RSS every minute (MB), for the eye. */
  rssMbPerMinute: number[];
  storeStart: StoreSnapshot;
  storeEnd: StoreSnapshot;
}

/** The store's size and row counts now. */
export function storeSnapshot(dataDir: string): StoreSnapshot {
  const path = join(dataDir, 'ballast.db');
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) => db.prepare<[], number>(`SELECT COUNT(*) FROM ${table}`).pluck().get() ?? 0;
    return {
      fileMb: Math.round((size(path) + size(`${path}-wal`)) / 104_857.6) / 10,
      rows: { events: count('events'), healthSamples: count('health_samples'), hostHeartbeats: count('host_heartbeats'), hosts: count('hosts') },
    };
  } finally {
    db.close();
  }
}

/** Soak figures from an RSS series sampled once a second, and the store before and after. */
export function soakResult(rssSeries: readonly number[], storeStart: StoreSnapshot, storeEnd: StoreSnapshot): SoakResult {
  const tenth = Math.max(1, Math.floor(rssSeries.length / 10));
  const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? 0 : (s[Math.floor(s.length / 2)] ?? 0);
  };
  const start = median(rssSeries.slice(0, tenth));
  const end = median(rssSeries.slice(-tenth));
  return {
    rssMbStart: start,
    rssMbEnd: end,
    rssGrowthPercent: start === 0 ? 0 : Math.round((1000 * (end - start)) / start) / 10,
    rssMbPerMinute: rssSeries.filter((_, i) => i % 60 === 0),
    storeStart,
    storeEnd,
  };
}
