/**
 * The cluster PKI's storage (table `cluster_pki`, migration 4): one row per CA, certificate, key
 * pair or token of a Kubernetes cluster. Records carry private keys, so only pki/cluster-pki.ts
 * reads them whole; the API (api/routes/certs.ts) projects them without keys.
 */
import type { PkiKind } from '../../../shared/src/certs-api.js';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { Database } from './db.js';

/** One stored PKI item; timestamps are ms since the epoch. */
export interface ClusterPkiRecord {
  cluster: string;
  /** Unique within the cluster, e.g. `etcd-ca`, `etcd-server:etcd-1`. */
  name: string;
  kind: PkiKind;
  subject: string;
  /** DNS names and IP addresses as issued; empty for CAs, key pairs and tokens. */
  sans: string[];
  /** null for a key pair (the public half is derived from the key) and for a token. */
  certPem: string | null;
  /** The PKCS#8 private key; for a token, the token itself. Secret. */
  keyPem: string;
  /** null for items that never expire (key pairs). */
  notAfter: number | null;
  createdAt: number;
}

/** What {@link ClusterPkiRepo.putAll} writes; `createdAt` comes from the repo's clock. */
export type NewClusterPkiItem = Omit<ClusterPkiRecord, 'cluster' | 'createdAt'>;

interface ClusterPkiRow {
  cluster: string;
  name: string;
  kind: string;
  subject: string;
  sans_json: string;
  cert_pem: string | null;
  key_pem: string;
  not_after: number | null;
  created_at: number;
}

const KINDS: ReadonlySet<string> = new Set<PkiKind>(['ca', 'cert', 'keypair', 'token']);

/**
 * A row as a record. The CHECK constraint guards `kind`, but sans_json is free text, so a row
 * damaged outside Ballast is reported (BALLAST_ERR_STORE, naming the row) rather than half-read.
 */
function fromRow(row: ClusterPkiRow): ClusterPkiRecord {
  const where = `${row.cluster}/${row.name}`;
  let sans: unknown;
  try {
    sans = JSON.parse(row.sans_json) as unknown;
  } catch (err) {
    throw new BallastError('BALLAST_ERR_STORE', `failed to read cluster PKI item ${where}: sans_json: ${messageOf(err)}`, { cause: err });
  }
  if (!Array.isArray(sans) || !sans.every((s): s is string => typeof s === 'string')) {
    throw new BallastError('BALLAST_ERR_STORE', `failed to read cluster PKI item ${where}: sans_json is not a list of strings`);
  }
  if (!KINDS.has(row.kind)) {
    throw new BallastError('BALLAST_ERR_STORE', `failed to read cluster PKI item ${where}: unknown kind "${row.kind}"`);
  }
  return {
    cluster: row.cluster,
    name: row.name,
    kind: row.kind as PkiKind,
    subject: row.subject,
    sans,
    certPem: row.cert_pem,
    keyPem: row.key_pem,
    notAfter: row.not_after,
    createdAt: row.created_at,
  };
}

/** Reads and writes `cluster_pki`. Writes of one ensure pass go through {@link ClusterPkiRepo.putAll} in one transaction. */
export class ClusterPkiRepo {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #get;
  readonly #listAll;
  readonly #listCluster;
  readonly #upsert;
  readonly #delete;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#get = db.prepare<[string, string], ClusterPkiRow>('SELECT * FROM cluster_pki WHERE cluster = ? AND name = ?');
    this.#listAll = db.prepare<[], ClusterPkiRow>('SELECT * FROM cluster_pki ORDER BY cluster, name');
    this.#listCluster = db.prepare<[string], ClusterPkiRow>('SELECT * FROM cluster_pki WHERE cluster = ? ORDER BY name');
    // Replace: ensure re-puts a name only after issuing a new item for it, which supersedes the old one.
    this.#upsert = db.prepare<[ClusterPkiRow]>(
      `INSERT INTO cluster_pki (cluster, name, kind, subject, sans_json, cert_pem, key_pem, not_after, created_at)
       VALUES (@cluster, @name, @kind, @subject, @sans_json, @cert_pem, @key_pem, @not_after, @created_at)
       ON CONFLICT (cluster, name) DO UPDATE SET
         kind = excluded.kind, subject = excluded.subject, sans_json = excluded.sans_json,
         cert_pem = excluded.cert_pem, key_pem = excluded.key_pem, not_after = excluded.not_after,
         created_at = excluded.created_at`,
    );
    this.#delete = db.prepare<[string, string]>('DELETE FROM cluster_pki WHERE cluster = ? AND name = ?');
  }

  /** The item, or null. */
  get(cluster: string, name: string): ClusterPkiRecord | null {
    const row = this.#get.get(cluster, name);
    return row === undefined ? null : fromRow(row);
  }

  /** The items of one cluster (or of all, by cluster), by name. */
  list(cluster?: string): ClusterPkiRecord[] {
    const rows = cluster === undefined ? this.#listAll.all() : this.#listCluster.all(cluster);
    return rows.map(fromRow);
  }

  /**
   * Inserts or replaces `items` of `cluster` atomically: a CA and the leaves re-signed by it land
   * together or not at all, so the store never holds a leaf whose CA is missing.
   */
  putAll(cluster: string, items: readonly NewClusterPkiItem[]): void {
    const createdAt = this.#now();
    this.#db.transaction(() => {
      for (const item of items) {
        this.#upsert.run({
          cluster,
          name: item.name,
          kind: item.kind,
          subject: item.subject,
          sans_json: JSON.stringify(item.sans),
          cert_pem: item.certPem,
          key_pem: item.keyPem,
          not_after: item.notAfter,
          created_at: createdAt,
        });
      }
    })();
  }

  /** Deletes one item (a removed member's certificates); true if it existed. */
  delete(cluster: string, name: string): boolean {
    return this.#delete.run(cluster, name).changes === 1;
  }
}
