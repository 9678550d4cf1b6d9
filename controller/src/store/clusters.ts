/**
 * Where each Kubernetes cluster stands (table `cluster_lifecycle`, migration 6): the settled
 * lifecycle a successful cluster create or reset left it in. Kept apart from operation outcomes,
 * which say how the last operation went, not what the cluster is.
 */
import type { Database } from './db.js';

/** A lifecycle an operation leaves behind when it succeeds. */
export type SettledLifecycle = 'created' | 'reset' | 'partly-reset';

/** One cluster's row; `updatedAt` is ms since the epoch. */
export interface ClusterLifecycleRecord {
  cluster: string;
  lifecycle: SettledLifecycle;
  /** The operation that settled it. */
  operationId: string;
  updatedAt: number;
}

interface Row {
  cluster: string;
  lifecycle: SettledLifecycle;
  operation_id: string;
  updated_at: number;
}

/** Reads and writes {@link ClusterLifecycleRecord}s. */
export class ClusterLifecycleRepo {
  readonly #db: Database;
  readonly #now: () => number;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
  }

  /** Records that `operationId` left `cluster` in `lifecycle` (the newest write wins). */
  set(cluster: string, lifecycle: SettledLifecycle, operationId: string): void {
    this.#db
      .prepare(
        `INSERT INTO cluster_lifecycle (cluster, lifecycle, operation_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (cluster) DO UPDATE SET lifecycle = excluded.lifecycle, operation_id = excluded.operation_id, updated_at = excluded.updated_at`,
      )
      .run(cluster, lifecycle, operationId, this.#now());
  }

  get(cluster: string): ClusterLifecycleRecord | null {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM cluster_lifecycle WHERE cluster = ?').get(cluster);
    return row === undefined ? null : { cluster: row.cluster, lifecycle: row.lifecycle, operationId: row.operation_id, updatedAt: row.updated_at };
  }
}
