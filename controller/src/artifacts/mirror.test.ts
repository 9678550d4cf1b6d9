import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BallastError, isBallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import { sha256, testTrustKeys, writeBundle } from '../../../test/support/bundle.js';
import { type Store, openStore } from '../store/store.js';
import { ArtifactMirror } from './mirror.js';

const ETCD = Buffer.from('#!/bin/sh\necho etcd\n');
const RUNC = Buffer.from('\x7fELF runc binary');

async function rejection(p: Promise<unknown>): Promise<BallastError> {
  try {
    await p;
  } catch (err) {
    if (isBallastError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('artifact mirror: bundle import', () => {
  let dir: string;
  let store: Store;
  let mirror: ArtifactMirror;
  const mirrorDir = () => join(dir, 'artifacts');
  const importFile = async (path: string) => mirror.importBundle(createReadStream(path), { trust: { admin: true, keys: await testTrustKeys() } });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-mirror-'));
    store = openStore({ path: join(dir, 'ballast.db') });
    mirror = new ArtifactMirror({ dir: mirrorDir(), repo: store.artifacts, log: silentLogger(), maxBundleBytes: 1024 * 1024 });
  });

  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const twoArtifacts = (gzip = false, corrupt = false) =>
    writeBundle({
      out: join(dir, gzip ? 'b.tar.gz' : 'b.tar'),
      gzip,
      entries: [
        { name: 'etcd', version: '3.4.23', file: 'etcd/etcd-v3.4.23-linux-amd64.tar.gz', content: ETCD },
        { name: 'runc', version: '1.1.5', file: 'runc.amd64', content: RUNC, ...(corrupt ? { sha256: sha256('something else') } : {}) },
      ],
      extra: [{ path: 'README', content: Buffer.from('not in the manifest') }],
    });

  it('imports a good bundle: files under name/version/arch, rows in the store', async () => {
    await twoArtifacts(true);
    const changes = await importFile(join(dir, 'b.tar.gz'));
    expect(changes.map((c) => [c.record.name, c.status])).toEqual([
      ['etcd', 'added'],
      ['runc', 'added'],
    ]);
    expect(await readFile(join(mirrorDir(), 'etcd/3.4.23/amd64/etcd-v3.4.23-linux-amd64.tar.gz'))).toEqual(ETCD);
    expect(await readFile(join(mirrorDir(), 'runc/1.1.5/amd64/runc.amd64'))).toEqual(RUNC);
    const runc = mirror.locate({ name: 'runc', version: '1.1.5', arch: 'amd64' });
    expect(runc?.record).toMatchObject({ sha256: sha256(RUNC), size: RUNC.length, os: 'linux', file: 'runc.amd64' });
    // Files the manifest does not name never reach the mirror; the work dir is gone.
    expect(await readdir(mirrorDir())).toEqual(expect.not.arrayContaining(['README']));
    expect(await readdir(join(mirrorDir(), '.staging'))).toEqual([]);
  });

  it('re-importing the same bundle changes nothing; a lost file is put back', async () => {
    await twoArtifacts();
    await importFile(join(dir, 'b.tar'));
    const before = mirror.list();
    const again = await importFile(join(dir, 'b.tar'));
    expect(again.map((c) => c.status)).toEqual(['unchanged', 'unchanged']);
    expect(mirror.list()).toEqual(before);
    await unlink(join(mirrorDir(), 'runc/1.1.5/amd64/runc.amd64'));
    const repaired = await importFile(join(dir, 'b.tar'));
    expect(repaired.map((c) => `${c.record.name}:${c.status}`)).toEqual(['etcd:unchanged', 'runc:added']);
    expect(await readFile(join(mirrorDir(), 'runc/1.1.5/amd64/runc.amd64'))).toEqual(RUNC);
  });

  it('a corrupted file fails closed: coded error with artifact, expected and actual hash; nothing imported', async () => {
    await twoArtifacts(false, true);
    const err = await rejection(importFile(join(dir, 'b.tar')));
    expect(err.code).toBe('BALLAST_ERR_CHECKSUM_MISMATCH');
    expect(err.message).toContain('runc 1.1.5 (amd64)');
    expect(err.message).toContain(`expected sha256 ${sha256('something else')}`);
    expect(err.message).toContain(`got ${sha256(RUNC)}`);
    expect(err.message).toContain('nothing was imported');
    expect(mirror.list()).toEqual([]);
    expect((await readdir(mirrorDir())).filter((d) => d !== '.staging')).toEqual([]);
  });

  it('refuses a different sha256 for an existing name+version+arch, importing nothing', async () => {
    await twoArtifacts();
    await importFile(join(dir, 'b.tar'));
    await writeBundle({
      out: join(dir, 'c.tar'),
      entries: [
        { name: 'kubectl', version: '1.30.4+lab', file: 'kubectl', content: Buffer.from('kubectl') },
        { name: 'runc', version: '1.1.5', file: 'runc.amd64', content: Buffer.from('a different runc') },
      ],
    });
    const err = await rejection(importFile(join(dir, 'c.tar')));
    expect(err.code).toBe('BALLAST_ERR_ARTIFACT_CONFLICT');
    expect(mirror.list().map((r) => r.name)).toEqual(['etcd', 'runc']);
    expect(await readFile(join(mirrorDir(), 'runc/1.1.5/amd64/runc.amd64'))).toEqual(RUNC);
  });

  it('keeps a container image\'s reference and ID across a restart, and refuses the same tarball under another identity', async () => {
    const pause = Buffer.from('a docker archive');
    const image = { ref: 'registry.k8s.io/pause:3.10.2', id: `sha256:${'c'.repeat(64)}` };
    const entry = { name: 'image-pause', version: '3.10.2', file: 'images/pause_3.10.2.tar', content: pause };
    await writeBundle({ out: join(dir, 'i.tar'), entries: [{ ...entry, image }] });
    expect((await importFile(join(dir, 'i.tar'))).map((c) => [c.status, c.record.image])).toEqual([['added', image]]);
    store.close();
    store = openStore({ path: join(dir, 'ballast.db') });
    mirror = new ArtifactMirror({ dir: mirrorDir(), repo: store.artifacts, log: silentLogger(), maxBundleBytes: 1024 * 1024 });
    expect(mirror.list().map((r) => [r.name, r.image])).toEqual([['image-pause', image]]);
    expect((await importFile(join(dir, 'i.tar'))).map((c) => c.status)).toEqual(['unchanged']);
    for (const other of [{ ...image, id: `sha256:${'d'.repeat(64)}` }, undefined]) {
      await writeBundle({ out: join(dir, 'j.tar'), entries: [{ ...entry, ...(other === undefined ? {} : { image: other }) }] });
      const err = await rejection(importFile(join(dir, 'j.tar')));
      expect(err.code).toBe('BALLAST_ERR_ARTIFACT_CONFLICT');
    }
    expect(mirror.list().map((r) => r.image)).toEqual([image]);
  });

  it('refuses malformed bundles with the reason', async () => {
    const notTar = await rejection(mirror.importBundle(Readable.from([Buffer.from('hello')])));
    expect(notTar.message).toContain('neither a tar nor a tar.gz');
    const empty = await rejection(mirror.importBundle(Readable.from([])));
    expect(empty.message).toContain('empty');

    await writeBundle({ out: join(dir, 'm.tar'), entries: [{ name: 'runc', version: '1', file: 'runc', content: RUNC }], manifestText: '- name: runc\n' });
    const bad = await rejection(importFile(join(dir, 'm.tar')));
    expect(bad.code).toBe('BALLAST_ERR_VALIDATION');
    expect(bad.message).toContain('bundle manifest.yaml');

    const text = `- {name: runc, version: '1', os: linux, arch: amd64, sha256: '${sha256(RUNC)}', url: 'https://x/runc', file: missing}\n`;
    await writeBundle({ out: join(dir, 'n.tar'), entries: [{ name: 'runc', version: '1', file: 'runc', content: RUNC }], manifestText: text });
    const missing = await rejection(importFile(join(dir, 'n.tar')));
    expect(missing.message).toContain('names files the bundle does not contain: missing (runc 1 (amd64))');
    expect(mirror.list()).toEqual([]);
  });

  it('enforces the upload size bound while streaming', async () => {
    const big = Readable.from([Buffer.alloc(700 * 1024), Buffer.alloc(700 * 1024)]);
    const err = await rejection(mirror.importBundle(big));
    expect(err.name).toBe('LimitExceededError');
    expect(err.message).toContain('larger than the limit of 1048576 bytes');
    expect(await readdir(join(mirrorDir(), '.staging'))).toEqual([]);
  });
});
