/** The audit log: who did what through the API, including refused attempts. Append-only. */
import type { Database } from './db.js';

/** How an audited action ended. */
export type AuditOutcome = 'ok' | 'denied' | 'failed';

/** What to append. `role` is free text because unauthenticated callers have none (e.g. `none`). */
export interface NewAuditEntry {
  actor: string;
  role: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  detail?: string;
}

/** One audit entry as stored; `ts` is ms since the epoch. Maps onto the API's AuditEntry. */
export interface AuditRecord {
  id: number;
  ts: number;
  actor: string;
  role: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  detail: string;
}

/**
 * Audit retention: the newest entries are kept by count and by age (threat model: refused joins
 * and calls are audited too, so an unauthenticated peer could otherwise grow the table forever).
 */
export const AUDIT_RETENTION = { keep: 200_000, maxAgeMs: 400 * 24 * 3600_000 } as const;

/** Reads and writes `audit`. */
export class AuditRepo {
  readonly #now: () => number;
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #pruneCount;
  readonly #pruneAge;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare<[number, string, string, string, string, AuditOutcome, string]>(
      'INSERT INTO audit (ts, actor, role, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[number | bigint], AuditRecord>('SELECT * FROM audit WHERE id = ?');
    // By id, not ts: ids follow commit order even if the clock steps back.
    this.#list = db.prepare<[number], AuditRecord>('SELECT * FROM audit ORDER BY id DESC LIMIT ?');
    this.#pruneCount = db.prepare<[number]>('DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?');
    this.#pruneAge = db.prepare<[number]>('DELETE FROM audit WHERE ts < ?');
  }

  /** Deletes all but the newest `keep` entries and those older than `maxAgeMs`; returns how many. */
  prune(retention: { keep: number; maxAgeMs: number } = AUDIT_RETENTION): number {
    return this.#pruneCount.run(retention.keep).changes + this.#pruneAge.run(this.#now() - retention.maxAgeMs).changes;
  }

  /** Records an entry stamped with the current time and returns it. */
  append(entry: NewAuditEntry): AuditRecord {
    const { actor, role, action, target, outcome, detail = '' } = entry;
    const { lastInsertRowid } = this.#insert.run(this.#now(), actor, role, action, target, outcome, detail);
    return this.#get.get(lastInsertRowid)!;
  }

  /** The newest `limit` entries, newest first. */
  list(limit: number): AuditRecord[] {
    return this.#list.all(limit);
  }
}
