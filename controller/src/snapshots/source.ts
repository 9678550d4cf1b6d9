/**
 * The snapshot source for `cluster recover` (the restore operation): the one way the recover code
 * gets a snapshot, so it can never restore one that was not verified.
 *
 *   const source = snapshotSource(vault);
 *   const snap = await source.openSnapshotForRestore(id, { intoDir });  // a private dir you own
 *   // snap.dbPath      the decrypted etcd database file (0600) inside intoDir: feed it to
 *   //                  `etcdutl snapshot restore` (or stream it to members' agents)
 *   // snap.sha256      sha256 of that file, re-computed while decrypting, equal to the record's
 *   // snap.revision    etcd revision at snapshot time (decimal string; bump beyond it on restore)
 *   // snap.totalKeys   key count at snapshot time
 *   // snap.cluster     the cluster it was taken from
 *   // snap.bundle      PKI with keys, cluster spec, Kubernetes version (bundle.ts RestoreBundle)
 *   // ... when done:   await rm(intoDir, { recursive: true })  — the caller owns and removes it
 *
 * Guarantees: throws BALLAST_ERR_NOT_FOUND for an unknown id; BALLAST_ERR_SNAPSHOT_INVALID for a
 * snapshot whose last verification failed (never offered again) or that fails now (wrong GCM tag =
 * changed bytes or wrong key, sha256 or size differing from the record, malformed bundle) — in
 * that case nothing is left in `intoDir` and the failure is recorded; BALLAST_ERR_SNAPSHOT_KEY when
 * the controller's key is unusable. `newestVerified(cluster)` picks the newest snapshot that has
 * not failed verification (null when none).
 */
import { mkdir } from 'node:fs/promises';
import type { SnapshotRecord } from '../store/snapshots.js';
import type { RestoreBundle } from './bundle.js';
import type { SnapshotVault } from './vault.js';

/** A verified, decrypted snapshot handed to a restore. */
export interface SnapshotForRestore {
  id: string;
  cluster: string;
  dbPath: string;
  sha256: string;
  size: number;
  revision: string;
  totalKeys: number;
  createdAt: number;
  bundle: RestoreBundle;
}

/** What `cluster recover` depends on (a port: its tests may hand-write one). */
export interface SnapshotSource {
  /** See the file comment. `intoDir` is created (0700) if missing. */
  openSnapshotForRestore(id: string, opts: { intoDir: string }): Promise<SnapshotForRestore>;
  /** The newest snapshot of `cluster` not known to be bad, or null. */
  newestVerified(cluster: string): SnapshotRecord | null;
}

/** The production source over the controller's vault. */
export function snapshotSource(vault: SnapshotVault, list: (cluster: string) => SnapshotRecord[]): SnapshotSource {
  return {
    async openSnapshotForRestore(id, opts) {
      await mkdir(opts.intoDir, { recursive: true, mode: 0o700 });
      const opened = await vault.open(id, opts.intoDir);
      const r = opened.record;
      return {
        id: r.id,
        cluster: r.cluster,
        dbPath: opened.dbPath,
        sha256: r.sha256,
        size: r.size,
        revision: r.revision,
        totalKeys: r.totalKeys,
        createdAt: r.createdAt,
        bundle: opened.bundle,
      };
    },
    newestVerified(cluster) {
      return list(cluster).find((r) => r.verifyError === null) ?? null;
    },
  };
}
