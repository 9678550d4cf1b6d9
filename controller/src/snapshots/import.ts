/**
 * Importing a sealed snapshot bundle into this controller (`ballastctl etcd snapshot import`): the
 * file a user copied off the host, or the S3 target's copy. It is how a controller rebuilt after
 * every old host was lost gets a snapshot `cluster recover --from-snapshot ID` can restore (README
 * "Onto new hosts").
 *
 * Decisions:
 * - **The key is the controller's own `--snapshot-key`**, never sent with the file: the bundle
 *   carries the cluster's CA keys, and the key is kept apart from the bundles by design. On a new
 *   controller the user installs the copy of the key they kept off the host at that path before
 *   importing; a bundle sealed with another key is refused naming both key ids.
 * - **Verified before anything is recorded**: the bytes stream to a private scratch file under a
 *   size bound, the whole file is opened (every AEAD segment, the database's sha256 against the
 *   bundle's), the bundle parsed and its id checked. Only then does the file move into the
 *   snapshot directory, and the bundle's PKI and the snapshot's record are written in **one SQLite
 *   transaction** (a CA conflicting with the store's is refused with BALLAST_ERR_PKI_CONFLICT and
 *   the file removed): a refused import leaves no file, no record and no PKI.
 * - **Idempotent**: the same sealed file (same id, same sha256, same cluster) again is `unchanged`;
 *   the same id with other bytes or another cluster is BALLAST_ERR_SNAPSHOT_EXISTS.
 * - The record keeps the bundle's id, time, member, revision, key count and database sha256 (the
 *   bundle is authenticated by the key). etcd's own hash is not in the bundle: it is recorded empty
 *   and the drill skips that comparison for it (the sha256 already pins every byte). The S3
 *   object's `<id>.json` is not read: it is not authenticated and adds nothing a restore needs.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { EventKind } from '../../../shared/src/events.js';
import { MAX_SNAPSHOT_BYTES } from '../../../shared/src/protocol/etcd.js';
import { importBundlePki, type PkiImport } from '../recovery/bundle-restore.js';
import type { ClusterPkiRepo } from '../store/cluster-pki.js';
import type { SnapshotRecord, SnapshotRepo } from '../store/snapshots.js';
import { BoundedBytes } from './bounded-bytes.js';
import { parseBundle, type RestoreBundle } from './bundle.js';
import type { S3Target } from './s3-target.js';
import { fileSha256, openSealedSnapshot } from './sealed-file.js';
import type { SnapshotVault } from './vault.js';

/** Largest sealed file accepted: the largest database plus the seal's overhead (20 bytes a MiB) and the bundle. */
export const DEFAULT_MAX_IMPORT_BYTES = MAX_SNAPSHOT_BYTES + 64 * 1024 * 1024;
const SNAPSHOT_ID = /^[0-9TZ]{16}-[0-9a-f]{6}$/;
const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Options of {@link SnapshotImporter}. */
export interface SnapshotImporterOptions {
  vault: Pick<SnapshotVault, 'dir' | 'scratch'>;
  repo: Pick<SnapshotRepo, 'get' | 'insert' | 'list'>;
  pki: Pick<ClusterPkiRepo, 'list' | 'putAll'>;
  /** Runs `fn` in one store transaction (better-sqlite3's `db.transaction(fn)()`). */
  transaction: <T>(fn: () => T) => T;
  /** The controller's snapshot key (`--snapshot-key`). */
  key: () => Promise<Buffer>;
  s3: S3Target | null;
  events: { append(e: { host: string | null; kind: EventKind; message: string; data?: Record<string, unknown> }): unknown };
  maxBytes?: number;
  now?: () => number;
}

/** What an import did. */
export interface SnapshotImportOutcome {
  status: 'imported' | 'unchanged';
  record: SnapshotRecord;
  pki: PkiImport;
}

/** One snapshot in the S3 target, as `list --remote` shows it. */
export interface RemoteEntry {
  id: string;
  cluster: string;
  key: string;
  createdAt: number;
  size: number;
  imported: boolean;
}

/** See the file comment. */
export class SnapshotImporter {
  readonly maxBytes: number;
  readonly #o: SnapshotImporterOptions;
  readonly #now: () => number;
  readonly #busy = new Set<string>();

  constructor(options: SnapshotImporterOptions) {
    this.#o = options;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_IMPORT_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /** Imports the sealed file arriving on `body` (the upload route); `declaredBytes` is its Content-Length when sent. */
  async fromStream(body: NodeJS.ReadableStream, opts: { cluster?: string; declaredBytes: number | null; source: string }): Promise<SnapshotImportOutcome> {
    if (opts.declaredBytes !== null && opts.declaredBytes > this.maxBytes) {
      throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to import ${opts.source}: ${opts.declaredBytes} bytes is more than the ${this.maxBytes} allowed`);
    }
    return this.#inScratch(async (scratch) => {
      const part = join(scratch, 'import.bsnap');
      const meter = new BoundedBytes(this.maxBytes, `import ${opts.source}`);
      // The request is piped, not put in the pipeline: a refusal (too large) must not destroy the
      // request (and its socket) before the coded answer is sent; Node discards the rest.
      const onBodyError = (err: Error) => meter.destroy(err);
      body.once('error', onBodyError);
      body.pipe(meter);
      try {
        await pipeline(meter, createWriteStream(part, { mode: 0o600, flags: 'wx' }));
      } catch (err) {
        body.unpipe(meter);
        if (err instanceof BallastError) throw err;
        throw new BallastError('BALLAST_ERR_IO', `failed to import ${opts.source}: the upload broke off after ${meter.bytes} bytes: ${messageOf(err)}`, { cause: err });
      } finally {
        body.removeListener('error', onBodyError);
      }
      return this.#importFile(part, { sealedSha256: meter.digest(), sealedSize: meter.bytes, source: opts.source, ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }), s3Key: null });
    });
  }

  /** Downloads `<cluster>/<id>.bsnap` from the S3 target and imports it (under `as` when given). */
  async fromS3(opts: { cluster: string; id: string; as?: string }): Promise<SnapshotImportOutcome> {
    const s3 = this.#s3();
    return this.#inScratch(async (scratch) => {
      const part = join(scratch, 'import.bsnap');
      await s3.download(opts.cluster, opts.id, part, this.maxBytes);
      const source = `s3://${s3.config.bucket}/${s3.config.prefix}${opts.cluster}/${opts.id}.bsnap`;
      const renamed = opts.as !== undefined && opts.as !== opts.cluster;
      return this.#importFile(part, {
        sealedSha256: await fileSha256(part),
        sealedSize: (await stat(part)).size,
        source,
        cluster: opts.as ?? opts.cluster,
        // The bucket's copy belongs to the record only under its own folder (a delete removes it there).
        s3Key: renamed ? null : `${s3.config.prefix}${opts.cluster}/${opts.id}.bsnap`,
        expectId: opts.id,
      });
    });
  }

  /** The snapshots of `cluster` in the S3 target, newest first, each marked when this controller records it. */
  async remote(cluster: string): Promise<{ bucket: string; items: RemoteEntry[] }> {
    const s3 = this.#s3();
    const items = (await s3.list(cluster))
      .filter((r) => SNAPSHOT_ID.test(r.id))
      .map((r) => ({ id: r.id, cluster, key: r.key, createdAt: r.createdAt, size: r.size, imported: this.#o.repo.get(r.id) !== null }))
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id));
    return { bucket: s3.config.bucket, items };
  }

  #s3(): S3Target {
    if (this.#o.s3 === null) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'failed to read the S3 target: this controller has none (start it with --snapshot-s3 FILE naming the bucket the snapshots were copied to)');
    return this.#o.s3;
  }

  async #inScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const scratch = await this.#o.vault.scratch();
    try {
      return await fn(scratch);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Verifies the scratch file `part`, then moves it into place and records it with its PKI; see the file comment. */
  async #importFile(part: string, opts: { sealedSha256: string; sealedSize: number; source: string; cluster?: string; s3Key: string | null; expectId?: string }): Promise<SnapshotImportOutcome> {
    const { bundle, dbSize } = await this.#verify(part, opts.source);
    if (opts.expectId !== undefined && bundle.snapshotId !== opts.expectId) {
      // An object renamed in the bucket: its name is not the snapshot it holds.
      throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to import ${opts.source}: it holds snapshot ${bundle.snapshotId}, not ${opts.expectId}; nothing was recorded`);
    }
    const cluster = opts.cluster ?? bundle.cluster;
    if (!CLUSTER_NAME.test(cluster)) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to import ${opts.source}: its cluster name "${cluster.slice(0, 80)}" is not a valid cluster name; give one with --cluster`);
    }
    const id = bundle.snapshotId;
    if (this.#busy.has(id)) throw new BallastError('BALLAST_ERR_SNAPSHOT_BUSY', `failed to import snapshot ${id}: an import of it is in progress`);
    this.#busy.add(id);
    try {
      const existing = this.#o.repo.get(id);
      if (existing !== null) {
        if (existing.sealedSha256 === opts.sealedSha256 && existing.cluster === cluster) {
          // Nothing written: the dry run only classifies (and still refuses a CA the store now holds differently).
          return { status: 'unchanged', record: existing, pki: importBundlePki({ list: (c) => this.#o.pki.list(c), putAll: () => {} }, bundle, cluster) };
        }
        throw new BallastError(
          'BALLAST_ERR_SNAPSHOT_EXISTS',
          `failed to import snapshot ${id} from ${opts.source}: snapshot ${id} is already recorded ${existing.cluster === cluster ? `with another sealed file (sha256 ${existing.sealedSha256}, this one ${opts.sealedSha256})` : `for cluster ${existing.cluster}`}; delete it first (ballastctl etcd snapshot delete ${id}) if this file is the one to keep`,
        );
      }
      const file = `${id}.bsnap`;
      const finalPath = join(this.#o.vault.dir, file);
      await mkdir(this.#o.vault.dir, { recursive: true, mode: 0o700 });
      await rename(part, finalPath);
      const now = this.#now();
      const record: SnapshotRecord = {
        id,
        cluster,
        createdAt: bundle.createdAt,
        trigger: 'manual',
        host: bundle.etcd.member,
        member: bundle.etcd.member,
        sha256: bundle.etcd.sha256,
        size: dbSize,
        revision: bundle.etcd.revision,
        totalKeys: bundle.etcd.totalKeys,
        etcdHash: '',
        durationMs: 0,
        encrypted: true,
        file,
        sealedSha256: opts.sealedSha256,
        sealedSize: opts.sealedSize,
        s3Key: opts.s3Key,
        s3CopiedAt: opts.s3Key === null ? null : now,
        verifiedAt: now,
        verifyError: null,
      };
      let pki: PkiImport;
      try {
        pki = this.#o.transaction(() => {
          const done = importBundlePki(this.#o.pki, bundle, cluster);
          this.#o.repo.insert(record);
          return done;
        });
      } catch (err) {
        await rm(finalPath, { force: true });
        throw err;
      }
      this.#o.events.append({
        host: null,
        kind: 'etcd.snapshot',
        message: `etcd snapshot ${id} of cluster ${cluster} imported from ${opts.source}: ${record.size} bytes, revision ${record.revision}, ${record.totalKeys} keys; PKI: ${pki.imported.length} imported, ${pki.same.length} already stored`,
        data: { cluster, id, sha256: record.sha256, trigger: 'import' },
      });
      return { status: 'imported', record, pki };
    } finally {
      this.#busy.delete(id);
    }
  }

  /** Opens the whole file with the key (nothing written), checks the database against the bundle and the bundle's id. */
  async #verify(part: string, source: string): Promise<{ bundle: RestoreBundle; dbSize: number }> {
    let opened: Awaited<ReturnType<typeof openSealedSnapshot>>;
    try {
      opened = await openSealedSnapshot({ key: await this.#o.key(), sealedPath: part, dbOutPath: null });
    } catch (err) {
      if (!(err instanceof BallastError) || err.code !== 'BALLAST_ERR_SNAPSHOT_INVALID') throw err;
      const hint = /different key/.test(err.message) ? " Install the snapshot key you kept off the old host at this controller's --snapshot-key path (default /etc/ballast/snapshot.key) and restart it." : '';
      throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to import ${source}: ${err.message.replaceAll(part, 'the file')}; nothing was recorded.${hint}`, { cause: err });
    }
    const bundle = parseBundle(opened.bundleJson, source);
    if (bundle.etcd.sha256 !== opened.dbSha256) {
      throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `failed to import ${source}: its database hashes to ${opened.dbSha256}, the bundle recorded ${bundle.etcd.sha256}; nothing was recorded`);
    }
    if (!SNAPSHOT_ID.test(bundle.snapshotId)) {
      throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to import ${source}: its snapshot id "${bundle.snapshotId.slice(0, 64)}" is not one a controller writes`);
    }
    return { bundle, dbSize: opened.dbSize };
  }
}
