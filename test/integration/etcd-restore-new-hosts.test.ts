/**
 * A restore onto NEW hosts from the snapshot bundle alone (issue 13), against real etcd 3.5.33 and
 * etcdutl on loopback. The old cluster's PKI is issued by the controller's real ClusterPki in a
 * real SQLite store (old member old-1); keys are written and a snapshot taken with etcdctl; the
 * bundle (that PKI with keys, the spec) is sealed with the snapshot by the real sealer. Then
 * everything is lost — the etcd hosts and the controller's store — except the sealed file and the
 * snapshot key. From those two: the file opened (a wrong key and a changed byte refused), the PKI
 * imported into a **new** controller store, ClusterPki.ensure for three new hosts keeps every CA
 * and issues only the new hosts' certificates, and the agents' `etcd_restore` restores each new
 * member from the database into a fresh directory. The new cluster serves the old keys to the old
 * kube-apiserver's etcd client certificate (issued before the disaster): old clients keep working.
 *
 * Not here (README "Onto new hosts"): the controller operation that does this on real hosts.
 */
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../agent/src/etcd/client.js';
import { rejection, } from '../../agent/src/tasks/testing.js';
import { importBundlePki, openBundleFile } from '../../controller/src/recovery/bundle-restore.js';
import { ClusterPki, type ClusterPkiBundle } from '../../controller/src/pki/cluster-pki.js';
import { etcdMemberTls } from '../../controller/src/pki/cluster-pki-files.js';
import type { ClusterPkiInputs } from '../../controller/src/pki/cluster-pki-items.js';
import { buildBundle } from '../../controller/src/snapshots/bundle.js';
import { SealWriter } from '../../controller/src/snapshots/sealed-v2.js';
import { openStore } from '../../controller/src/store/store.js';
import { hashFile } from '../../shared/src/hashing.js';
import { silentLogger } from '../../shared/src/log.js';
import { clientUrl, etcd35Available, LoopbackEtcd, } from './etcd-loopback.js';
import { restoreAndStartMembers } from './etcd-restore-support.js';
import { tempDir } from './harness.js';

const NEW = ['new-1', 'new-2', 'new-3'];
const BUMP = 1_000_000_000;
const inputs = (members: string[]): ClusterPkiInputs => ({
  etcdMembers: members.map((name) => ({ name, addresses: ['127.0.0.1'] })),
  controlPlane: members.map((name) => ({ name, addresses: ['127.0.0.1'] })),
  vip: '127.0.0.1',
  apiServerServiceIp: '10.96.0.1',
});

describe.skipIf(!etcd35Available())('restore onto new hosts from the sealed bundle and its key alone (real etcd 3.5)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const key = randomBytes(32);
  let sealedPath = '';
  /** The old kube-apiserver's etcd client certificate, issued before the disaster (kept in memory to prove it still works). */
  let oldApiserverClient = { certPem: '', keyPem: '' };
  let oldPki: ClusterPkiBundle;
  let etcd: LoopbackEtcd | undefined;

  beforeAll(async () => {
    dir = await tempDir('etcd-new-hosts');
    // The old world: a controller store, its PKI for old-1, an etcd member with it, keys, a snapshot, a sealed bundle.
    const storeA = openStore({ path: join(dir.path, 'old-controller.db') });
    oldPki = await new ClusterPki({ repo: storeA.clusterPki, log: silentLogger() }).ensure('lab', inputs(['old-1']));
    oldApiserverClient = oldPki.apiserverEtcdClient;
    const old = await LoopbackEtcd.create(join(dir.path, 'old'), ['old-1'], etcdMemberTls(oldPki, 'old-1'));
    old.start('old-1', ['old-1'], 'new');
    await old.waitLeader('old-1');
    await old.put('/registry/namespaces/before', 'v1');
    await old.put('/registry/secrets/kube-system/bootstrap', 's1');
    const db = join(dir.path, 'snapshot.db');
    await old.snapshot('old-1', db);
    const bundle = buildBundle({
      cluster: 'lab',
      snapshotId: 'snap-1',
      createdAt: Date.now(),
      etcd: { revision: '3', totalKeys: 2, sha256: await hashFile(db), member: 'old-1' },
      pki: storeA.clusterPki.list('lab'),
      spec: { name: 'lab', versions: { kubernetes: '1.36.3', etcd: '3.5.33' } },
    });
    const w = await SealWriter.create({ key, dir: dir.path });
    await pipeline(createReadStream(db), w.sink());
    sealedPath = join(dir.path, 'snap-1.bsnap');
    await w.finish(JSON.stringify(bundle), sealedPath);
    // The disaster: every host and the controller's store gone; the sealed file and the key stay.
    await old.killAll();
    storeA.close();
    for (const p of ['old', 'old-controller.db', 'snapshot.db']) await rm(join(dir.path, p), { recursive: true, force: true });
  }, 120_000);

  afterAll(async () => {
    await etcd?.killAll();
    await dir?.cleanup();
  });

  it('a wrong key and a changed byte are refused, nothing left behind; the right key opens the database the bundle recorded', async () => {
    const into = join(dir.path, 'open');
    expect(await rejection(openBundleFile({ sealedPath, key: randomBytes(32), intoDir: into }))).toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    const bytes = await readFile(sealedPath);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    const bad = join(dir.path, 'bad.bsnap');
    await writeFile(bad, bytes);
    expect(await rejection(openBundleFile({ sealedPath: bad, key, intoDir: into }))).toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
    await expect(stat(join(into, 'etcd-snapshot.db'))).rejects.toThrow();
    const opened = await openBundleFile({ sealedPath, key, intoDir: into });
    expect(opened.bundle).toMatchObject({ cluster: 'lab', snapshotId: 'snap-1' });
    expect(await hashFile(opened.dbPath)).toBe(opened.bundle.etcd.sha256);
  });

  it('new controller store + new hosts: the CAs are kept, new certificates issued, every member restored from the bundle; old keys served to the old apiserver client certificate', async () => {
    const opened = await openBundleFile({ sealedPath, key, intoDir: join(dir.path, 'open2') });
    const storeB = openStore({ path: join(dir.path, 'new-controller.db') });
    try {
      const imported = importBundlePki(storeB.clusterPki, opened.bundle);
      expect(imported.imported).toEqual(expect.arrayContaining(['etcd-ca', 'kubernetes-ca', 'front-proxy-ca', 'sa', 'apiserver-etcd-client']));
      // A second import is a no-op; a store holding another CA for the cluster refuses, all or nothing.
      expect(importBundlePki(storeB.clusterPki, opened.bundle).imported).toEqual([]);
      const storeC = openStore({ path: join(dir.path, 'other-controller.db') });
      await new ClusterPki({ repo: storeC.clusterPki, log: silentLogger() }).ensure('lab', inputs(['x-1']));
      const conflict = await rejection(Promise.resolve().then(() => importBundlePki(storeC.clusterPki, opened.bundle)));
      expect(conflict).toMatchObject({ code: 'BALLAST_ERR_PKI_CONFLICT', message: expect.stringContaining('etcd-ca') });
      expect(storeC.clusterPki.get('lab', 'apiserver-etcd-client')?.certPem).not.toBe(oldApiserverClient.certPem);
      storeC.close();

      const pki = await new ClusterPki({ repo: storeB.clusterPki, log: silentLogger() }).ensure('lab', inputs(NEW));
      expect(pki.etcdCa.certPem).toBe(oldPki.etcdCa.certPem);
      expect(pki.kubernetesCa.certPem).toBe(oldPki.kubernetesCa.certPem);
      expect(pki.serviceAccount).toEqual(oldPki.serviceAccount);
      expect(pki.apiserverEtcdClient).toEqual(oldApiserverClient);
      expect(pki.issued.map((i) => i.name).filter((n) => n.endsWith('-ca') || n === 'sa')).toEqual([]);
      expect(pki.issued.map((i) => i.name)).toEqual(expect.arrayContaining(NEW.map((n) => `etcd-server:${n}`)));

      etcd = await LoopbackEtcd.create(join(dir.path, 'new'), NEW, etcdMemberTls(pki, NEW[0] as string));
      const e = etcd;
      await restoreAndStartMembers(e, NEW, { dbPath: opened.dbPath, snapshot: { cluster: 'lab', id: 'snap-1', sha256: opened.dbSha256, size: opened.dbSize }, restoreId: 'op-new-hosts', bumpRevision: BUMP });

      // The old kube-apiserver's certificate, issued before the disaster by the bundle's CA.
      const oldClient = createEtcdClient({ endpoints: NEW.map((n) => clientUrl(e.member(n))), tls: { ca: pki.etcdCa.certPem, cert: oldApiserverClient.certPem, key: oldApiserverClient.keyPem }, timeoutMs: 3000 });
      const range = (await oldClient.post('/v3/kv/range', { key: Buffer.from('/registry/namespaces/before').toString('base64') }, { idempotent: true })) as { header?: { revision?: string }; kvs?: { value?: string }[] };
      expect(Buffer.from(range.kvs?.[0]?.value ?? '', 'base64').toString()).toBe('v1');
      expect(Number(range.header?.revision)).toBeGreaterThanOrEqual(BUMP);
      expect((await e.get('/registry/secrets/kube-system/bootstrap')).value).toBe('s1');
    } finally {
      storeB.close();
    }
  }, 120_000);
});
