/**
 * The restore onto NEW hosts a user follows when every old host is lost (README "Onto new hosts"),
 * starting from what they kept: the sealed `.bsnap` copied off the old controller and the snapshot
 * key. Unlike etcd-restore-new-hosts.test.ts (which calls openBundleFile directly), the bundle
 * enters the new controller the user's way — `ballastctl etcd snapshot import FILE` over HTTPS into
 * a new SQLite store — and the restore reads it the way `cluster recover --from-snapshot` does
 * (recovery/snapshot-adapter.ts over snapshots/source.ts). Real etcd 3.5.33 and etcdutl on
 * loopback: ClusterPki.ensure for three new hosts keeps the imported CAs; the new hosts' fresh etcd
 * (what `cluster create` starts) serves with quorum, and the recovery's guard, reading it for real,
 * refuses without `--replace-current-data` (naming the flag and the revision, keys and members it
 * would discard) and passes with it; the members are stopped, the agents' `etcd_restore` restores
 * every new member from the one database over the fresh data (kept aside), the new cluster has 3 voters and serves the old
 * keys, at a bumped revision, to the old kube-apiserver's etcd client certificate. A corrupted
 * import is refused and never offered for restore; a stored file changed afterwards is refused too.
 */
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../agent/src/etcd/client.js';
import { rejection, } from '../../agent/src/tasks/testing.js';
import { ClusterPki } from '../../controller/src/pki/cluster-pki.js';
import { etcdMemberTls } from '../../controller/src/pki/cluster-pki-files.js';
import { guardVerdict } from '../../controller/src/recovery/executors.js';
import { readLiveData } from '../../controller/src/recovery/live-data.js';
import { recoverySnapshotSource } from '../../controller/src/recovery/snapshot-adapter.js';
import { snapshotSource } from '../../controller/src/snapshots/source.js';
import { createEtcdClient as createControllerEtcdClient } from '../../shared/src/etcd/client.js';
import { silentLogger } from '../../shared/src/log.js';
import { clientUrl, etcd35Available, LoopbackEtcd, } from './etcd-loopback.js';
import { restoreAndStartMembers } from './etcd-restore-support.js';
import { tempDir } from './harness.js';
import { type NewController, newController, type OldWorld, oldWorld, pkiInputs } from './snapshot-import-support.js';

const NEW = ['new-1', 'new-2', 'new-3'];
const BUMP = 1_000_000_000;

describe.skipIf(!etcd35Available())('all hosts lost: ballastctl etcd snapshot import, then every new member restored from it (real etcd 3.5)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let old: OldWorld;
  let ctl: NewController;
  let etcd: LoopbackEtcd | undefined;
  const recovery = () => recoverySnapshotSource(join(dir.path, 'controller-data'), () => snapshotSource(ctl.vault, (c) => ctl.store.snapshots.list(c)));

  beforeAll(async () => {
    dir = await tempDir('import-new-hosts');
    // The old world is destroyed inside oldWorld(); what is left is the sealed file and the key.
    old = await oldWorld(dir.path);
    await copyFile(old.sealedPath, join(dir.path, 'kept.bsnap'));
    ctl = await newController({ dir: dir.path, keyHex: old.keyHex, s3: null });
  }, 120_000);

  afterAll(async () => {
    await etcd?.killAll();
    await ctl?.close();
    await dir?.cleanup();
  });

  it('a corrupted copy is refused by the import and never offered for restore', async () => {
    const bytes = await readFile(join(dir.path, 'kept.bsnap'));
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x04;
    await writeFile(join(dir.path, 'corrupt.bsnap'), bytes);
    const res = await ctl.cli(['etcd', 'snapshot', 'import', join(dir.path, 'corrupt.bsnap')]);
    expect(res.code).toBe(1);
    expect(res.err).toContain('BALLAST_ERR_SNAPSHOT_INVALID');
    expect(ctl.store.snapshots.list()).toEqual([]);
    expect(ctl.store.clusterPki.list('lab')).toEqual([]);
    expect(await rejection(recovery().open(old.record.id))).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
  });

  it('imported with the CLI, the CAs kept for the new hosts, every new member restored from it: old keys served to the old apiserver client certificate', async () => {
    const res = await ctl.cli(['etcd', 'snapshot', 'import', join(dir.path, 'kept.bsnap')]);
    expect(res.code, res.err).toBe(0);
    expect(res.out).toContain(`imported snapshot ${old.record.id} (cluster lab)`);
    expect(res.out).toContain(`ballastctl cluster recover lab --from-snapshot ${old.record.id}`);

    // `cluster create` on the new hosts: ClusterPki keeps every imported CA and issues only new leaves.
    const pki = await new ClusterPki({ repo: ctl.store.clusterPki, log: silentLogger() }).ensure('lab', pkiInputs(NEW));
    expect(pki.etcdCa.certPem).toBe(old.pki.etcdCa.certPem);
    expect(pki.kubernetesCa.certPem).toBe(old.pki.kubernetesCa.certPem);
    expect(pki.serviceAccount).toEqual(old.pki.serviceAccount);
    expect(pki.apiserverEtcdClient).toEqual(old.pki.apiserverEtcdClient);
    expect(pki.issued.map((i) => i.name).filter((n) => n.endsWith('-ca') || n === 'sa')).toEqual([]);

    // `cluster recover --from-snapshot ID`: the snapshot as the recovery reads it (verified on open).
    const opened = await recovery().open(old.record.id);
    expect(opened).toMatchObject({ sha256: old.record.sha256, cluster: 'lab', revision: Number(old.record.revision) });
    etcd = await LoopbackEtcd.create(join(dir.path, 'new'), NEW, etcdMemberTls(pki, NEW[0] as string));
    const e = etcd;

    // `cluster create` on the new hosts started a new, empty etcd that serves with quorum (and the
    // new API servers wrote to it): the recovery's guard, against this real cluster, refuses
    // without --replace-current-data, naming it and what it would discard, and passes with it.
    for (const n of NEW) e.start(n, NEW, 'new');
    for (const n of NEW) await e.waitLeader(n);
    await e.put('/registry/namespaces/created-on-new-hosts', 'fresh');
    const ctlClient = pki.etcdClients.get(NEW[0] as string);
    if (ctlClient === undefined) throw new Error('no etcd client certificate for new-1');
    const controllerEtcd = createControllerEtcdClient({ endpoints: NEW.map((n) => clientUrl(e.member(n))), tls: { ca: pki.etcdCa.certPem, cert: ctlClient.certPem, key: ctlClient.keyPem }, timeoutMs: 3000 });
    const live = await readLiveData(controllerEtcd, NEW.map((n) => ({ name: n, url: clientUrl(e.member(n)) })));
    expect(live.serving).toHaveLength(3);
    expect([...live.members].sort()).toEqual(NEW);
    expect(live.keys).toBeGreaterThanOrEqual(1);
    expect(live.revision).toBeGreaterThanOrEqual(2);
    expect(live.dbSize).toBeGreaterThan(0);
    const asked = { mode: 'snapshot' as const, snapshot: { id: old.record.id, sha256: opened.sha256, size: old.record.size, revision: opened.revision }, bumpRevision: BUMP };
    const refused = guardVerdict('lab', live, asked);
    expect('error' in refused && refused.error).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING', message: expect.stringContaining(`rerun with --replace-current-data (it would discard revision ${live.revision}, ${live.keys} keys`) });
    const passed = guardVerdict('lab', live, { ...asked, replaceCurrentData: true });
    expect('ok' in passed && passed.ok).toMatch(/^--replace-current-data: etcd still serves .*its current data is discarded/);
    // The operation's etcd/stop step: systemctl stop sends SIGTERM.
    for (const n of NEW) await e.stop(n);

    await restoreAndStartMembers(e, NEW, { dbPath: opened.dbPath, snapshot: { cluster: 'lab', id: old.record.id, sha256: opened.sha256, size: old.record.size }, restoreId: 'op-import-new-hosts', bumpRevision: BUMP });
    const oldClient = createEtcdClient({ endpoints: NEW.map((n) => clientUrl(e.member(n))), tls: { ca: pki.etcdCa.certPem, cert: old.pki.apiserverEtcdClient.certPem, key: old.pki.apiserverEtcdClient.keyPem }, timeoutMs: 3000 });
    const range = (await oldClient.post('/v3/kv/range', { key: Buffer.from('/registry/namespaces/before').toString('base64') }, { idempotent: true })) as { header?: { revision?: string }; kvs?: { value?: string }[] };
    expect(Buffer.from(range.kvs?.[0]?.value ?? '', 'base64').toString()).toBe('v1');
    expect(Number(range.header?.revision)).toBeGreaterThanOrEqual(BUMP);
    expect((await e.get('/registry/secrets/kube-system/bootstrap')).value).toBe('s1');
    // What the new hosts' create wrote is gone from the restored cluster, kept aside on disk.
    expect((await e.get('/registry/namespaces/created-on-new-hosts')).value).toBeNull();
    expect(existsSync(join(e.member(NEW[0] as string).root, 'var/lib/etcd.pre-restore-op-import-new-hosts'))).toBe(true);
  }, 180_000);

  it('the imported file changed on disk afterwards is refused for restore, and stays refused', async () => {
    const stored = join(ctl.vault.dir, `${old.record.id}.bsnap`);
    const bytes = await readFile(stored);
    bytes[bytes.length - 50] = (bytes[bytes.length - 50] ?? 0) ^ 0x10;
    await writeFile(stored, bytes);
    const src = snapshotSource(ctl.vault, (c) => ctl.store.snapshots.list(c));
    expect(await rejection(src.openSnapshotForRestore(old.record.id, { intoDir: join(dir.path, 'r1') }))).toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    await copyFile(join(dir.path, 'kept.bsnap'), stored);
    expect(await rejection(src.openSnapshotForRestore(old.record.id, { intoDir: join(dir.path, 'r2') }))).toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    const list = await ctl.cli(['etcd', 'snapshot', 'list', '--cluster', 'lab']);
    expect(list.out).toContain('FAILED');
  });
});
