/**
 * The controller's snapshot store: sealed bundles under one directory (<data dir>/snapshots, 0700)
 * indexed by the `etcd_snapshots` table. It seals a database while it streams in ({@link
 * SnapshotVault.beginSeal}: format 2, sealed-v2.ts, one pass), verifies (decrypts and re-hashes),
 * opens a snapshot for a drill or a restore, and deletes. Every open re-verifies: a snapshot is
 * offered for restore only when every segment's GCM tag and the database's sha256 match what was
 * recorded when it was taken; a failure is recorded (`verify_error`) and the snapshot is refused
 * from then on, even if a later read happened to succeed. Bundles of format 1 are still read.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { ClusterPkiRecord } from '../store/cluster-pki.js';
import type { SnapshotRecord, SnapshotRepo } from '../store/snapshots.js';
import { buildBundle, parseBundle, type RestoreBundle } from './bundle.js';
import { CHUNK } from './sealed-format.js';
import { openSealedSnapshot } from './sealed-file.js';
import { SealWriter } from './sealed-v2.js';

/** What an agent reported about a snapshot it took, plus the local file it uploaded. */
export interface TakenSnapshot
  extends Pick<SnapshotRecord, 'cluster' | 'trigger' | 'host' | 'member' | 'sha256' | 'size' | 'revision' | 'totalKeys' | 'etcdHash' | 'durationMs'> {
  /** The uploaded etcd database (plaintext); removed once sealed. */
  dbPath: string;
}

/** A seal in progress: the database streams into {@link sink}; {@link commit} records it, {@link abort} drops it. */
export interface PendingSeal {
  /** The Writable the database goes into (once). */
  sink(): Writable;
  /** Appends the bundle (built from `taken`), renames the file into place and records it. */
  commit(taken: Omit<TakenSnapshot, 'dbPath'>): Promise<SnapshotRecord>;
  /** Deletes the partial file; a no-op after a commit. */
  abort(): Promise<void>;
}

/** A verified, decrypted snapshot ready for a restore or a drill. */
export interface OpenedSnapshot {
  record: SnapshotRecord;
  /** The decrypted etcd database (0600), inside the caller's directory. */
  dbPath: string;
  bundle: RestoreBundle;
}

/** Options of {@link SnapshotVault}. */
export interface SnapshotVaultOptions {
  dir: string;
  repo: SnapshotRepo;
  /** The AES-256 key; loaded lazily so a controller that never snapshots never needs one. */
  key: () => Promise<Buffer>;
  /** The restore bundle's inputs for a cluster at snapshot time. */
  bundleInputs: (cluster: string) => { pki: readonly ClusterPkiRecord[]; spec: unknown };
  now?: () => number;
}

/** New snapshot ids: sortable by time, unique (`20261207T0600Z-3f9a1c`). */
export function newSnapshotId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** See the file comment. */
export class SnapshotVault {
  readonly dir: string;
  readonly #o: SnapshotVaultOptions;
  readonly #now: () => number;

  constructor(options: SnapshotVaultOptions) {
    this.dir = options.dir;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** A private scratch directory for uploads and decrypted copies (same filesystem as the bundles). */
  async scratch(): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dir = join(this.dir, `.work-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Seals a database file with its bundle and records it (for imports and tests; the service streams with {@link beginSeal}). */
  async store(taken: TakenSnapshot): Promise<SnapshotRecord> {
    const { dbPath, ...rest } = taken;
    const pending = await this.beginSeal();
    try {
      await pipeline(createReadStream(dbPath, { highWaterMark: CHUNK }), pending.sink());
      return await pending.commit(rest);
    } finally {
      await pending.abort();
    }
  }

  /** Starts sealing a snapshot whose database will stream into the returned seal's sink. */
  async beginSeal(): Promise<PendingSeal> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const key = await this.#o.key();
    // The final name carries the snapshot id, chosen at commit (the id records when it was taken).
    const writer = await SealWriter.create({ key, dir: this.dir });
    let committed = false;
    return {
      sink: () => writer.sink(),
      abort: async () => {
        if (!committed) await writer.abort();
      },
      commit: async (taken) => {
        const createdAt = this.#now();
        const id = newSnapshotId(createdAt);
        const file = `${id}.bsnap`;
        const inputs = this.#o.bundleInputs(taken.cluster);
        const bundle = buildBundle({
          cluster: taken.cluster,
          snapshotId: id,
          createdAt,
          etcd: { revision: taken.revision, totalKeys: taken.totalKeys, sha256: taken.sha256, member: taken.member },
          pki: inputs.pki,
          spec: inputs.spec,
        });
        const sealed = await writer.finish(JSON.stringify(bundle), join(this.dir, file));
        committed = true;
        const record: SnapshotRecord = {
          ...taken,
          id,
          createdAt,
          encrypted: true,
          file,
          sealedSha256: sealed.sha256,
          sealedSize: sealed.size,
          s3Key: null,
          s3CopiedAt: null,
          verifiedAt: createdAt,
          verifyError: null,
        };
        this.#o.repo.insert(record);
        return record;
      },
    };
  }

  /** The record, or BALLAST_ERR_NOT_FOUND. */
  get(id: string): SnapshotRecord {
    const record = this.#o.repo.get(id);
    if (record === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find etcd snapshot ${id}: no such snapshot (ballastctl etcd snapshot list)`);
    return record;
  }

  /**
   * Decrypts and re-hashes the snapshot (into `dbOutPath` when given), records the outcome and
   * resolves with the bundle; throws BALLAST_ERR_SNAPSHOT_INVALID on any mismatch.
   */
  async verify(id: string, dbOutPath: string | null = null): Promise<{ record: SnapshotRecord; bundle: RestoreBundle }> {
    const record = this.get(id);
    try {
      const opened = await openSealedSnapshot({ key: await this.#o.key(), sealedPath: join(this.dir, record.file), dbOutPath });
      if (opened.dbSha256 !== record.sha256 || opened.dbSize !== record.size) {
        throw new BallastError(
          'BALLAST_ERR_SNAPSHOT_INVALID',
          `failed to verify etcd snapshot ${id}: its database has sha256 ${opened.dbSha256} (${opened.dbSize} bytes), recorded ${record.sha256} (${record.size} bytes)`,
        );
      }
      const bundle = parseBundle(opened.bundleJson, id);
      if (bundle.snapshotId !== id || bundle.etcd.sha256 !== record.sha256) {
        throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to verify etcd snapshot ${id}: its bundle belongs to snapshot ${bundle.snapshotId}`);
      }
      this.#o.repo.setVerified(id, null);
      return { record: this.get(id), bundle };
    } catch (err) {
      if (dbOutPath !== null) await rm(dbOutPath, { force: true });
      // A missing key, or no room to write the decrypted copy, is the controller's problem, not the
      // snapshot's: not recorded against it.
      if (err instanceof BallastError && (err.code === 'BALLAST_ERR_SNAPSHOT_KEY' || err.code === 'BALLAST_ERR_IO')) throw err;
      const message = messageOf(err);
      this.#o.repo.setVerified(id, message);
      if (err instanceof BallastError && err.code === 'BALLAST_ERR_SNAPSHOT_INVALID') throw err;
      throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to verify etcd snapshot ${id}: ${message}`, { cause: err });
    }
  }

  /**
   * Opens a snapshot for a restore or a drill: refuses one whose last verification failed, then
   * verifies it again while decrypting the database into `intoDir` (the caller's private directory).
   */
  async open(id: string, intoDir: string): Promise<OpenedSnapshot> {
    const before = this.get(id);
    if (before.verifyError !== null) {
      throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to open etcd snapshot ${id}: it failed verification and is never offered for restore (${before.verifyError})`);
    }
    const dbPath = join(intoDir, `${id}.db`);
    const { record, bundle } = await this.verify(id, dbPath);
    return { record, dbPath, bundle };
  }

  /** Deletes the bundle file and the record; BALLAST_ERR_NOT_FOUND when unknown. */
  async delete(id: string): Promise<SnapshotRecord> {
    const record = this.get(id);
    await rm(join(this.dir, record.file), { force: true });
    this.#o.repo.delete(id);
    return record;
  }

  /** Full path of a record's sealed file (for the S3 copy). */
  pathOf(record: SnapshotRecord): string {
    return join(this.dir, record.file);
  }
}
