/**
 * `ballastctl etcd snapshot import` against a real controller app over HTTPS with a real SQLite
 * store: a sealed bundle the OLD controller wrote (real etcd 3.5.33 snapshot, real ClusterPki,
 * real sealer) is imported into a NEW controller that holds only the kept key — then listed,
 * shown, verified and drilled. A wrong key, a flipped byte, a truncated file, an over-size upload
 * (declared and streamed), a conflicting CA and an id recorded with other bytes are each refused
 * with their code and leave no record, no file and no PKI. The S3 target's copy (moto's real
 * server) is listed with `list --remote` and imported with `--from-s3`; a corrupted object is
 * refused. A refused import is never offered for restore.
 */
import type { ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import https from 'node:https';
import { copyFile, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterPki } from '../../controller/src/pki/cluster-pki.js';
import type { S3Target } from '../../controller/src/snapshots/s3-target.js';
import { openSealedSnapshot } from '../../controller/src/snapshots/sealed-file.js';
import { SealWriter } from '../../controller/src/snapshots/sealed-v2.js';
import { snapshotSource } from '../../controller/src/snapshots/source.js';
import { silentLogger } from '../../shared/src/log.js';
import { rejection } from '../../agent/src/tasks/testing.js';
import { etcd35Available } from './etcd-loopback.js';
import { tempDir } from './harness.js';
import { MOTO_SERVER, startMotoBucket } from './snapshot-support.js';
import { type NewController, newController, type OldWorld, oldWorld, pkiInputs } from './snapshot-import-support.js';

const skip = !etcd35Available() ? 'missing etcd 3.5 binaries (scripts/upstream/build.sh)' : MOTO_SERVER === '' ? "moto's server is not installed (pip install 'moto[server]')" : null;
if (skip !== null) console.warn(`skipping the snapshot import test: ${skip}`);

describe.skipIf(skip !== null)('etcd snapshot import into a new controller (CLI, HTTPS, SQLite, moto S3)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let old: OldWorld;
  let ctl: NewController;
  let s3: S3Target;
  let moto: ChildProcess | undefined;
  let sealedSize = 0;

  /** What must not change after a refused import: records, files in the snapshot dir (no scratch left), PKI rows. */
  const footprint = async () => ({
    records: ctl.store.snapshots.list().map((r) => r.id),
    files: (await readdir(ctl.vault.dir).catch(() => [] as string[])).sort(),
    pki: ctl.store.clusterPki.list().map((p) => `${p.cluster}/${p.name}`).sort(),
  });
  const importFile = (path: string, ...extra: string[]) => ctl.cli(['etcd', 'snapshot', 'import', path, ...extra]);

  beforeAll(async () => {
    dir = await tempDir('snap-import');
    old = await oldWorld(dir.path);
    sealedSize = old.record.sealedSize;
    const started = await startMotoBucket(dir.path);
    moto = started.child;
    s3 = started.target;
    // The old controller had copied it to the bucket.
    await s3.put(old.record, old.sealedPath);
    // The user's copy of the bundle, off the (now lost) host.
    await copyFile(old.sealedPath, join(dir.path, 'copied.bsnap'));
    // A bound just above the real file: the over-size cases need no gigabytes.
    ctl = await newController({ dir: dir.path, keyHex: old.keyHex, s3, maxBytes: sealedSize + 4096 });
  }, 180_000);

  afterAll(async () => {
    await ctl?.close();
    s3?.close();
    if (moto !== undefined && moto.exitCode === null && moto.signalCode === null) {
      const exited = new Promise((r) => moto?.once('exit', r));
      moto.kill('SIGKILL');
      await exited;
    }
    await dir?.cleanup();
  });

  it('--help explains the key and the two sources; usage errors exit 2', async () => {
    const help = await ctl.cli(['etcd', 'snapshot', 'import', '--help']);
    expect(help.out).toContain('--snapshot-key');
    expect(help.out).toContain('--from-s3');
    expect((await ctl.cli(['etcd', 'snapshot', 'import'])).code).toBe(2);
    expect((await ctl.cli(['etcd', 'snapshot', 'import', '--from-s3', old.record.id])).code).toBe(2);
    expect((await ctl.cli(['etcd', 'snapshot', 'import', join(dir.path, 'nope.bsnap')])).code).toBe(2);
  });

  it('refuses, with its code and nothing recorded: an operator, a wrong key, a flipped byte, a truncated file, over-size (declared and streamed)', async () => {
    const before = await footprint();
    const copied = join(dir.path, 'copied.bsnap');

    const asOperator = await ctl.cli(['etcd', 'snapshot', 'import', copied], 'operator');
    expect(asOperator.code).toBe(1);
    expect(asOperator.err).toContain('forbidden: operator "o" has role operator; etcd.snapshot.import needs role admin');

    const wrongKey = await importFile(old.otherKeySealedPath);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toContain('BALLAST_ERR_SNAPSHOT_INVALID');
    expect(wrongKey.err).toContain('different key');
    expect(wrongKey.err).toContain('--snapshot-key');

    const bytes = await readFile(copied);
    for (const at of [40, Math.floor(bytes.length / 2), bytes.length - 30]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      const path = join(dir.path, `flipped-${at}.bsnap`);
      await writeFile(path, flipped);
      const res = await importFile(path);
      expect(res.code, `byte ${at}`).toBe(1);
      expect(res.err, `byte ${at}`).toContain('BALLAST_ERR_SNAPSHOT_INVALID');
    }

    const truncated = join(dir.path, 'truncated.bsnap');
    await copyFile(copied, truncated);
    await truncate(truncated, bytes.length - 100);
    expect((await importFile(truncated)).err).toContain('BALLAST_ERR_SNAPSHOT_INVALID');

    const big = join(dir.path, 'big.bsnap');
    await writeFile(big, Buffer.concat([bytes, Buffer.alloc(8192)]));
    const declared = await importFile(big);
    expect(declared.code).toBe(1);
    expect(declared.err).toContain('BALLAST_ERR_TOO_LARGE');
    // Chunked, no Content-Length: the bound holds on the bytes that arrive.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(`${ctl.url}/v1/etcd/snapshots/import`, { method: 'POST', ca: ctl.caPem, headers: { authorization: `Bearer ${ctl.tokens.admin}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      let i = 0;
      const more = () => {
        // Keeps sending well past the bound, as a client that ignores it would.
        while (i < 64) {
          i++;
          if (!req.write(Buffer.alloc(4096))) return void req.once('drain', more);
        }
        req.end();
      };
      more();
    });
    expect(chunked.status, chunked.body).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 'BALLAST_ERR_TOO_LARGE' });

    expect(await footprint()).toEqual(before);
    // Never offered for restore: no record exists for the refused files.
    expect(await rejection(snapshotSource(ctl.vault, (c) => ctl.store.snapshots.list(c)).openSnapshotForRestore(old.record.id, { intoDir: join(dir.path, 'r0') }))).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    // Each refusal is audited.
    expect(ctl.store.audit.list(50).filter((a) => a.action === 'etcd.snapshot.import').length).toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('a CA that conflicts with the store is refused with BALLAST_ERR_PKI_CONFLICT, all or nothing', async () => {
    // The new controller already has a cluster "taken" with CAs of its own.
    await new ClusterPki({ repo: ctl.store.clusterPki, log: silentLogger() }).ensure('taken', pkiInputs(['x-1']));
    const before = await footprint();
    const res = await importFile(join(dir.path, 'copied.bsnap'), '--as', 'taken');
    expect(res.code).toBe(1);
    expect(res.err).toContain('BALLAST_ERR_PKI_CONFLICT');
    expect(res.err).toContain('etcd-ca');
    expect(await footprint()).toEqual(before);
  });

  it('imports the copied file: list, show, verify and a drill see it; the PKI is the old one; the same file again changes nothing', async () => {
    const res = await importFile(join(dir.path, 'copied.bsnap'), '-o', 'json');
    expect(res.code, res.err).toBe(0);
    const doc = JSON.parse(res.out) as { status: string; snapshot: { id: string; cluster: string; sha256: string; revision: string; totalKeys: number }; pki: { imported: string[] } };
    expect(doc.status).toBe('imported');
    expect(doc.snapshot).toMatchObject({ id: old.record.id, cluster: 'lab', sha256: old.record.sha256, revision: old.record.revision, totalKeys: old.record.totalKeys });
    expect(doc.pki.imported).toEqual(expect.arrayContaining(['etcd-ca', 'kubernetes-ca', 'front-proxy-ca', 'sa', 'apiserver-etcd-client']));
    expect(ctl.store.clusterPki.get('lab', 'etcd-ca')?.certPem).toBe(old.pki.etcdCa.certPem);
    // An event and an audit entry say what came in.
    expect(ctl.store.events.list({ limit: 20 }).map((e) => e.message)).toContainEqual(expect.stringContaining(`etcd snapshot ${old.record.id} of cluster lab imported from the uploaded file`));
    expect(ctl.store.audit.list(5).find((a) => a.action === 'etcd.snapshot.import' && a.target === old.record.id)).toMatchObject({ outcome: expect.stringMatching(/ok|success/) });

    const list = await ctl.cli(['etcd', 'snapshot', 'list', '--cluster', 'lab']);
    expect(list.out).toContain(old.record.id);
    const show = await ctl.cli(['etcd', 'snapshot', 'show', old.record.id, '-o', 'json']);
    expect(JSON.parse(show.out)).toMatchObject({ id: old.record.id, verifyError: null, sealedSha256: old.record.sealedSha256 });
    const verify = await ctl.cli(['etcd', 'snapshot', 'verify', old.record.id]);
    expect(verify.code, verify.err).toBe(0);
    const drill = await ctl.cli(['etcd', 'drill', 'lab', '--snapshot', old.record.id, '-o', 'json']);
    const steps = (JSON.parse(drill.out) as { outcome: string; steps: { name: string; outcome: string }[] }).steps;
    expect(steps.filter((s) => s.outcome === 'failed')).toEqual([]);
    expect(steps.map((s) => s.name)).toEqual(expect.arrayContaining(['verify', 'status', 'restore']));

    const again = await importFile(join(dir.path, 'copied.bsnap'));
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('already imported');
    expect(ctl.store.snapshots.list().length).toBe(1);
    // The same id with other bytes (the same database and bundle sealed again with the same key: new nonces) is refused.
    const key = Buffer.from(old.keyHex, 'hex');
    const opened = await openSealedSnapshot({ key, sealedPath: old.sealedPath, dbOutPath: join(dir.path, 'resealed.db') });
    const w = await SealWriter.create({ key, dir: dir.path });
    await pipeline(createReadStream(join(dir.path, 'resealed.db')), w.sink());
    await w.finish(opened.bundleJson, join(dir.path, 'resealed.bsnap'));
    const before = await footprint();
    const exists = await importFile(join(dir.path, 'resealed.bsnap'));
    expect(exists.code).toBe(1);
    expect(exists.err).toContain('BALLAST_ERR_SNAPSHOT_EXISTS');
    expect(await footprint()).toEqual(before);
  }, 120_000);

  it('S3: list --remote shows the copy, --from-s3 imports it; a corrupted object and an unknown id are refused', async () => {
    // Forget the file import (the bucket keeps its copy: a file import records no S3 key).
    expect((await ctl.cli(['etcd', 'snapshot', 'delete', old.record.id])).code).toBe(0);
    await rm(join(ctl.vault.dir, `${old.record.id}.bsnap`), { force: true });
    const remote = await ctl.cli(['etcd', 'snapshot', 'list', '--remote', '--cluster', 'lab', '-o', 'json']);
    expect(remote.code, remote.err).toBe(0);
    expect(JSON.parse(remote.out)).toMatchObject({ bucket: 'snaps', items: [{ id: old.record.id, imported: false, size: sealedSize }] });
    expect((await ctl.cli(['etcd', 'snapshot', 'list', '--remote'])).code).toBe(2);

    // A corrupted object under another id.
    const badId = '20990101T000000Z-abcdef';
    const bytes = await readFile(old.sealedPath);
    bytes[bytes.length - 200] = (bytes[bytes.length - 200] ?? 0) ^ 0x80;
    const raw = new S3Client({ endpoint: s3.config.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: JSON.parse(await readFile(s3.config.credentialsFile ?? '', 'utf8')) as { accessKeyId: string; secretAccessKey: string } });
    await raw.send(new PutObjectCommand({ Bucket: 'snaps', Key: `ballast/lab/${badId}.bsnap`, Body: bytes }));
    // A good object under a name that is not the snapshot it holds.
    const renamedId = '20990101T000000Z-111111';
    await raw.send(new PutObjectCommand({ Bucket: 'snaps', Key: `ballast/lab/${renamedId}.bsnap`, Body: await readFile(old.sealedPath) }));
    raw.destroy();
    const before = await footprint();
    const bad = await ctl.cli(['etcd', 'snapshot', 'import', '--from-s3', badId, '--cluster', 'lab']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('BALLAST_ERR_SNAPSHOT_INVALID');
    const renamed = await ctl.cli(['etcd', 'snapshot', 'import', '--from-s3', renamedId, '--cluster', 'lab']);
    expect(renamed.code).toBe(1);
    expect(renamed.err).toContain(`holds snapshot ${old.record.id}, not ${renamedId}`);
    const missing = await ctl.cli(['etcd', 'snapshot', 'import', '--from-s3', '20990101T000000Z-000000', '--cluster', 'lab']);
    expect(missing.err).toContain('BALLAST_ERR_NOT_FOUND');
    expect(await footprint()).toEqual(before);
    expect(await rejection(snapshotSource(ctl.vault, (c) => ctl.store.snapshots.list(c)).openSnapshotForRestore(badId, { intoDir: join(dir.path, 'r1') }))).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });

    const good = await ctl.cli(['etcd', 'snapshot', 'import', '--from-s3', old.record.id, '--cluster', 'lab', '-o', 'json']);
    expect(good.code, good.err).toBe(0);
    expect(JSON.parse(good.out)).toMatchObject({ status: 'imported', snapshot: { id: old.record.id, s3Key: `ballast/lab/${old.record.id}.bsnap`, verifyError: null }, pki: { imported: [] } });
    const opened = await snapshotSource(ctl.vault, (c) => ctl.store.snapshots.list(c)).openSnapshotForRestore(old.record.id, { intoDir: join(dir.path, 'r2') });
    expect(opened.sha256).toBe(old.record.sha256);
    expect((JSON.parse((await ctl.cli(['etcd', 'snapshot', 'list', '--remote', '--cluster', 'lab', '-o', 'json'])).out) as { items: { id: string; imported: boolean }[] }).items.find((i) => i.id === old.record.id)?.imported).toBe(true);
  }, 120_000);
});
