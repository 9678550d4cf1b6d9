/**
 * etcd snapshots, restore drills and snapshot policies (tables `etcd_snapshots`, `etcd_drills`,
 * `snapshot_policies`, migration 9 "etcd_snapshots"). The bundle files themselves live under
 * <data dir>/snapshots (controller/src/snapshots/); this is their index. A snapshot whose last
 * verification failed keeps its row (so `list` shows why) but is never offered for restore.
 */
import type { Database } from './db.js';

/** One recorded snapshot; timestamps are ms since the epoch. */
export interface SnapshotRecord {
  id: string;
  cluster: string;
  createdAt: number;
  trigger: 'manual' | 'schedule';
  /** The host whose agent took it, and its etcd member name. */
  host: string;
  member: string;
  /** sha256 and size of the etcd database file (plaintext). */
  sha256: string;
  size: number;
  /** etcd revision and key count at snapshot time (`etcdctl snapshot status`), revision as decimal. */
  revision: string;
  totalKeys: number;
  /** etcd's own hash of the database (`snapshot status` hash), decimal. */
  etcdHash: string;
  durationMs: number;
  encrypted: boolean;
  /** The sealed bundle's file name under the snapshot directory, its sha256 and size. */
  file: string;
  sealedSha256: string;
  sealedSize: number;
  /** The object key in the S3 target, once copied. */
  s3Key: string | null;
  s3CopiedAt: number | null;
  /** Last successful verification; null until verified. */
  verifiedAt: number | null;
  /** Why the last verification failed; a snapshot with an error is never offered for restore. */
  verifyError: string | null;
}

/** One restore drill's outcome. */
export interface DrillRecord {
  id: string;
  cluster: string;
  snapshotId: string;
  startedAt: number;
  durationMs: number;
  outcome: 'passed' | 'failed';
  /** Each step with its outcome (`skipped` with a reason when a binary is absent). */
  steps: DrillStep[];
  error: string | null;
}

/** One step of a drill. */
export interface DrillStep {
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  detail: string;
  durationMs: number;
}

interface SnapshotRow {
  id: string;
  cluster: string;
  created_at: number;
  trigger: string;
  host: string;
  member: string;
  sha256: string;
  size: number;
  revision: string;
  total_keys: number;
  etcd_hash: string;
  duration_ms: number;
  encrypted: number;
  file: string;
  sealed_sha256: string;
  sealed_size: number;
  s3_key: string | null;
  s3_copied_at: number | null;
  verified_at: number | null;
  verify_error: string | null;
}

interface DrillRow {
  id: string;
  cluster: string;
  snapshot_id: string;
  started_at: number;
  duration_ms: number;
  outcome: string;
  steps_json: string;
  error: string | null;
}

function fromRow(r: SnapshotRow): SnapshotRecord {
  return {
    id: r.id,
    cluster: r.cluster,
    createdAt: r.created_at,
    trigger: r.trigger === 'schedule' ? 'schedule' : 'manual',
    host: r.host,
    member: r.member,
    sha256: r.sha256,
    size: r.size,
    revision: r.revision,
    totalKeys: r.total_keys,
    etcdHash: r.etcd_hash,
    durationMs: r.duration_ms,
    encrypted: r.encrypted === 1,
    file: r.file,
    sealedSha256: r.sealed_sha256,
    sealedSize: r.sealed_size,
    s3Key: r.s3_key,
    s3CopiedAt: r.s3_copied_at,
    verifiedAt: r.verified_at,
    verifyError: r.verify_error,
  };
}

function drillFromRow(r: DrillRow): DrillRecord {
  return {
    id: r.id,
    cluster: r.cluster,
    snapshotId: r.snapshot_id,
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    outcome: r.outcome === 'passed' ? 'passed' : 'failed',
    steps: JSON.parse(r.steps_json) as DrillStep[],
    error: r.error,
  };
}

/** Reads and writes the snapshot index, drills and policies. */
export class SnapshotRepo {
  readonly #db: Database;
  readonly #now: () => number;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
  }

  insert(s: SnapshotRecord): void {
    this.#db
      .prepare(
        `INSERT INTO etcd_snapshots (id, cluster, created_at, trigger, host, member, sha256, size, revision, total_keys, etcd_hash,
           duration_ms, encrypted, file, sealed_sha256, sealed_size, s3_key, s3_copied_at, verified_at, verify_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.id,
        s.cluster,
        s.createdAt,
        s.trigger,
        s.host,
        s.member,
        s.sha256,
        s.size,
        s.revision,
        s.totalKeys,
        s.etcdHash,
        Math.round(s.durationMs),
        s.encrypted ? 1 : 0,
        s.file,
        s.sealedSha256,
        s.sealedSize,
        s.s3Key,
        s.s3CopiedAt,
        s.verifiedAt,
        s.verifyError,
      );
  }

  get(id: string): SnapshotRecord | null {
    const row = this.#db.prepare<[string], SnapshotRow>('SELECT * FROM etcd_snapshots WHERE id = ?').get(id);
    return row === undefined ? null : fromRow(row);
  }

  /** Newest first; every cluster when `cluster` is absent. */
  list(cluster?: string): SnapshotRecord[] {
    const rows =
      cluster === undefined
        ? this.#db.prepare<[], SnapshotRow>('SELECT * FROM etcd_snapshots ORDER BY created_at DESC, id DESC').all()
        : this.#db.prepare<[string], SnapshotRow>('SELECT * FROM etcd_snapshots WHERE cluster = ? ORDER BY created_at DESC, id DESC').all(cluster);
    return rows.map(fromRow);
  }

  /** Records a verification: `error` null on success. */
  setVerified(id: string, error: string | null): void {
    if (error === null) this.#db.prepare('UPDATE etcd_snapshots SET verified_at = ?, verify_error = NULL WHERE id = ?').run(this.#now(), id);
    else this.#db.prepare('UPDATE etcd_snapshots SET verify_error = ? WHERE id = ?').run(error, id);
  }

  setS3Copy(id: string, key: string | null): void {
    this.#db.prepare('UPDATE etcd_snapshots SET s3_key = ?, s3_copied_at = ? WHERE id = ?').run(key, key === null ? null : this.#now(), id);
  }

  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM etcd_snapshots WHERE id = ?').run(id).changes > 0;
  }

  insertDrill(d: DrillRecord): void {
    this.#db
      .prepare('INSERT INTO etcd_drills (id, cluster, snapshot_id, started_at, duration_ms, outcome, steps_json, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(d.id, d.cluster, d.snapshotId, d.startedAt, Math.round(d.durationMs), d.outcome, JSON.stringify(d.steps), d.error);
  }

  /** Newest first, at most `limit`. */
  drills(cluster: string, limit = 50): DrillRecord[] {
    return this.#db
      .prepare<[string, number], DrillRow>('SELECT * FROM etcd_drills WHERE cluster = ? ORDER BY started_at DESC, id DESC LIMIT ?')
      .all(cluster, limit)
      .map(drillFromRow);
  }

  /** The policy set with ballastctl, or null (the cluster spec's or the defaults apply). */
  policy(cluster: string): unknown {
    const row = this.#db.prepare<[string], { policy_json: string }>('SELECT policy_json FROM snapshot_policies WHERE cluster = ?').get(cluster);
    return row === undefined ? null : (JSON.parse(row.policy_json) as unknown);
  }

  setPolicy(cluster: string, policy: unknown): void {
    this.#db
      .prepare(
        `INSERT INTO snapshot_policies (cluster, policy_json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (cluster) DO UPDATE SET policy_json = excluded.policy_json, updated_at = excluded.updated_at`,
      )
      .run(cluster, JSON.stringify(policy), this.#now());
  }

  /** Every cluster with a stored policy. */
  policyClusters(): string[] {
    return this.#db.prepare<[], { cluster: string }>('SELECT cluster FROM snapshot_policies ORDER BY cluster').all().map((r) => r.cluster);
  }
}
