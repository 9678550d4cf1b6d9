import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();
let root: string;
beforeEach(async () => {
  root = await makeTempRoot();
});
const dir = (args: Record<string, unknown>, check = false) => registry.run('directory', args, testContext(root, { check }));

describe('directory module', () => {
  it('creates a directory with its mode, then reports no change', async () => {
    const out = await dir({ path: '/var/lib/etcd', mode: '0700' });
    expect(out).toEqual({ changed: true, message: 'created directory /var/lib/etcd', diff: 'directory absent → present\n' });
    expect((await stat(join(root, 'var/lib/etcd'))).mode & 0o7777).toBe(0o700);
    expect(await dir({ path: '/var/lib/etcd', mode: '0700' })).toEqual({ changed: false, message: 'directory /var/lib/etcd is up to date' });
  });

  it('reports and fixes mode drift', async () => {
    await dir({ path: '/var/lib/etcd', mode: '0700' });
    await chmod(join(root, 'var/lib/etcd'), 0o755);
    const out = await dir({ path: '/var/lib/etcd', mode: '0700' });
    expect(out).toEqual({ changed: true, message: 'updated directory /var/lib/etcd (mode)', diff: 'mode 0755 → 0700\n' });
    expect((await stat(join(root, 'var/lib/etcd'))).mode & 0o7777).toBe(0o700);
  });

  it('check mode touches nothing', async () => {
    await mkdir(join(root, 'opt/cni/bin/x'), { recursive: true, mode: 0o755 });
    const before = await snapshotTree(root);
    expect((await dir({ path: '/var/lib/etcd', mode: '0700' }, true)).message).toBe('would create directory /var/lib/etcd');
    expect((await dir({ path: '/opt/cni/bin/x', mode: '0700' }, true)).message).toBe('would update directory /opt/cni/bin/x (mode)');
    expect((await dir({ path: '/opt/cni/bin/x', state: 'absent' }, true)).message).toBe('would remove directory /opt/cni/bin/x');
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('removes a directory recursively, but never a top-level one', async () => {
    await mkdir(join(root, 'opt/cni/bin/x/y'), { recursive: true });
    await writeFile(join(root, 'opt/cni/bin/x/y/f'), 'f');
    expect((await dir({ path: '/opt/cni/bin/x', state: 'absent' })).changed).toBe(true);
    await expect(stat(join(root, 'opt/cni/bin/x'))).rejects.toThrow();
    expect((await dir({ path: '/opt/cni/bin/x', state: 'absent' })).changed).toBe(false);
    for (const path of ['/opt', '/./opt', '/./.', '/opt/cni/bin/x/..']) {
      expect(await rejection(dir({ path, state: 'absent' }))).toMatchObject({ code: expect.stringMatching(/^BALLAST_ERR_(UNSAFE_PATH|PATH_OUTSIDE_ROOT)$/) });
    }
  });

  it.skipIf(process.getuid?.() !== 0)('a mount point is emptied, never removed: the mount stays (root: mounts a tmpfs)', async () => {
    const point = join(root, 'var/lib/containerd');
    await mkdir(point, { recursive: true });
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ballast-test', point]);
    expect(mount.status, String(mount.stderr)).toBe(0);
    try {
      await mkdir(join(point, 'io.containerd.content.v1.content/blobs'), { recursive: true });
      await writeFile(join(point, 'meta.db'), 'x');
      expect((await dir({ path: '/var/lib/containerd', state: 'absent' }, true)).message).toBe('would empty directory /var/lib/containerd (a mount point: the directory stays)');
      expect(await dir({ path: '/var/lib/containerd', state: 'absent' })).toMatchObject({ changed: true, message: 'emptied directory /var/lib/containerd (a mount point: the directory stays)' });
      expect(await readdir(point)).toEqual([]);
      expect(await dir({ path: '/var/lib/containerd', state: 'absent' })).toEqual({ changed: false, message: 'directory /var/lib/containerd is a mount point and empty' });
    } finally {
      spawnSync('umount', [point]);
    }
  });

  it('refuses a path that is a file', async () => {
    await mkdir(join(root, 'etc/kubernetes'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/f'), 'x');
    expect(await rejection(dir({ path: '/etc/kubernetes/f' }))).toMatchObject({ code: 'BALLAST_ERR_FILE_UNMANAGED' });
  });

  it('fails bad arguments with the field path', async () => {
    expect(await rejection(dir({ path: '/x', mode: 'rwx' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/mode' });
    expect(await rejection(dir({ path: '/x', state: 'gone' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/state' });
  });
});
