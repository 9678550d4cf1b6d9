import { spawn } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();

describe('static_pod', () => {
  it('parks the API server manifest (check mode first), is idempotent, and activates it again unchanged', async () => {
    const root = await makeTempRoot();
    await mkdir(join(root, 'etc/kubernetes/manifests'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'apiVersion: v1\nkind: Pod\n');
    const before = await snapshotTree(root);
    const check = await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked' }, testContext(root, { check: true }));
    expect(check).toMatchObject({ changed: true, message: 'would move kube-apiserver.yaml to /etc/kubernetes/ballast-parked (parked)' });
    expect(await snapshotTree(root)).toEqual(before);
    expect(await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked' }, testContext(root))).toMatchObject({ changed: true });
    expect(await readFile(join(root, 'etc/kubernetes/ballast-parked/kube-apiserver.yaml'), 'utf8')).toBe('apiVersion: v1\nkind: Pod\n');
    expect(await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked' }, testContext(root))).toEqual({ changed: false, message: 'kube-apiserver is already parked' });
    expect(await registry.run('static_pod', { name: 'kube-apiserver', state: 'active' }, testContext(root))).toMatchObject({ changed: true });
    expect(await snapshotTree(root)).toMatchObject(before);
    expect(await registry.run('static_pod', { name: 'kube-apiserver', state: 'active' }, testContext(root))).toEqual({ changed: false, message: 'kube-apiserver is already active' });
  });

  it('refuses unknown pods and a manifest in neither place on activate', async () => {
    const root = await makeTempRoot();
    expect(await rejection(registry.run('static_pod', { name: 'etcd', state: 'parked' }, testContext(root)))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION' });
    expect(await rejection(registry.run('static_pod', { name: 'kube-apiserver', state: 'active' }, testContext(root)))).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    expect(await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked' }, testContext(root))).toMatchObject({ changed: false });
  });

  it('waits until nothing listens on the port once parked, and fails at its deadline while something does', async () => {
    const root = await makeTempRoot();
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    setTimeout(() => server.close(), 700);
    const started = Date.now();
    await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked', waitPortClosed: port, timeoutMs: 10_000 }, testContext(root));
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    const again = createServer((s) => s.destroy());
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    try {
      // killAfterMs 0: the listener is this test process, not named kube-apiserver — never killed.
      const err = await rejection(registry.run('static_pod', { name: 'kube-apiserver', state: 'parked', waitPortClosed: port, timeoutMs: 1000, killAfterMs: 0 }, testContext(root)));
      expect(err).toMatchObject({ code: 'BALLAST_ERR_GATE' });
    } finally {
      again.close();
    }
  });

  it('kills a kube-apiserver that ignores SIGTERM and still listens killAfterMs after parking (only the process holding the port)', async () => {
    const root = await makeTempRoot();
    await mkdir(join(root, 'etc/kubernetes/manifests'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'apiVersion: v1\nkind: Pod\n');
    // A real process whose kernel name is kube-apiserver (exec through a symlink of that name), listening, deaf to SIGTERM.
    const exe = join(root, 'kube-apiserver');
    await symlink(process.execPath, exe);
    const child = spawn(exe, ['-e', "process.on('SIGTERM', () => {}); require('node:net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port); });"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    try {
      const port = Number(await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
      expect(await readFile(`/proc/${child.pid}/comm`, 'utf8')).toBe('kube-apiserver\n');
      const started = Date.now();
      const out = await registry.run('static_pod', { name: 'kube-apiserver', state: 'parked', waitPortClosed: port, timeoutMs: 20_000, killAfterMs: 400 }, testContext(root));
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(out).toMatchObject({ changed: true, message: `moved kube-apiserver.yaml to /etc/kubernetes/ballast-parked (parked); kube-apiserver still listened on ${port} after 400 ms: killed PID ${child.pid}` });
      expect(await exited).toBe('SIGKILL');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
