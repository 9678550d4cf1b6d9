import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createExec } from '../../host/exec.js';
import { createModuleRegistry } from '../registry.js';
import { type FakeExec, fakeExec, makeTempRoot, rejection, testContext } from '../testing.js';
import { createCommandModule, DEFAULT_COMMAND_ALLOW_LIST } from './command.js';

const registry = createModuleRegistry();
let root: string;
let exec: FakeExec;
beforeEach(async () => {
  root = await makeTempRoot();
  exec = fakeExec((argv) => ({ code: 0, stdout: `ran ${argv.length} args\n`, stderr: '' }));
});
const run = (args: Record<string, unknown>, check = false) => registry.run('command', args, testContext(root, { check, exec }));

describe('command module', () => {
  it('runs an allowed command as argv and reports a change with its output', async () => {
    const out = await run({ argv: ['/usr/local/bin/etcdctl', 'member', 'list', '--write-out=json'] });
    expect(out).toEqual({ changed: true, message: 'ran /usr/local/bin/etcdctl member list --write-out=json: ran 4 args' });
    expect(exec.calls).toEqual([['/usr/local/bin/etcdctl', 'member', 'list', '--write-out=json']]);
  });

  it('refuses executables off the allow-list, relative ones and climbing paths', async () => {
    for (const argv0 of ['/bin/sh', 'kubeadm', '/usr/local/bin/../../bin/sh', 'systemctl']) {
      expect(await rejection(run({ argv: [argv0, '-c', 'true'] }))).toMatchObject({ code: 'BALLAST_ERR_COMMAND_NOT_ALLOWED', path: '/args/argv/0' });
    }
    expect(exec.calls).toEqual([]);
  });

  it('takes a configured allow-list', async () => {
    const custom = createModuleRegistry([createCommandModule({ allow: ['/opt/bin/tool'] })]);
    const ctx = testContext(root, { exec });
    expect((await custom.run('command', { argv: ['/opt/bin/tool'] }, ctx)).changed).toBe(true);
    expect(await rejection(custom.run('command', { argv: [DEFAULT_COMMAND_ALLOW_LIST[0]] }, ctx))).toMatchObject({
      code: 'BALLAST_ERR_COMMAND_NOT_ALLOWED',
    });
  });

  it('honours creates and removes', async () => {
    await mkdir(join(root, 'etc/kubernetes'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/admin.conf'), 'x');
    expect(await run({ argv: ['/usr/bin/kubeadm', 'init'], creates: '/etc/kubernetes/admin.conf' })).toEqual({
      changed: false,
      message: '/etc/kubernetes/admin.conf exists; not running /usr/bin/kubeadm',
    });
    expect(await run({ argv: ['/usr/bin/kubeadm', 'reset'], removes: '/etc/kubernetes/none' })).toEqual({
      changed: false,
      message: '/etc/kubernetes/none does not exist; not running /usr/bin/kubeadm',
    });
    expect(exec.calls).toEqual([]);
    expect((await run({ argv: ['/usr/bin/kubeadm', 'reset', '-f'], removes: '/etc/kubernetes/admin.conf' })).changed).toBe(true);
  });

  it('is skipped in check mode with what it would run', async () => {
    expect(await run({ argv: ['/usr/bin/kubeadm', 'init', '--config', '/etc/x y.yaml'] }, true)).toEqual({
      changed: false,
      skipped: true,
      message: "would run /usr/bin/kubeadm init --config '/etc/x y.yaml'",
    });
    expect(exec.calls).toEqual([]);
  });

  it('fails a non-zero exit with the tail of stderr', async () => {
    exec = fakeExec(() => ({ code: 3, stdout: '', stderr: `${'noise\n'.repeat(50)}error: the last words\n` }));
    const err = await rejection(run({ argv: ['/usr/bin/ctr', 'version'] }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect((err as Error).message).toMatch(/^failed to run \/usr\/bin\/ctr: exit 3: noise\n.*error: the last words$/s);
    expect((err as Error).message.split('\n')).toHaveLength(20);
  });

  it('fails bad arguments with the field path', async () => {
    expect(await rejection(run({ argv: [] }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/argv' });
    expect(await rejection(run({ argv: ['/usr/bin/ctr'], timeoutMs: 5 }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/timeoutMs' });
    expect(await rejection(run({ argv: '/usr/bin/ctr version' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/argv' });
  });
});

describe('createExec (real processes)', () => {
  const realExec = createExec();

  it('runs argv without a shell and captures output and exit code', async () => {
    const out = await realExec([process.execPath, '-e', 'process.stdout.write(process.argv[1]); process.stderr.write("e"); process.exit(4)', '$HOME; echo hi']);
    expect(out).toEqual({ code: 4, stdout: '$HOME; echo hi', stderr: 'e' });
  });

  it('passes extra environment', async () => {
    const out = await realExec([process.execPath, '-e', 'process.stdout.write(process.env.BALLAST_X ?? "")'], { env: { BALLAST_X: 'y' } });
    expect(out.stdout).toBe('y');
  });

  it('times out and kills the process group', async () => {
    const started = Date.now();
    const err = await rejection(realExec([process.execPath, '-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 200 }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('is cancelled by its signal', async () => {
    const abort = new AbortController();
    const pending = realExec([process.execPath, '-e', 'setInterval(() => {}, 1000)'], { signal: abort.signal });
    setTimeout(() => abort.abort(), 100);
    expect(await rejection(pending)).toMatchObject({ code: 'BALLAST_ERR_CANCELLED' });
  });

  it('reports a missing executable as a coded error', async () => {
    expect(await rejection(realExec(['/nonexistent/tool']))).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
  });
});

describe('createExec exit codes', () => {
  it('reports death by signal as 128 + the signal number', async () => {
    const out = await createExec()([process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")']);
    expect(out.code).toBe(137);
  });
});
