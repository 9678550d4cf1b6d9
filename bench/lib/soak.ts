/**
 * Soak figures (issue 15: "5,000 agents for 30 minutes: RSS growth < 5% after warm-up, no growth in
 * the store beyond the documented retention"): every `everySeconds` (default 30) over the window,
 * the controller's RSS and the store's file size and row count per table, read through a second,
 * read-only SQLite connection (WAL lets it read beside the controller). The window starts after the
 * phase's warm-up (`--warmup`), so "growth" is growth after warm-up.
 *
 * The documented bounds (README "Heartbeats and crash safety", store retention): `hosts` and
 * `host_heartbeats` one row per host; `events` the newest 100,000 (pruned every 10 min);
 * `health_samples` 1,000 per host and 24 h (a host with unchanged checks stores one a minute, so it
 * grows by ~N per minute until the bound); `audit` 200,000 and 400 days.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** The store at one moment. */
export interface StoreSnapshot {
  /** ballast.db plus its WAL, MB. */
  fileMb: number;
  /** Rows per table (every table of the schema, by name). */
  rows: Record<string, number>;
}

/** One sample of the soak. */
export interface SoakSample {
  /** Seconds since the window started. */
  atSeconds: number;
  rssMb: number;
  /** Agents connected (`ballast_agents_connected`), null when /metrics did not answer: RSS follows it. */
  agentsConnected: number | null;
  store: StoreSnapshot;
}

/** What a soak window showed. */
export interface SoakResult {
  everySeconds: number;
  /** Median RSS of the first and the last tenth of the window (the first tenth is after warm-up). */
  rssMbStart: number;
  rssMbEnd: number;
  rssGrowthPercent: number;
  samples: SoakSample[];
  storeStart: StoreSnapshot;
  storeEnd: StoreSnapshot;
  /** From the first to the last sample, scaled to an hour: file MB and rows per table. */
  storeGrowthPerHour: { fileMb: number; rows: Record<string, number> };
  /** Tables whose rows must not grow at all in a steady fleet (one row per host), with their growth. */
  flatTablesGrew: Record<string, number>;
}

/** Tables that hold one row per host: any growth in a steady fleet is a leak. */
const FLAT_TABLES = ['hosts', 'host_heartbeats'] as const;

const fileSize = (p: string): number => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

/** The store's size and row counts now. */
export function storeSnapshot(dataDir: string): StoreSnapshot {
  const path = join(dataDir, 'ballast.db');
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    const rows: Record<string, number> = {};
    // Names come from the schema itself, quoted: not user input.
    for (const t of tables) rows[t] = db.prepare<[], number>(`SELECT COUNT(*) FROM "${t.replaceAll('"', '""')}"`).pluck().get() ?? 0;
    return { fileMb: Math.round((fileSize(path) + fileSize(`${path}-wal`)) / 104_857.6) / 10, rows };
  } finally {
    db.close();
  }
}

/** Takes a sample every `everySeconds` while the window runs; `rssMb` reads the process's current RSS. */
export class SoakSampler {
  readonly samples: SoakSample[] = [];
  private readonly startedAt = Date.now();
  private nextAt: number;

  constructor(
    private readonly dataDir: string,
    private readonly rssMb: () => number,
    private readonly connected: () => Promise<number | null>,
    readonly everySeconds = 30,
  ) {
    this.nextAt = this.startedAt;
  }

  /** Takes a sample if one is due (call at least once a second; the first call takes one). */
  async poll(): Promise<void> {
    if (Date.now() < this.nextAt) return;
    this.nextAt += this.everySeconds * 1000;
    await this.take();
  }

  /** Takes the last sample and returns the figures (and prints the growth). */
  async finish(rssSeries: readonly number[]): Promise<SoakResult> {
    await this.take();
    const r = soakResult(rssSeries, this.samples, this.everySeconds);
    const grew = Object.entries(r.storeGrowthPerHour.rows).filter(([, n]) => n !== 0);
    process.stderr.write(
      `soak: RSS ${r.rssMbStart} → ${r.rssMbEnd} MB (${r.rssGrowthPercent}%); store ${r.storeGrowthPerHour.fileMb} MB/h, rows/h ${grew.map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}\n`,
    );
    return r;
  }

  private async take(): Promise<void> {
    const agentsConnected = await this.connected().catch(() => null);
    const sample = {
      atSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      rssMb: Math.round(this.rssMb() * 10) / 10,
      agentsConnected,
      store: storeSnapshot(this.dataDir),
    };
    this.samples.push(sample);
    const nonEmpty = Object.entries(sample.store.rows).filter(([, n]) => n > 0);
    process.stderr.write(`soak: ${sample.atSeconds}s rss ${sample.rssMb} MB, ${sample.agentsConnected ?? '?'} agents connected, store ${sample.store.fileMb} MB, rows ${nonEmpty.map(([t, n]) => `${t} ${n}`).join(', ')}\n`);
  }
}

/** Soak figures from an RSS series sampled once a second and the periodic samples. */
export function soakResult(rssSeries: readonly number[], samples: readonly SoakSample[], everySeconds: number): SoakResult {
  const tenth = Math.max(1, Math.floor(rssSeries.length / 10));
  const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? 0 : (s[Math.floor(s.length / 2)] ?? 0);
  };
  const start = median(rssSeries.slice(0, tenth));
  const end = median(rssSeries.slice(-tenth));
  const first = samples[0] ?? { atSeconds: 0, rssMb: 0, agentsConnected: null, store: { fileMb: 0, rows: {} } };
  const last = samples.at(-1) ?? first;
  const hours = Math.max(1, last.atSeconds - first.atSeconds) / 3600;
  const perHour = (d: number) => Math.round((10 * d) / hours) / 10;
  const rows: Record<string, number> = {};
  for (const [t, n] of Object.entries(last.store.rows)) rows[t] = perHour(n - (first.store.rows[t] ?? 0));
  const flatTablesGrew: Record<string, number> = {};
  for (const t of FLAT_TABLES) {
    const grew = (last.store.rows[t] ?? 0) - (first.store.rows[t] ?? 0);
    if (grew !== 0) flatTablesGrew[t] = grew;
  }
  return {
    everySeconds,
    rssMbStart: Math.round(start * 10) / 10,
    rssMbEnd: Math.round(end * 10) / 10,
    rssGrowthPercent: start === 0 ? 0 : Math.round((1000 * (end - start)) / start) / 10,
    samples: [...samples],
    storeStart: first.store,
    storeEnd: last.store,
    storeGrowthPerHour: { fileMb: perHour(last.store.fileMb - first.store.fileMb), rows },
    flatTablesGrew,
  };
}
