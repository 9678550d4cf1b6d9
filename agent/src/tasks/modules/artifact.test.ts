import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../../../test/support/bundle.js';
import type { ArtifactRef, ArtifactSource } from '../module.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { ARTIFACT_WORK_DIR, artifactModule } from './artifact.js';

const run = promisify(execFile);
const registry = createModuleRegistry([artifactModule]);

const ETCD = Buffer.from('#!/bin/sh\necho etcd 3.4.23\n');
const ETCDCTL = Buffer.from('#!/bin/sh\necho etcdctl\n');
const RUNC = Buffer.from('\x7fELF pretend runc');

/** A fake mirror: serves buffers by name/version/arch and counts downloads. */
class FakeSource implements ArtifactSource {
  readonly files = new Map<string, Buffer>();
  opened: string[] = [];
  async open(ref: ArtifactRef) {
    const key = `${ref.name}/${ref.version}/${ref.arch}`;
    this.opened.push(key);
    const data = this.files.get(key);
    if (data === undefined) throw new Error(`no ${key}`);
    return { stream: Readable.from([data.subarray(0, 10), data.subarray(10)]), size: data.length };
  }
}

let fixtures: string;
let etcdTgz: Buffer;
beforeAll(async () => {
  fixtures = await mkdtemp(join(tmpdir(), 'ballast-artifact-fixture-'));
  const dir = join(fixtures, 'etcd-v3.4.23-linux-amd64');
  await mkdir(dir);
  await writeFile(join(dir, 'etcd'), ETCD);
  await writeFile(join(dir, 'etcdctl'), ETCDCTL);
  // "./" member names, as some release tarballs have: install[].from is written without it.
  await run('tar', ['-czf', join(fixtures, 'etcd.tgz'), '-C', fixtures, './etcd-v3.4.23-linux-amd64']);
  etcdTgz = await readFile(join(fixtures, 'etcd.tgz'));
});
afterAll(() => rm(fixtures, { recursive: true, force: true }));

let root: string;
let source: FakeSource;
beforeEach(async () => {
  root = await makeTempRoot();
  source = new FakeSource();
  source.files.set('etcd/3.4.23/amd64', etcdTgz);
  source.files.set('runc/1.1.5/amd64', RUNC);
});

const etcdArgs = (over: Record<string, unknown> = {}) => ({
  name: 'etcd',
  version: '3.4.23',
  arch: 'amd64',
  sha256: sha256(etcdTgz),
  install: [
    { from: 'etcd-v3.4.23-linux-amd64/etcd', to: '/usr/local/bin/etcd' },
    { from: 'etcd-v3.4.23-linux-amd64/etcdctl', to: '/usr/local/bin/etcdctl', mode: '0750' },
  ],
  ...over,
});
const apply = (args: Record<string, unknown>, over: { check?: boolean; artifacts?: ArtifactSource | undefined } = {}) =>
  registry.run('artifact', args, testContext(root, { artifacts: source, ...over }));
const modeOf = async (path: string) => (await stat(join(root, path))).mode & 0o7777;
const workFiles = async () => (await readdir(join(root, ARTIFACT_WORK_DIR))).sort();

describe('artifact module', () => {
  it('installs files from a tar.gz with their modes; a second run is ok without downloading', async () => {
    const first = await apply(etcdArgs());
    expect(first).toMatchObject({ changed: true, message: 'installed 2 of 2 files from etcd 3.4.23 (amd64)' });
    expect(first.diff).toContain('+ /usr/local/bin/etcd (etcd-v3.4.23-linux-amd64/etcd, sha256');
    expect(await readFile(join(root, 'usr/local/bin/etcd'))).toEqual(ETCD);
    expect(await readFile(join(root, 'usr/local/bin/etcdctl'))).toEqual(ETCDCTL);
    expect(await modeOf('usr/local/bin/etcd')).toBe(0o755);
    expect(await modeOf('usr/local/bin/etcdctl')).toBe(0o750);
    // Only the state file stays: the download and the unpacked tree are gone.
    expect(await workFiles()).toEqual(['state.json']);
    expect((await readdir(join(root, 'usr/local/bin'))).sort()).toEqual(['etcd', 'etcdctl']);

    const second = await apply(etcdArgs());
    expect(second).toEqual({ changed: false, message: 'etcd 3.4.23 (amd64): 2 files up to date' });
    expect(source.opened).toEqual(['etcd/3.4.23/amd64']);
  });

  it('installs a single-file artifact (runc.amd64)', async () => {
    const args = { name: 'runc', version: '1.1.5', arch: 'amd64', sha256: sha256(RUNC), install: [{ from: 'runc.amd64', to: '/usr/local/sbin/runc' }] };
    expect((await apply(args)).changed).toBe(true);
    expect(await readFile(join(root, 'usr/local/sbin/runc'))).toEqual(RUNC);
    expect((await apply(args)).changed).toBe(false);
    const nested = await rejection(apply({ ...args, version: '1.1.5', install: [{ from: 'bin/runc', to: '/usr/local/bin/runc' }] }));
    expect(nested).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/install/0/from' });
  });

  it('a file installed to one place is the download itself (linked, one inode); one installed to two places is two independent files', async () => {
    const one = { name: 'runc', version: '1.1.5', arch: 'amd64', sha256: sha256(RUNC), install: [{ from: 'runc.amd64', to: '/usr/local/sbin/runc' }] };
    await apply(one);
    expect((await stat(join(root, 'usr/local/sbin/runc'))).nlink).toBe(1);
    const two = { ...one, version: '1.1.6', install: [{ from: 'runc.amd64', to: '/usr/local/bin/runc', mode: '0750' }, { from: 'runc.amd64', to: '/usr/bin/runc' }] };
    source.files.set('runc/1.1.6/amd64', RUNC);
    expect((await apply(two)).changed).toBe(true);
    const [a, b] = [await stat(join(root, 'usr/local/bin/runc')), await stat(join(root, 'usr/bin/runc'))];
    expect(a.ino).not.toBe(b.ino);
    expect([a.mode & 0o7777, b.mode & 0o7777]).toEqual([0o750, 0o755]);
    expect(await readFile(join(root, 'usr/bin/runc'))).toEqual(RUNC);
    expect(await workFiles()).toEqual(['state.json']);
  });

  it('check mode reports what would be installed and touches nothing, downloading nothing', async () => {
    const before = await snapshotTree(root);
    const out = await apply(etcdArgs(), { check: true });
    expect(out).toMatchObject({ changed: true, message: 'would install 2 files from etcd 3.4.23 (amd64)' });
    expect(out.diff).toBe(
      '+ /usr/local/bin/etcd (etcd-v3.4.23-linux-amd64/etcd, mode 0755)\n+ /usr/local/bin/etcdctl (etcd-v3.4.23-linux-amd64/etcdctl, mode 0750)\n',
    );
    expect(await snapshotTree(root)).toEqual(before);
    expect(source.opened).toEqual([]);
  });

  it('fails closed on a corrupted download: coded error, no temp file, nothing installed', async () => {
    const tampered = Buffer.from(etcdTgz);
    const at = tampered.length - 20;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 0xff, at);
    source.files.set('etcd/3.4.23/amd64', tampered);
    const err = await rejection(apply(etcdArgs()));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH' });
    const message = (err as Error).message;
    expect(message).toContain('etcd 3.4.23 (amd64)');
    expect(message).toContain(`expected sha256 ${sha256(etcdTgz)}`);
    expect(message).toContain(`got ${sha256(tampered)}`);
    expect(message).toContain('nothing was installed');
    expect(await workFiles()).toEqual([]);
    expect(await readdir(root)).toEqual(['var']);
  });

  it('repairs a replaced file by downloading again; fixes a mode drift without downloading', async () => {
    await apply(etcdArgs());
    await writeFile(join(root, 'usr/local/bin/etcd'), 'something else');
    const repaired = await apply(etcdArgs());
    expect(repaired).toMatchObject({ changed: true, message: 'installed 1 of 2 files from etcd 3.4.23 (amd64)' });
    expect(await readFile(join(root, 'usr/local/bin/etcd'))).toEqual(ETCD);
    expect(source.opened).toHaveLength(2);

    await chmod(join(root, 'usr/local/bin/etcdctl'), 0o777);
    const check = await apply(etcdArgs(), { check: true });
    expect(check).toMatchObject({ changed: true, diff: '/usr/local/bin/etcdctl: mode 0777 → 0750\n' });
    expect(await modeOf('usr/local/bin/etcdctl')).toBe(0o777);
    const fixed = await apply(etcdArgs());
    expect(fixed).toMatchObject({ changed: true, message: 'fixed the mode of 1 of 2 files from etcd 3.4.23 (amd64)' });
    expect(await modeOf('usr/local/bin/etcdctl')).toBe(0o750);
    expect(source.opened).toHaveLength(2);
  });

  it('without its state file, verifies by downloading and reports ok when files are identical', async () => {
    await apply(etcdArgs());
    await rm(join(root, ARTIFACT_WORK_DIR, 'state.json'));
    const again = await apply(etcdArgs());
    expect(again.changed).toBe(false);
    expect(source.opened).toHaveLength(2);
    expect(await workFiles()).toEqual(['state.json']);
  });

  it('a new version downloads again and replaces the files', async () => {
    await apply(etcdArgs());
    const v2 = Buffer.from('\x7fELF etcd 3.5');
    source.files.set('etcd/3.5.0/amd64', v2);
    const out = await apply({ name: 'etcd', version: '3.5.0', arch: 'amd64', sha256: sha256(v2), install: [{ from: 'etcd', to: '/usr/local/bin/etcd' }] });
    expect(out).toMatchObject({ changed: true, message: 'installed 1 of 1 file from etcd 3.5.0 (amd64)' });
    expect(out.diff).toContain('~ /usr/local/bin/etcd');
    expect(await readFile(join(root, 'usr/local/bin/etcd'))).toEqual(v2);
  });

  it('refuses a member the archive lacks, bad paths and a missing source, before installing anything', async () => {
    const missing = await rejection(apply(etcdArgs({ install: [{ from: 'etcd-v3.4.23-linux-amd64/etcd', to: '/usr/local/bin/etcd' }, { from: 'nope', to: '/usr/local/bin/ctr' }] })));
    expect(missing).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND', path: '/args/install/1/from' });
    expect(await readdir(root)).toEqual(['var']);
    expect(await workFiles()).toEqual([]);

    expect(await rejection(apply(etcdArgs({ install: [{ from: '../etc/shadow', to: '/x' }] })))).toMatchObject({ path: '/args/install/0/from' });
    expect(await rejection(apply(etcdArgs({ install: [{ from: 'a', to: '/../x' }] })))).toMatchObject({ code: 'BALLAST_ERR_PATH_OUTSIDE_ROOT' });
    expect(await rejection(apply(etcdArgs({ sha256: 'nothex' })))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/sha256' });
    expect(await rejection(apply(etcdArgs(), { artifacts: undefined }))).toMatchObject({ code: 'BALLAST_ERR_UNSUPPORTED' });
  });
});
