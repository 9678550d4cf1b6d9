/**
 * `cluster recover`'s {@link SnapshotSource} over the snapshot store (snapshots/source.ts): a
 * snapshot is decrypted and verified once per controller process into
 * `<data dir>/restore-cache/<id>/` (0700) and the same verified file then serves every step and
 * every member's download — concurrent callers share one decryption. The cache is emptied when the
 * controller starts (`clearRestoreCache`), so a file is never trusted across processes; a file that
 * went missing meanwhile is decrypted (and verified) again.
 */
import { stat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotSource as StoreSource } from '../snapshots/source.js';
import type { OpenedSnapshot, SnapshotSource } from './source.js';

export const RESTORE_CACHE = 'restore-cache';

export async function clearRestoreCache(dataDir: string): Promise<void> {
  await rm(join(dataDir, RESTORE_CACHE), { recursive: true, force: true });
}

export function recoverySnapshotSource(dataDir: string, store: () => StoreSource): SnapshotSource {
  const opened = new Map<string, Promise<OpenedSnapshot>>();
  const decrypt = async (id: string): Promise<OpenedSnapshot> => {
    const snap = await store().openSnapshotForRestore(id, { intoDir: join(dataDir, RESTORE_CACHE, id) });
    return { dbPath: snap.dbPath, sha256: snap.sha256, revision: Number(snap.revision), bundle: { files: [], spec: snap.bundle.spec }, cluster: snap.cluster };
  };
  return {
    async open(id) {
      const cached = opened.get(id);
      if (cached !== undefined) {
        const ok = await cached.then(
          async (o) => (await stat(o.dbPath).catch(() => null)) !== null,
          () => false,
        );
        if (ok) return cached;
      }
      const fresh = decrypt(id);
      opened.set(id, fresh);
      fresh.catch(() => opened.delete(id));
      return fresh;
    },
  };
}
