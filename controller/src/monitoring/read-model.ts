/**
 * What the monitoring collectors read from the store at scrape time, as a few read-only SQL
 * queries (no private key column is ever selected). Kept apart from the repositories: these are
 * aggregate views for /metrics, not records the rest of the controller acts on.
 *
 * Cluster membership is the newest non-check `cluster.create` of each cluster (its spec is the
 * cluster's, as in `ballastctl cluster status`), unless a later reset took the whole cluster down
 * (lifecycle `reset`): a reset cluster's hosts are free to be reused and are no longer its members.
 */
import type { Database } from '../store/db.js';

/** One host of a cluster spec. */
export interface MemberRow {
  cluster: string;
  host: string;
  /** The host has the `etcd` role. */
  etcd: boolean;
}

/** The newest non-check operation of one (cluster, kind). */
export interface LatestOperationRow {
  cluster: string | null;
  kind: string;
  id: string;
  state: string;
  updatedAt: number;
}

/** A count of non-check operations by kind and state. */
export interface OperationCountRow {
  kind: string;
  state: string;
  n: number;
}

/**
 * One expiring certificate Ballast issued: a cluster PKI CA or leaf, or an agent's client
 * certificate. The kubeadm bootstrap token is left out: it lives 24 h by design and is replaced
 * by the next ensure, so its expiry is no alert.
 */
export interface ExpiryRow {
  /** null for an agent certificate (the collector adds the host's cluster). */
  cluster: string | null;
  /** The PKI item's name (`etcd-server:etcd-1`), or the host's name for an agent certificate. */
  name: string;
  kind: 'ca' | 'cert' | 'agent';
  notAfter: number;
}

/** The queries; prepared once per controller. */
export class MonitoringReadModel {
  readonly #members;
  readonly #latest;
  readonly #counts;
  readonly #pki;
  readonly #agents;

  constructor(db: Database) {
    // One pass over the operations (a window, not a subquery per row): the newest create per cluster.
    this.#members = db.prepare<[], { cluster: string; host: string; etcd: number }>(
      `WITH newest AS (
         SELECT cluster, input_json,
                ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY created_at DESC, rowid DESC) AS n
           FROM operations
          WHERE kind = 'cluster.create' AND check_mode = 0 AND cluster IS NOT NULL)
       SELECT o.cluster AS cluster, json_extract(h.value, '$.name') AS host,
              EXISTS (SELECT 1 FROM json_each(h.value, '$.roles') r WHERE r.value = 'etcd') AS etcd
         FROM newest o, json_each(o.input_json, '$.spec.hosts') h
        WHERE o.n = 1
          AND NOT EXISTS (SELECT 1 FROM cluster_lifecycle l WHERE l.cluster = o.cluster AND l.lifecycle = 'reset')
        ORDER BY o.cluster, host`,
    );
    // One row per (cluster, kind): the newest by creation (rowid breaks ties of one millisecond).
    this.#latest = db.prepare<[], { cluster: string | null; kind: string; id: string; state: string; updated_at: number }>(
      `SELECT cluster, kind, id, state, updated_at FROM (
         SELECT cluster, kind, id, state, updated_at,
                ROW_NUMBER() OVER (PARTITION BY cluster, kind ORDER BY created_at DESC, rowid DESC) AS n
           FROM operations WHERE check_mode = 0)
        WHERE n = 1`,
    );
    this.#counts = db.prepare<[], OperationCountRow>(
      'SELECT kind, state, COUNT(*) AS n FROM operations WHERE check_mode = 0 GROUP BY kind, state',
    );
    this.#pki = db.prepare<[], { cluster: string; name: string; kind: string; not_after: number }>(
      `SELECT cluster, name, kind, not_after FROM cluster_pki WHERE not_after IS NOT NULL AND kind IN ('ca', 'cert')`,
    );
    this.#agents = db.prepare<[], { name: string; cert_not_after: number }>(
      'SELECT name, cert_not_after FROM hosts WHERE removed_at IS NULL',
    );
  }

  /** Every host of every live cluster, by cluster then host. */
  members(): MemberRow[] {
    return this.#members.all().map((r) => ({ cluster: r.cluster, host: r.host, etcd: r.etcd === 1 }));
  }

  latestOperations(): LatestOperationRow[] {
    return this.#latest.all().map((r) => ({ cluster: r.cluster, kind: r.kind, id: r.id, state: r.state, updatedAt: r.updated_at }));
  }

  operationCounts(): OperationCountRow[] {
    return this.#counts.all();
  }

  /** Cluster PKI items that expire, and every enrolled host's agent certificate. */
  expiries(): ExpiryRow[] {
    const pki: ExpiryRow[] = this.#pki.all().map((r) => ({
      cluster: r.cluster,
      name: r.name,
      kind: r.kind === 'ca' ? 'ca' : 'cert',
      notAfter: r.not_after,
    }));
    const agents: ExpiryRow[] = this.#agents.all().map((r) => ({ cluster: null, name: r.name, kind: 'agent', notAfter: r.cert_not_after }));
    return [...pki, ...agents];
  }
}
