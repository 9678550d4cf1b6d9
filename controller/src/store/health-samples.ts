/**
 * Health history per host, for trends and post-mortems. Bounded twice, by age and by count per
 * host, so a chatty agent cannot grow the database without limit.
 */
import type { Health } from '../../../shared/src/protocol/facts.js';
import type { Database } from './db.js';

/** One stored snapshot; `ts` is the controller's receive time in ms since the epoch. */
export interface HealthSample {
  id: number;
  hostId: string;
  ts: number;
  health: Health;
}

/** Retention bounds; a sample is deleted when it is outside either. */
export interface HealthRetention {
  maxPerHost: number;
  maxAgeMs: number;
}

/** 24 hours and 1000 samples per host (a sample a minute fills a day with room to spare). */
export const DEFAULT_HEALTH_RETENTION: Readonly<HealthRetention> = { maxPerHost: 1000, maxAgeMs: 24 * 3600 * 1000 };

/** Options of {@link HealthSampleRepo.prune}; omitted bounds use the defaults. */
export interface PruneOptions extends Partial<HealthRetention> {
  now?: number;
}

interface SampleRow {
  id: number;
  host_id: string;
  ts: number;
  json: string;
}

/** Reads and writes `health_samples`. */
export class HealthSampleRepo {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #insert;
  readonly #latest;
  readonly #deleteOlder;
  readonly #deleteBeyond;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare<[string, number, string]>('INSERT INTO health_samples (host_id, ts, json) VALUES (?, ?, ?)');
    this.#latest = db.prepare<[string, number], SampleRow>(
      'SELECT * FROM health_samples WHERE host_id = ? ORDER BY ts DESC, id DESC LIMIT ?',
    );
    this.#deleteOlder = db.prepare<[number]>('DELETE FROM health_samples WHERE ts < ?');
    this.#deleteBeyond = db.prepare<[number]>(
      `DELETE FROM health_samples WHERE id IN (
         SELECT id FROM (
           SELECT id, ROW_NUMBER() OVER (PARTITION BY host_id ORDER BY ts DESC, id DESC) AS n FROM health_samples
         ) WHERE n > ?
       )`,
    );
  }

  /** Stores a snapshot of host `hostId` taken at `ts`; returns its id. The host must exist. */
  append(hostId: string, health: Health, ts: number): number {
    return Number(this.#insert.run(hostId, ts, JSON.stringify(health)).lastInsertRowid);
  }

  /** The newest `n` samples of a host, newest first. */
  latest(hostId: string, n: number): HealthSample[] {
    return this.#latest.all(hostId, n).map((row) => ({
      id: row.id,
      hostId: row.host_id,
      ts: row.ts,
      health: JSON.parse(row.json) as Health,
    }));
  }

  /** Deletes samples older than `maxAgeMs` or beyond the newest `maxPerHost` of their host; returns how many. */
  prune(options: PruneOptions = {}): number {
    const maxPerHost = options.maxPerHost ?? DEFAULT_HEALTH_RETENTION.maxPerHost;
    const maxAgeMs = options.maxAgeMs ?? DEFAULT_HEALTH_RETENTION.maxAgeMs;
    const now = options.now ?? this.#now();
    return this.#db.transaction(
      () => this.#deleteOlder.run(now - maxAgeMs).changes + this.#deleteBeyond.run(maxPerHost).changes,
    )();
  }
}
