import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { isBallastError } from '../../../../shared/src/errors.js';
import { headerLine } from '../managed-file.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();
const HEADER = `${headerLine('#')}\n`;
const asRoot = process.getuid?.() === 0;

let root: string;
beforeEach(async () => {
  root = await makeTempRoot();
  await mkdir(join(root, 'etc/kubernetes'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\netcd:x:1234:1235::/var/lib/etcd:/usr/sbin/nologin\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\netcd:x:1235:\n');
});

const file = (args: Record<string, unknown>, ctx = testContext(root)) => registry.run('file', args, ctx);

async function expectCode(promise: Promise<unknown>, code: string, path?: string) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isBallastError(err), `expected a BallastError, got ${String(err)}`).toBe(true);
  if (!isBallastError(err)) return;
  expect(err.code).toBe(code);
  if (path !== undefined) expect(err.path).toBe(path);
}

describe('file module', () => {
  it('creates the file with the header and mode, then reports no change', async () => {
    const first = await file({ path: '/etc/kubernetes/app/app.conf', content: 'a = 1\n', mode: '0640' });
    expect(first).toMatchObject({ changed: true, message: 'created /etc/kubernetes/app/app.conf' });
    expect(first.diff).toContain('--- /dev/null');
    expect(first.diff).toContain('+a = 1');
    expect(await readFile(join(root, 'etc/kubernetes/app/app.conf'), 'utf8')).toBe(`${HEADER}a = 1\n`);
    expect((await stat(join(root, 'etc/kubernetes/app/app.conf'))).mode & 0o7777).toBe(0o640);
    const second = await file({ path: '/etc/kubernetes/app/app.conf', content: 'a = 1\n', mode: '0640' });
    expect(second).toEqual({ changed: false, message: '/etc/kubernetes/app/app.conf is up to date' });
  });

  it('shows a unified diff of old and new content', async () => {
    await file({ path: '/etc/kubernetes/a.conf', content: 'one\ntwo\nthree\n' });
    const out = await file({ path: '/etc/kubernetes/a.conf', content: 'one\nTWO\nthree\n' });
    expect(out.message).toBe('updated /etc/kubernetes/a.conf (content)');
    expect(out.diff).toContain('--- /etc/kubernetes/a.conf\n+++ /etc/kubernetes/a.conf\n');
    expect(out.diff).toContain('-two\n+TWO\n');
    expect(out.diff).not.toContain('mode');
  });

  it('leaves the diff out when not asked for', async () => {
    const out = await file({ path: '/etc/kubernetes/a.conf', content: 'x\n' }, testContext(root, { diff: false }));
    expect(out.changed).toBe(true);
    expect(out.diff).toBeUndefined();
  });

  it('check mode reports the change and touches nothing', async () => {
    await writeFile(join(root, 'etc/kubernetes/old.conf'), `${HEADER}old\n`, { mode: 0o600 });
    const before = await snapshotTree(root);
    const ctx = testContext(root, { check: true });
    const created = await file({ path: '/etc/kubernetes/new/dir/new.conf', content: 'n\n', owner: 'etcd' }, ctx);
    const updated = await file({ path: '/etc/kubernetes/old.conf', content: 'new\n', mode: '0644' }, ctx);
    const removed = await file({ path: '/etc/kubernetes/old.conf', content: '', state: 'absent' }, ctx);
    expect(created).toMatchObject({ changed: true, message: 'would create /etc/kubernetes/new/dir/new.conf' });
    expect(updated).toMatchObject({ changed: true, message: 'would update /etc/kubernetes/old.conf (content, mode)' });
    expect(updated.diff).toContain('+new');
    expect(removed).toMatchObject({ changed: true, message: 'would remove /etc/kubernetes/old.conf' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses to overwrite or remove a file without the header unless forced', async () => {
    await writeFile(join(root, 'etc/kubernetes/hosts'), '127.0.0.1 localhost\n');
    await expectCode(file({ path: '/etc/kubernetes/hosts', content: 'mine\n' }), 'BALLAST_ERR_FILE_UNMANAGED', '/args/path');
    await expectCode(file({ path: '/etc/kubernetes/hosts', content: '', state: 'absent' }), 'BALLAST_ERR_FILE_UNMANAGED');
    await expectCode(file({ path: '/etc/kubernetes/hosts', content: 'mine\n' }, testContext(root, { check: true })), 'BALLAST_ERR_FILE_UNMANAGED');
    expect(await readFile(join(root, 'etc/kubernetes/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    const forced = await file({ path: '/etc/kubernetes/hosts', content: 'mine\n', force: true });
    expect(forced.changed).toBe(true);
    expect(await readFile(join(root, 'etc/kubernetes/hosts'), 'utf8')).toBe(`${HEADER}mine\n`);
    // Now it carries the header: no force needed any more.
    expect((await file({ path: '/etc/kubernetes/hosts', content: 'mine, again\n' })).changed).toBe(true);
  });

  it('refuses a path that is a directory', async () => {
    await mkdir(join(root, 'etc/kubernetes/dir'));
    await expectCode(file({ path: '/etc/kubernetes/dir', content: 'x', force: true }), 'BALLAST_ERR_FILE_UNMANAGED');
  });

  it('uses the given comment syntax, or none', async () => {
    await file({ path: '/etc/kubernetes/a.ini', content: 'k=v\n', headerComment: ';' });
    expect(await readFile(join(root, 'etc/kubernetes/a.ini'), 'utf8')).toBe(`${headerLine(';')}\nk=v\n`);
    await file({ path: '/etc/kubernetes/a.json', content: '{}\n', headerComment: null });
    expect(await readFile(join(root, 'etc/kubernetes/a.json'), 'utf8')).toBe('{}\n');
    expect((await file({ path: '/etc/kubernetes/a.json', content: '{}\n', headerComment: null })).changed).toBe(false);
    // No header means no marker: changing it later needs force.
    await expectCode(file({ path: '/etc/kubernetes/a.json', content: '{"a":1}\n', headerComment: null }), 'BALLAST_ERR_FILE_UNMANAGED');
    expect((await file({ path: '/etc/kubernetes/a.json', content: '{"a":1}\n', headerComment: null, force: true })).changed).toBe(true);
  });

  it('keeps a shebang on the first line', async () => {
    await file({ path: '/etc/kubernetes/x.sh', content: '#!/bin/sh\necho hi\n', mode: '0644' });
    expect(await readFile(join(root, 'etc/kubernetes/x.sh'), 'utf8')).toBe(`#!/bin/sh\n${HEADER}echo hi\n`);
  });

  it('never writes an executable (execute, setuid, setgid or sticky bit), given or kept from the file it replaces', async () => {
    for (const mode of ['0755', '0700', '0744', '4644', '2644', '1644']) {
      await expectCode(file({ path: '/etc/kubernetes/x.sh', content: '#!/bin/sh\nid\n', mode }), 'BALLAST_ERR_UNSAFE_VALUE');
    }
    await mkdir(join(root, 'opt/cni/bin'), { recursive: true });
    await writeFile(join(root, 'opt/cni/bin/bridge'), 'plugin', { mode: 0o755 });
    await expectCode(file({ path: '/opt/cni/bin/bridge', content: '#!/bin/sh\nid\n', force: true }), 'BALLAST_ERR_UNSAFE_VALUE');
    expect(await readFile(join(root, 'opt/cni/bin/bridge'), 'utf8')).toBe('plugin');
  });

  it('reports mode drift alone as a change with a mode line', async () => {
    await file({ path: '/etc/kubernetes/a.conf', content: 'x\n', mode: '0644' });
    await chmod(join(root, 'etc/kubernetes/a.conf'), 0o600);
    const out = await file({ path: '/etc/kubernetes/a.conf', content: 'x\n', mode: '0644' });
    expect(out).toEqual({ changed: true, message: 'updated /etc/kubernetes/a.conf (mode)', diff: 'mode 0600 → 0644\n' });
    expect((await stat(join(root, 'etc/kubernetes/a.conf'))).mode & 0o7777).toBe(0o644);
    expect((await file({ path: '/etc/kubernetes/a.conf', content: 'x\n', mode: '0644' })).changed).toBe(false);
  });

  it('keeps the current mode when none is given', async () => {
    await file({ path: '/etc/kubernetes/a.conf', content: 'x\n', mode: '0600' });
    await file({ path: '/etc/kubernetes/a.conf', content: 'y\n' });
    expect((await stat(join(root, 'etc/kubernetes/a.conf'))).mode & 0o7777).toBe(0o600);
  });

  it('hides the content of files others may not read', async () => {
    const out = await file({ path: '/etc/kubernetes/secret.key', content: 'PRIVATE\n', mode: '0600' });
    expect(out.diff).toContain('(content hidden: mode 0600)');
    expect(out.diff).not.toContain('PRIVATE');
  });

  it.skipIf(!asRoot)('chowns by name from the root’s passwd and group, and reports owner drift', async () => {
    const out = await file({ path: '/etc/kubernetes/etcd.env', content: 'A=1\n', owner: 'etcd', group: 'etcd' });
    expect(out.changed).toBe(true);
    const st = await stat(join(root, 'etc/kubernetes/etcd.env'));
    expect([st.uid, st.gid]).toEqual([1234, 1235]);
    await chown(join(root, 'etc/kubernetes/etcd.env'), 0, 0);
    const drift = await file({ path: '/etc/kubernetes/etcd.env', content: 'A=1\n', owner: 'etcd', group: '1235' });
    expect(drift).toEqual({ changed: true, message: 'updated /etc/kubernetes/etcd.env (owner, group)', diff: 'owner root → etcd\ngroup root → etcd\n' });
    // A content change keeps the owner even when the task names none.
    await file({ path: '/etc/kubernetes/etcd.env', content: 'A=2\n' });
    expect((await stat(join(root, 'etc/kubernetes/etcd.env'))).uid).toBe(1234);
  });

  it('fails on an unknown user', async () => {
    await expectCode(file({ path: '/etc/kubernetes/a', content: '', owner: 'nobody-here' }), 'BALLAST_ERR_NOT_FOUND');
  });

  it('removes a managed file, and absent twice is no change', async () => {
    await file({ path: '/etc/kubernetes/a.conf', content: 'x\n' });
    const out = await file({ path: '/etc/kubernetes/a.conf', content: '', state: 'absent' });
    expect(out).toMatchObject({ changed: true, message: 'removed /etc/kubernetes/a.conf' });
    expect(out.diff).toContain('-x');
    await expect(stat(join(root, 'etc/kubernetes/a.conf'))).rejects.toThrow();
    expect(await file({ path: '/etc/kubernetes/a.conf', content: '', state: 'absent' })).toEqual({ changed: false, message: '/etc/kubernetes/a.conf is absent' });
  });

  it('force-removes an unmanaged binary without reading it, refuses a directory, and shows the content only in a diff', async () => {
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    // Not UTF-8 and no marker: only `force` may remove it; nothing decodes it unless a diff is asked for.
    await writeFile(join(root, 'usr/bin/kubelet'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0xff, 0xfe, 0x00]), { mode: 0o755 });
    await expectCode(file({ path: '/usr/bin/kubelet', content: '', state: 'absent' }), 'BALLAST_ERR_FILE_UNMANAGED');
    expect(await file({ path: '/usr/bin/kubelet', content: '', state: 'absent', force: true }, { ...testContext(root), diff: false })).toEqual({ changed: true, message: 'removed /usr/bin/kubelet' });
    await expect(stat(join(root, 'usr/bin/kubelet'))).rejects.toThrow();
    await writeFile(join(root, 'etc/kubernetes/b.conf'), 'unmanaged\n', { mode: 0o644 });
    expect((await file({ path: '/etc/kubernetes/b.conf', content: '', state: 'absent', force: true }, { ...testContext(root), diff: true })).diff).toContain('-unmanaged');
    await mkdir(join(root, 'etc/kubernetes/d.conf'));
    await expectCode(file({ path: '/etc/kubernetes/d.conf', content: '', state: 'absent', force: true }), 'BALLAST_ERR_FILE_UNMANAGED');
  });

  it('fails bad arguments with the field path and never runs', async () => {
    const before = await snapshotTree(root);
    await expectCode(file({ path: '/etc/kubernetes/a', content: 'x', mode: '999' }), 'BALLAST_ERR_VALIDATION', '/args/mode');
    await expectCode(file({ path: 'relative', content: 'x' }), 'BALLAST_ERR_VALIDATION', '/args/path');
    await expectCode(file({ content: 'x' }), 'BALLAST_ERR_VALIDATION', '/args/path');
    await expectCode(file({ path: '/etc/kubernetes/a', content: 'x', colour: 'blue' }), 'BALLAST_ERR_VALIDATION');
    await expectCode(file({ path: '/etc/kubernetes/../../outside', content: 'x' }), 'BALLAST_ERR_PATH_OUTSIDE_ROOT');
    expect(await snapshotTree(root)).toEqual(before);
  });
});
