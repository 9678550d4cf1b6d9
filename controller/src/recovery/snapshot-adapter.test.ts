import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BallastError } from '../../../shared/src/errors.js';
import type { SnapshotForRestore, SnapshotSource as StoreSource } from '../snapshots/source.js';
import { recoverySnapshotSource, RESTORE_CACHE } from './snapshot-adapter.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store source that writes a file per decryption and counts them; `bad` ids fail verification. */
function countingStore(bad: Set<string>): StoreSource & { decrypts: number } {
  const store = {
    decrypts: 0,
    async openSnapshotForRestore(id: string, opts: { intoDir: string }): Promise<SnapshotForRestore> {
      store.decrypts += 1;
      await new Promise((r) => setTimeout(r, 10));
      if (bad.has(id)) throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `snapshot ${id} failed verification`);
      mkdirSync(opts.intoDir, { recursive: true });
      const dbPath = join(opts.intoDir, 'db');
      writeFileSync(dbPath, 'etcd');
      const bundle = { spec: { name: 'lab' } } as unknown as SnapshotForRestore['bundle'];
      return { id, cluster: 'lab', dbPath, sha256: 'ab'.repeat(32), size: 4, revision: '1234', totalKeys: 9, createdAt: 0, bundle };
    },
    newestVerified: () => null,
  };
  return store;
}

describe('recoverySnapshotSource', () => {
  it('decrypts a snapshot once for concurrent callers, into the data dir, with the revision as a number', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ballast-restore-'));
    dirs.push(dataDir);
    const store = countingStore(new Set());
    const source = recoverySnapshotSource(dataDir, () => store);
    const all = await Promise.all([source.open('s1'), source.open('s1'), source.open('s1')]);
    expect(store.decrypts).toBe(1);
    expect(all[0]).toMatchObject({ dbPath: join(dataDir, RESTORE_CACHE, 's1', 'db'), revision: 1234, cluster: 'lab', bundle: { files: [], spec: { name: 'lab' } } });
    // A file removed meanwhile is decrypted (and so verified) again.
    rmSync(join(dataDir, RESTORE_CACHE), { recursive: true });
    await source.open('s1');
    expect(store.decrypts).toBe(2);
  });

  it('does not keep a failed verification: each call asks the store again and is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ballast-restore-'));
    dirs.push(dataDir);
    const store = countingStore(new Set(['bad']));
    const source = recoverySnapshotSource(dataDir, () => store);
    await expect(source.open('bad')).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    await expect(source.open('bad')).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    expect(store.decrypts).toBe(2);
  });
});
