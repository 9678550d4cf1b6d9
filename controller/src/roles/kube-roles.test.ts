import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { TaskSchema } from '../../../shared/src/tasks/task.js';
import { type KubeadmConfigInput, renderInitConfig, renderJoinConfig } from '../kube/kubeadm-config.js';
import { redactRoleVars, renderRole } from './index.js';
import { REQUIRED_CONTROL_PLANE_PKI } from './kube-control-plane.js';
import { FULL_MIRROR, HOST, kubeadmTestInput, mustRender, pem, GOLDEN_CA_PEM } from './testing.js';
import type { RoleTask } from './types.js';

const checkTask = TypeCompiler.Compile(TaskSchema);
const INPUT: KubeadmConfigInput = kubeadmTestInput('1.31.2');
const INIT = renderInitConfig(INPUT);
const CP_JOIN = renderJoinConfig(INPUT, { controlPlane: true });
const WORKER_JOIN = renderJoinConfig(INPUT, { controlPlane: false });

/** The files the cluster PKI gives a control plane, keys PEM-shaped (roles only move the text). */
const PKI = REQUIRED_CONTROL_PLANE_PKI.map((name) => ({
  path: `/etc/kubernetes/pki/${name}`,
  content: name.endsWith('.key') ? pem('PRIVATE KEY', name) : name === 'sa.pub' ? pem('PUBLIC KEY', name) : pem('CERTIFICATE', name),
}));
const CP_VARS = { pki: PKI, kubeadm: { action: 'init', config: INIT } };

const find = (tasks: RoleTask[], name: string): RoleTask => {
  const t = tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no task "${name}" in ${tasks.map((x) => x.name).join(', ')}`);
  return t;
};
const problemsOf = (role: string, vars: Record<string, unknown>) => {
  const r = renderRole(role, { host: HOST, artifacts: FULL_MIRROR, vars });
  return r.ok ? [] : r.problems;
};

describe('kube-control-plane', () => {
  it('creates the pki directories, writes every file (keys 0600 and sensitive), then runs kubeadm init', () => {
    const role = mustRender('kube-control-plane', CP_VARS);
    expect(role.tasks.map((t) => `${t.module}: ${t.name}`)).toEqual([
      'directory: Create directory /etc/kubernetes/pki',
      'directory: Create directory /etc/kubernetes/pki/etcd',
      ...REQUIRED_CONTROL_PLANE_PKI.map((f) => `file: Write /etc/kubernetes/pki/${f}`),
      'kubeadm: kubeadm init',
    ]);
    const key = find(role.tasks, 'Write /etc/kubernetes/pki/ca.key');
    expect(key).toMatchObject({ sensitive: true, args: { path: '/etc/kubernetes/pki/ca.key', mode: '0600' } });
    const cert = find(role.tasks, 'Write /etc/kubernetes/pki/etcd/ca.crt');
    expect(cert.sensitive).toBeUndefined();
    expect(cert.args).toMatchObject({ mode: '0644', content: pem('CERTIFICATE', 'etcd/ca.crt') });
    const kubeadm = find(role.tasks, 'kubeadm init');
    expect(kubeadm).toEqual({ name: 'kubeadm init', module: 'kubeadm', args: { action: 'init', config: INIT, binary: '/usr/bin/kubeadm' }, sensitive: true });
    expect(role.handlers).toEqual([]);
    for (const t of role.tasks) expect(checkTask.Errors(t).First()?.message, t.name).toBeUndefined();
  });

  it('joins as a control plane with an explicit mode, binary and timeout', () => {
    const pki = PKI.map((f) => (f.path.endsWith('sa.pub') ? { ...f, mode: '0600' } : f));
    const role = mustRender('kube-control-plane', { pki, kubeadm: { action: 'join', config: CP_JOIN, timeoutMs: 600_000 }, binary: '/usr/local/bin/kubeadm' });
    expect(find(role.tasks, 'Write /etc/kubernetes/pki/sa.pub').args).toMatchObject({ mode: '0600' });
    expect(find(role.tasks, 'kubeadm join --control-plane').args).toEqual({ action: 'join', config: CP_JOIN, binary: '/usr/local/bin/kubeadm', timeoutMs: 600_000 });
  });

  it('refuses a missing CA file, a duplicate, a readable key and a config that does not fit the action', () => {
    const pki = [...PKI.filter((f) => !f.path.endsWith('/ca.key')), { ...PKI[0], path: '/etc/kubernetes/pki/sa.key', mode: '0644' }];
    expect(problemsOf('kube-control-plane', { pki, kubeadm: { action: 'init', config: WORKER_JOIN } })).toEqual([
      { path: `/vars/pki/${pki.length - 1}/path`, message: '/etc/kubernetes/pki/sa.key is listed twice' },
      { path: `/vars/pki/${pki.length - 1}/mode`, message: expect.stringContaining('0600') },
      { path: '/vars/pki', message: expect.stringMatching(/^missing ca\.key:/) },
      { path: '/vars/kubeadm/config', message: 'init needs InitConfiguration and ClusterConfiguration (found JoinConfiguration)' },
    ]);
    expect(problemsOf('kube-control-plane', { ...CP_VARS, kubeadm: { action: 'join', config: WORKER_JOIN } })).toEqual([
      { path: '/vars/kubeadm/config', message: 'join on a control plane needs a JoinConfiguration with controlPlane set' },
    ]);
    expect(problemsOf('kube-control-plane', { ...CP_VARS, kubeadm: { action: 'init', config: 'a: [' } })[0]?.message).toMatch(/^is not valid YAML/);
  });

  it('refuses paths outside /etc/kubernetes/pki or with dot segments, and unknown actions', () => {
    const paths = ['/etc/kubernetes/admin.conf', '/etc/kubernetes/pki/../shadow', '/etc/kubernetes/pki/a/b/c.crt'];
    for (const path of paths) {
      expect(problemsOf('kube-control-plane', { ...CP_VARS, pki: [...PKI, { path, content: pem('CERTIFICATE') }] }).map((p) => p.path)).toContain(`/vars/pki/${PKI.length}/path`);
    }
    expect(problemsOf('kube-control-plane', { ...CP_VARS, kubeadm: { action: 'reset', config: INIT } }).map((p) => p.path)).toContain('/vars/kubeadm/action');
  });

  it('redacts the pki list and the kubeadm config (it holds the token) in stored vars', () => {
    expect(redactRoleVars('kube-control-plane', CP_VARS)).toEqual({ pki: '<redacted>', kubeadm: { action: 'init', config: '<redacted>' } });
  });
});

describe('kube-worker', () => {
  it('joins first, then converges ca.crt to the bytes kubeadm writes (no header, forced)', () => {
    const role = mustRender('kube-worker', { caCert: GOLDEN_CA_PEM, kubeadm: { config: WORKER_JOIN } });
    expect(role.tasks.map((t) => `${t.module}: ${t.name}`)).toEqual([
      'kubeadm: kubeadm join',
      'directory: Create directory /etc/kubernetes/pki',
      'file: Write /etc/kubernetes/pki/ca.crt',
    ]);
    expect(role.tasks[0]).toEqual({ name: 'kubeadm join', module: 'kubeadm', args: { action: 'join', config: WORKER_JOIN, binary: '/usr/bin/kubeadm' }, sensitive: true });
    expect(role.tasks[2]?.args).toEqual({ path: '/etc/kubernetes/pki/ca.crt', content: GOLDEN_CA_PEM, mode: '0644', headerComment: null, force: true });
    for (const t of role.tasks) expect(checkTask.Errors(t).First()?.message, t.name).toBeUndefined();
  });

  it('refuses a control-plane join config, a key as caCert, and redacts the config', () => {
    expect(problemsOf('kube-worker', { caCert: GOLDEN_CA_PEM, kubeadm: { config: CP_JOIN } })).toEqual([
      { path: '/vars/kubeadm/config', message: 'a worker needs a JoinConfiguration without controlPlane' },
    ]);
    expect(problemsOf('kube-worker', { caCert: pem('PRIVATE KEY'), kubeadm: { config: WORKER_JOIN } }).map((p) => p.path)).toEqual(['/vars/caCert']);
    expect(redactRoleVars('kube-worker', { caCert: GOLDEN_CA_PEM, kubeadm: { config: WORKER_JOIN } })).toEqual({ caCert: GOLDEN_CA_PEM, kubeadm: { config: '<redacted>' } });
  });
});
