/**
 * The membership lock and the cluster's current spec (tables `membership_locks` and
 * `cluster_specs`, migration 7). One membership change — node replace, add or remove — at a time
 * per cluster, as Cluster API remediates one machine at a time: the lock is taken by the
 * operation's first step and released by its last, in SQLite, so a controller restarted
 * mid-change still knows the change is in progress (cluster-api#4365: a remediation lost across a
 * controller restart got stuck). An aborted or failed change keeps the lock: etcd may be
 * half-changed, and someone must look before the next change (`ballastctl node unlock`).
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { Database } from './db.js';

/** Who holds a cluster's membership lock. */
export interface MembershipLock {
  cluster: string;
  operationId: string;
  /** The operation kind (`node.replace` …). */
  kind: string;
  /** What it changes, for the operator: `replace h1 with h4`. */
  detail: string;
  acquiredAt: number;
}

/** A cluster's spec after its newest membership change. */
export interface StoredClusterSpec {
  cluster: string;
  spec: unknown;
  operationId: string;
  updatedAt: number;
}

interface LockRow {
  cluster: string;
  operation_id: string;
  kind: string;
  detail: string;
  acquired_at: number;
}

/** Reads and writes the membership lock and the current specs. */
export class MembershipRepo {
  readonly #db: Database;
  readonly #now: () => number;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
  }

  /** The lock of `cluster`, or null when free. */
  lock(cluster: string): MembershipLock | null {
    const row = this.#db.prepare<[string], LockRow>('SELECT * FROM membership_locks WHERE cluster = ?').get(cluster);
    return row === undefined ? null : { cluster: row.cluster, operationId: row.operation_id, kind: row.kind, detail: row.detail, acquiredAt: row.acquired_at };
  }

  /**
   * Takes the lock for `operationId`; taking it again with the same operation is a no-op (a step
   * re-executed after a restart). Throws BALLAST_ERR_MEMBERSHIP_LOCKED naming the holder otherwise.
   */
  acquire(lock: Omit<MembershipLock, 'acquiredAt'>): MembershipLock {
    const take = this.#db.transaction(() => {
      const held = this.lock(lock.cluster);
      if (held !== null && held.operationId !== lock.operationId) throw lockedError(held);
      if (held !== null) return held;
      this.#db
        .prepare('INSERT INTO membership_locks (cluster, operation_id, kind, detail, acquired_at) VALUES (?, ?, ?, ?, ?)')
        .run(lock.cluster, lock.operationId, lock.kind, lock.detail, this.#now());
      return { ...lock, acquiredAt: this.#now() };
    });
    return take.immediate();
  }

  /** Releases the lock if `operationId` holds it (or any holder when null: `node unlock`); true when something was released. */
  release(cluster: string, operationId: string | null): boolean {
    const res =
      operationId === null
        ? this.#db.prepare('DELETE FROM membership_locks WHERE cluster = ?').run(cluster)
        : this.#db.prepare('DELETE FROM membership_locks WHERE cluster = ? AND operation_id = ?').run(cluster, operationId);
    return res.changes > 0;
  }

  /**
   * Records the spec a finished change leaves and releases its lock, in one transaction: either
   * the cluster has its new hosts and the lock is free, or neither.
   */
  finish(cluster: string, operationId: string, spec: unknown): void {
    this.#db.transaction(() => {
      this.#db
        .prepare(
          `INSERT INTO cluster_specs (cluster, spec_json, operation_id, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (cluster) DO UPDATE SET spec_json = excluded.spec_json, operation_id = excluded.operation_id, updated_at = excluded.updated_at`,
        )
        .run(cluster, JSON.stringify(spec), operationId, this.#now());
      this.release(cluster, operationId);
    })();
  }

  /** The spec of the newest finished membership change of `cluster`, or null. */
  spec(cluster: string): StoredClusterSpec | null {
    const row = this.#db
      .prepare<[string], { cluster: string; spec_json: string; operation_id: string; updated_at: number }>('SELECT * FROM cluster_specs WHERE cluster = ?')
      .get(cluster);
    if (row === undefined) return null;
    return { cluster: row.cluster, spec: JSON.parse(row.spec_json) as unknown, operationId: row.operation_id, updatedAt: row.updated_at };
  }
}

/** The refusal when another change holds the lock. */
export function lockedError(held: MembershipLock): BallastError {
  return new BallastError(
    'BALLAST_ERR_MEMBERSHIP_LOCKED',
    `failed to start a membership change of cluster ${held.cluster}: ${held.operationId} (${held.kind}: ${held.detail}) holds its membership lock since ${new Date(held.acquiredAt).toISOString()}; ` +
      `resume or finish it (ballastctl op ${held.operationId}), or, after checking etcd's member list, ballastctl node unlock ${held.cluster}`,
  );
}
