/**
 * Issue 16 points 2 and 9 for artifacts, and point 11: who may import what (catalogue pins vs an
 * admin), decompression bombs in a bundle and in an artifact the agent unpacks, and the mode of
 * ballast.db whatever the umask.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { artifactModule } from '../../agent/src/tasks/modules/artifact.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../../agent/src/tasks/testing.js';
import { stageBundle } from '../../controller/src/artifacts/bundle.js';
import { openDatabase } from '../../controller/src/store/db.js';
import type { Catalogue } from '../../shared/src/artifacts-api.js';
import { releaseVersion } from '../../shared/src/version-compare.js';
import { KUBE_STANDIN_VERSION, sha256, writeBundle } from '../support/bundle.js';
import { writeBomb } from './bomb.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-sec-artifacts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Bytes under `path` (recursively). */
async function du(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

async function stage(bundle: string, trust: { admin: boolean; pins?: Catalogue }) {
  const workDir = join(dir, `work-${Math.random().toString(16).slice(2)}`);
  await mkdir(workDir);
  const result = stageBundle({ source: createReadStream(bundle), workDir, maxBytes: 64 * 1024 * 1024, trust });
  return { result, workDir };
}

const PIN = { name: 'containerd', version: '1.7.22', os: 'linux', arch: 'amd64', url: 'https://example.invalid/c.tgz' };

describe('issue 16 point 2: imported artifacts are trusted by construction', () => {
  it('an operator may import the catalogue’s pinned build and nothing else: BALLAST_ERR_ARTIFACT_UNTRUSTED, nothing staged', async () => {
    const good = Buffer.from('the pinned containerd');
    const pins: Catalogue = [{ ...PIN, sha256: sha256(good) }];
    const pinned = join(dir, 'pinned.tar');
    await writeBundle({ out: pinned, entries: [{ name: 'containerd', version: '1.7.22', file: 'c.tgz', content: good }] });
    expect((await (await stage(pinned, { admin: false, pins })).result).staged).toHaveLength(1);

    // The attack: the manifest's sha256 is simply whatever the attacker wrote.
    const trojan = join(dir, 'trojan.tar');
    await writeBundle({ out: trojan, entries: [{ name: 'containerd', version: '1.7.22', file: 'c.tgz', content: Buffer.from('#!/bin/sh\nevil\n') }] });
    const { result, workDir } = await stage(trojan, { admin: false, pins });
    const err = await rejection(result);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ARTIFACT_UNTRUSTED' });
    expect((err as Error).message).toContain(`the built-in catalogue pins sha256 ${sha256(good)}`);
    expect(await readdir(join(workDir, 'unpacked'))).toEqual(['manifest.yaml']); // refused before unpacking the artifact

    const unknown = join(dir, 'unknown.tar');
    await writeBundle({ out: unknown, entries: [{ name: 'backdoor', version: '1', file: 'b', content: Buffer.from('x') }] });
    expect(await rejection((await stage(unknown, { admin: false, pins })).result)).toMatchObject({ code: 'BALLAST_ERR_ARTIFACT_UNTRUSTED' });
    // The built-in catalogue is the default: an operator can import the lab's stand-in kubectl neither
    // as the catalogue's release (pinned to upstream's sha256) nor as the stand-in build it is published as.
    for (const version of [releaseVersion(KUBE_STANDIN_VERSION), KUBE_STANDIN_VERSION]) {
      const standin = join(dir, `standin-${version}.tar`);
      await writeBundle({ out: standin, entries: [{ name: 'kubectl', version, file: 'kubectl', content: Buffer.from('#!/bin/sh\n') }] });
      const refused = await rejection((await stage(standin, { admin: false })).result);
      expect(refused).toMatchObject({ code: 'BALLAST_ERR_ARTIFACT_UNTRUSTED' });
      expect((refused as Error).message).toContain(version.includes('+') ? 'not in the built-in catalogue' : 'the built-in catalogue pins sha256');
    }
  });

  it('an admin may import an unpinned artifact, and an override of a pin is reported', async () => {
    const trojan = join(dir, 'admin.tar');
    await writeBundle({
      out: trojan,
      entries: [
        { name: 'containerd', version: '1.7.22', file: 'c.tgz', content: Buffer.from('lab build') },
        { name: 'tool', version: '1', file: 't', content: Buffer.from('x') },
      ],
    });
    const staged = await (await stage(trojan, { admin: true, pins: [{ ...PIN, sha256: '1'.repeat(64) }] })).result;
    expect(staged.staged).toHaveLength(2);
    expect(staged.trust.overriddenPins).toEqual([expect.stringContaining('containerd 1.7.22 (amd64)')]);
  });
});

describe('issue 16 point 9: decompression bombs are refused early, without writing what they unpack to', () => {
  it('a ~1 MB bundle unpacking to 1 GiB: BALLAST_ERR_ARCHIVE_TOO_LARGE, even for an admin, little written', async () => {
    const bomb = join(dir, 'bomb.tar.gz');
    const manifest = stringify([{ name: 'tool', version: '1', os: 'linux', arch: 'amd64', sha256: '0'.repeat(64), url: 'https://x.invalid/t', file: 'zeros' }]);
    const size = await writeBomb(bomb, { files: { 'manifest.yaml': manifest }, bombName: 'zeros', mib: 1024 });
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const started = Date.now();
    const { result, workDir } = await stage(bomb, { admin: true });
    const err = await rejection(result);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ARCHIVE_TOO_LARGE' });
    expect(await du(workDir)).toBeLessThan(size + 1024 * 1024); // the upload itself, and no unpacked data
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a bundle unpacking to more than its manifest declares is cut at the declared size', async () => {
    const bundle = join(dir, 'liar.tar.gz');
    const manifest = stringify([{ name: 'tool', version: '1', os: 'linux', arch: 'amd64', sha256: '0'.repeat(64), url: 'https://x.invalid/t', file: 'zeros', size: 4096 }]);
    await writeBomb(bundle, { files: { 'manifest.yaml': manifest }, bombName: 'zeros', mib: 16 });
    const { result, workDir } = await stage(bundle, { admin: true });
    expect(await rejection(result)).toMatchObject({ code: 'BALLAST_ERR_ARCHIVE_TOO_LARGE' });
    expect(await du(join(workDir, 'unpacked'))).toBeLessThan(64 * 1024);
  });

  it('the agent refuses an artifact that is a bomb, installing nothing', async () => {
    const root = await makeTempRoot('ballast-sec-bomb-');
    const bomb = join(dir, 'etcd.tar.gz');
    await writeBomb(bomb, { bombName: 'etcd', mib: 1024 });
    const bytes = await readFile(bomb);
    const ctx = testContext(root, { artifacts: { open: async () => ({ stream: Readable.from([bytes]), size: bytes.length }) } });
    const before = await snapshotTree(root);
    const args = { name: 'etcd', version: '9', arch: 'amd64', sha256: sha256(bytes), install: [{ from: 'etcd', to: '/usr/local/bin/etcd' }] };
    expect(await rejection(artifactModule.run(args, ctx))).toMatchObject({ code: 'BALLAST_ERR_ARCHIVE_TOO_LARGE' });
    const after = await snapshotTree(root);
    expect(Object.keys(after).filter((k) => !(k in before) && !k.startsWith('/var'))).toEqual([]);
    expect(await du(root)).toBeLessThan(1024 * 1024);
    await rm(root, { recursive: true, force: true });
  });
});

describe('issue 16 point 11: ballast.db is 0600 whatever the umask', () => {
  it('creates the database and its -wal/-shm 0600, and narrows an existing 0644 one', async () => {
    const path = join(dir, 'ballast.db');
    const db = openDatabase(path);
    db.exec('CREATE TABLE IF NOT EXISTS t (x)');
    db.exec('INSERT INTO t VALUES (1)');
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(((await stat(f)).mode & 0o777).toString(8), f).toBe('600');
    db.close();
    const old = join(dir, 'old.db');
    await writeFile(old, '', { mode: 0o644 });
    openDatabase(old).close();
    expect(((await stat(old)).mode & 0o777).toString(8)).toBe('600');
  });
});
