/**
 * Snapshots and restore drills with real parts: a real etcd 3.5.33 (from the lab's binary cache),
 * `etcdctl snapshot save` as the member's agent runs it, the controller's sealed store on a real
 * SQLite file, and the drill restoring into a throwaway etcd. A snapshot with one byte flipped
 * fails verify and the drill and is refused for restore. The kube-apiserver part of the drill has
 * its own test (etcd-drill-apiserver.test.ts). Skipped, saying why, without the binaries.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../controller/src/snapshots/drill.js';
import { snapshotSource } from '../../controller/src/snapshots/source.js';
import { fileSha256 } from '../../controller/src/snapshots/sealed-file.js';
import { snapshotStatus } from '../../controller/src/snapshots/tools.js';
import { SnapshotVault } from '../../controller/src/snapshots/vault.js';
import { type TempStore, tempStore } from '../../controller/src/store/testing.js';
import { freePort, startEtcd, type StartedEtcd, tempDir } from './snapshot-support.js';

const ETCD_BIN = '/var/cache/ballast/etcd/v3.5.33/bin';
const missing = ['etcd', 'etcdctl', 'etcdutl'].map((b) => join(ETCD_BIN, b)).filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`skipping the etcd snapshot and drill tests: missing ${missing.join(', ')} (scripts/upstream/build.sh builds them)`);
const run = promisify(execFile);

describe.skipIf(missing.length > 0)('etcd snapshots and restore drills (real etcd)', () => {
  let ts: TempStore;
  let dir: { path: string; cleanup: () => Promise<void> };
  let etcd: StartedEtcd;
  let vault: SnapshotVault;
  const key = randomBytes(32);

  async function takeSnapshot(): Promise<string> {
    const db = join(dir.path, `taken-${randomBytes(3).toString('hex')}.db`);
    await run(join(ETCD_BIN, 'etcdctl'), ['--endpoints', etcd.url, 'snapshot', 'save', db]);
    const st = await snapshotStatus(join(ETCD_BIN, 'etcdutl'), db);
    const record = await vault.store({
      cluster: 'lab',
      trigger: 'manual',
      host: 'h1',
      member: 'h1',
      dbPath: db,
      sha256: await fileSha256(db),
      size: (await stat(db)).size,
      revision: st.revision,
      totalKeys: st.totalKeys,
      etcdHash: st.hash,
      durationMs: 5,
    });
    return record.id;
  }

  beforeAll(async () => {
    ts = await tempStore('ballast-snapdrill-');
    dir = await tempDir('snapdrill');
    etcd = await startEtcd(ETCD_BIN, join(dir.path, 'etcd'), await freePort(), await freePort());
    const put = (k: string, v: string) => run(join(ETCD_BIN, 'etcdctl'), ['--endpoints', etcd.url, 'put', k, v]);
    await put('/registry/namespaces/kube-system', '{"kind":"Namespace"}');
    for (let i = 0; i < 50; i++) await put(`/registry/configmaps/default/cm-${i}`, `v${i}`);
    vault = new SnapshotVault({ dir: join(ts.dir, 'snapshots'), repo: ts.store.snapshots, key: async () => key, bundleInputs: () => ({ pki: [], spec: { name: 'lab' } }) });
  }, 60_000);

  afterAll(async () => {
    await etcd?.stop();
    await ts?.cleanup();
    await dir?.cleanup();
  });

  it('records sha256, size, revision and key count, seals the database encrypted and verifies it', async () => {
    const id = await takeSnapshot();
    const record = ts.store.snapshots.get(id);
    expect(record).not.toBeNull();
    if (record === null) return;
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(record.revision)).toBeGreaterThanOrEqual(51);
    expect(record.totalKeys).toBeGreaterThanOrEqual(51);
    expect(record.encrypted).toBe(true);
    // Encrypted at rest: the plaintext key names are not in the sealed file.
    const sealed = await open(vault.pathOf(record), 'r');
    const bytes = await sealed.readFile();
    await sealed.close();
    expect(bytes.includes(Buffer.from('/registry/configmaps/default/cm-1'))).toBe(false);
    expect((await vault.verify(id)).record.verifyError).toBeNull();
    // A wrong key fails verification.
    const other = new SnapshotVault({ dir: vault.dir, repo: ts.store.snapshots, key: async () => randomBytes(32), bundleInputs: () => ({ pki: [], spec: null }) });
    await expect(other.verify(id)).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    // (That failure is recorded: verify again with the right key clears it.)
    expect((await vault.verify(id)).record.verifyError).toBeNull();
  });

  it('drills the newest snapshot: restores into a throwaway etcd, checks hash and key count, reads kube-system', async () => {
    const id = await takeSnapshot();
    const drill = await runDrill({ vault, snapshotId: id, binDirs: [ETCD_BIN] });
    expect(drill.error, JSON.stringify(drill.steps, null, 1)).toBeNull();
    expect(drill.outcome).toBe('passed');
    expect(drill.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['verify', 'passed'],
      ['status', 'passed'],
      ['restore', 'passed'],
      ['etcd', 'passed'],
      ['read', 'passed'],
      ['apiserver', 'skipped'],
    ]);
    expect(drill.steps.at(-1)?.detail).toContain('kube-apiserver is not in');
    // Nothing left behind in the snapshot directory but the sealed bundles.
    expect((await readdir(vault.dir)).filter((f) => !f.endsWith('.bsnap'))).toEqual([]);
  }, 120_000);

  it('a snapshot with one byte flipped fails verify and the drill, and is refused for restore', async () => {
    const id = await takeSnapshot();
    const record = ts.store.snapshots.get(id);
    if (record === null) throw new Error('no record');
    const fh = await open(vault.pathOf(record), 'r+');
    const middle = Math.floor(record.sealedSize / 2);
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, middle);
    one[0] = (one[0] ?? 0) ^ 0x01;
    await fh.write(one, 0, 1, middle);
    await fh.close();

    await expect(vault.verify(id)).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    expect(ts.store.snapshots.get(id)?.verifyError).toMatch(/decryption failed/);
    const drill = await runDrill({ vault, snapshotId: id, binDirs: [ETCD_BIN] });
    expect(drill.outcome).toBe('failed');
    expect(drill.steps[0]).toMatchObject({ name: 'verify', outcome: 'failed' });
    const source = snapshotSource(vault, (c) => ts.store.snapshots.list(c));
    const into = join(dir.path, 'restore-into');
    await expect(source.openSnapshotForRestore(id, { intoDir: into })).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    expect(await readdir(into)).toEqual([]);
    // The newest snapshot offered for restore is an older, good one.
    expect(source.newestVerified('lab')?.id).not.toBe(id);
  }, 120_000);

  it('opens a verified snapshot for restore: the decrypted database is the one taken', async () => {
    const id = await takeSnapshot();
    const source = snapshotSource(vault, (c) => ts.store.snapshots.list(c));
    const snap = await source.openSnapshotForRestore(id, { intoDir: join(dir.path, 'restore-ok') });
    expect(await fileSha256(snap.dbPath)).toBe(snap.sha256);
    expect(snap.bundle).toMatchObject({ format: 1, cluster: 'lab', snapshotId: id, spec: { name: 'lab' } });
    expect((await stat(snap.dbPath)).mode & 0o077).toBe(0);
  });
});
