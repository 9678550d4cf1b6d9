import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { ComponentSpecSchema } from '../../../shared/src/components.js';
import { TaskSchema } from '../../../shared/src/tasks/task.js';
import { ROLES, renderRole } from './index.js';
import { FULL_MIRROR, HOST, art, fakeMirror, mustRender, pem } from './testing.js';
import type { RoleTask } from './types.js';

const checkTask = TypeCompiler.Compile(TaskSchema);
const checkComponent = TypeCompiler.Compile(ComponentSpecSchema);

const ETCD_TLS = {
  caCert: pem('CERTIFICATE', 'CA'),
  serverCert: pem('CERTIFICATE', 'SERVER'),
  serverKey: pem('EC PRIVATE KEY', 'SERVERKEY'),
  peerCert: pem('CERTIFICATE', 'PEER'),
  peerKey: pem('EC PRIVATE KEY', 'PEERKEY'),
};

const summary = (tasks: RoleTask[]) => tasks.map((t) => `${t.module}: ${t.name}`);
const byName = (tasks: RoleTask[], name: string) => {
  const t = tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no task "${name}" in ${summary(tasks).join(', ')}`);
  return t;
};
const args = <T>(t: RoleTask) => t.args as T;

describe('os-prep', () => {
  it('renders swap off, the two modules, then the sysctls (sorted), with no handlers', () => {
    const role = mustRender('os-prep');
    expect(summary(role.tasks)).toEqual([
      'swap: Disable swap',
      'kmod: Load kernel module overlay',
      'kmod: Load kernel module br_netfilter',
      'sysctl: Set sysctl net.bridge.bridge-nf-call-ip6tables = 1',
      'sysctl: Set sysctl net.bridge.bridge-nf-call-iptables = 1',
      'sysctl: Set sysctl net.ipv4.ip_forward = 1',
    ]);
    expect(args(byName(role.tasks, 'Set sysctl net.ipv4.ip_forward = 1'))).toEqual({ name: 'net.ipv4.ip_forward', value: '1', file: '99-ballast-kubernetes.conf' });
    expect(role.handlers).toEqual([]);
  });

  it('merges given sysctls over the defaults and honours swapOff: false', () => {
    const role = mustRender('os-prep', { swapOff: false, sysctls: { 'net.ipv4.ip_forward': '0', 'vm.max_map_count': '262144' } });
    const names = summary(role.tasks);
    expect(names).not.toContain('swap: Disable swap');
    expect(names).toContain('sysctl: Set sysctl net.ipv4.ip_forward = 0');
    expect(names).toContain('sysctl: Set sysctl vm.max_map_count = 262144');
    expect(names).toContain('sysctl: Set sysctl net.bridge.bridge-nf-call-iptables = 1');
  });

  it('reports every vars problem at once, with its path', () => {
    const r = renderRole('os-prep', { host: HOST, artifacts: FULL_MIRROR, vars: { swapOff: 'yes', kernelModules: ['Bad!'], sysctlFile: 'x', bogus: 1 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['/vars/swapOff', '/vars/kernelModules/0', '/vars/sysctlFile', '/vars/bogus']));
    expect(r.problems.find((p) => p.path === '/vars/bogus')?.message).toBe('unknown variable');
  });

  it('refuses bridge sysctls without br_netfilter (a rule the schema cannot express)', () => {
    const r = renderRole('os-prep', { host: HOST, artifacts: FULL_MIRROR, vars: { kernelModules: ['overlay'] } });
    expect(r).toEqual({ ok: false, problems: [{ path: '/vars/kernelModules', message: expect.stringMatching(/br_netfilter/) }] });
  });
});

describe('containerd', () => {
  it('installs the newest mirrored containerd, runc and CNI plugins with their digests', () => {
    const role = mustRender('containerd');
    const bins = args<{ name: string; version: string; sha256: string; install: { from: string; to: string }[] }>(byName(role.tasks, 'Install containerd binaries'));
    expect(bins).toMatchObject({ name: 'containerd', version: '1.7.22', arch: 'amd64', sha256: art('containerd', '1.7.22').sha256 });
    expect(bins.install.map((i) => `${i.from} -> ${i.to}`)).toEqual([
      'bin/containerd -> /usr/local/bin/containerd',
      'bin/containerd-shim-runc-v2 -> /usr/local/bin/containerd-shim-runc-v2',
      'bin/ctr -> /usr/local/bin/ctr',
    ]);
    expect(args<{ install: unknown[] }>(byName(role.tasks, 'Install runc')).install).toEqual([{ from: 'runc.amd64', to: '/usr/local/sbin/runc', mode: '0755' }]);
    const cni = args<{ install: { from: string }[] }>(byName(role.tasks, 'Install CNI plugins'));
    expect(cni.install.map((i) => i.from)).toEqual(['bridge', 'host-local', 'loopback', 'portmap', 'bandwidth', 'firewall', 'tuning']);
  });

  it('writes config.toml with SystemdCgroup from a template (true unless the cluster uses cgroupfs), and notifies the restart handler', () => {
    const role = mustRender('containerd', { disabledPlugins: ['io.containerd.grpc.v1.cri'], sandboxImage: 'pause:3.10' });
    const config = byName(role.tasks, 'Write containerd config.toml');
    const a = args<{ path: string; template: string; vars: Record<string, string> }>(config);
    expect(config.module).toBe('template');
    expect(a.path).toBe('/etc/containerd/config.toml');
    expect(a.template).toContain('SystemdCgroup = {{ systemdCgroup }}');
    expect(a.template).toContain('restrict_oom_score_adj = {{ restrictOomScoreAdj }}');
    expect(a.template).toContain('sandbox_image = "{{ sandboxImage }}"');
    expect(a.vars).toMatchObject({ systemdCgroup: 'true', restrictOomScoreAdj: 'false', sandboxImage: 'pause:3.10', disabledPlugins: '"io.containerd.grpc.v1.cri"', socket: '/run/containerd/containerd.sock', cniBinDir: '/opt/cni/bin' });
    expect(config.notify).toEqual(['restart containerd']);
    const v1 = args<{ vars: Record<string, string> }>(byName(mustRender('containerd', { systemdCgroup: false, restrictOomScoreAdj: true }).tasks, 'Write containerd config.toml'));
    expect(v1.vars).toMatchObject({ systemdCgroup: 'false', restrictOomScoreAdj: 'true' });
    const unit = args<{ unit: string; content: string; enabled: boolean; state: string }>(byName(role.tasks, 'Install and start containerd.service'));
    expect(unit).toMatchObject({ unit: 'containerd.service', enabled: true, state: 'started' });
    expect(unit.content).toContain('ExecStart=/usr/local/bin/containerd --config /etc/containerd/config.toml');
    expect(role.handlers).toEqual([{ name: 'restart containerd', module: 'systemd', args: { unit: 'containerd.service', state: 'restarted' } }]);
  });

  it('registers the component with a containerd socket probe', () => {
    const role = mustRender('containerd', { socket: '/run/containerd/k8s.sock' });
    const file = args<{ path: string; content: string; headerComment: null }>(byName(role.tasks, 'Register component containerd'));
    expect(file.path).toBe('/etc/ballast/components.d/containerd.json');
    expect(file.headerComment).toBeNull();
    const spec: unknown = JSON.parse(file.content);
    expect(checkComponent.Check(spec)).toBe(true);
    expect(spec).toEqual({ name: 'containerd', unit: 'containerd.service', probe: { kind: 'containerd', socket: '/run/containerd/k8s.sock' } });
  });

  it('leaves CNI out when disabled (and then does not need the plugins artifact)', () => {
    const mirror = fakeMirror([art('containerd', '1.7.22'), art('runc', '1.1.13')]);
    const role = mustRender('containerd', { cni: { enabled: false } }, mirror);
    expect(summary(role.tasks).some((t) => t.includes('CNI') || t.includes('/opt/cni'))).toBe(false);
  });

  it('lists every missing artifact at once, naming version and arch', () => {
    const r = renderRole('containerd', { host: { ...HOST, arch: 'arm64' }, artifacts: FULL_MIRROR, vars: { version: '9.9.9' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      { path: '/artifacts/containerd', message: expect.stringContaining('"containerd" 9.9.9 for arm64') },
      { path: '/artifacts/runc', message: expect.stringContaining('"runc" (any version) for arm64') },
      { path: '/artifacts/cni-plugins', message: expect.stringContaining('"cni-plugins" (any version) for arm64') },
    ]);
  });
});

describe('kube-node', () => {
  it('installs kubelet/kubeadm/kubectl of one version, the unit with the kubeadm drop-in, crictl and its config', () => {
    const role = mustRender('kube-node');
    for (const bin of ['kubelet', 'kubeadm', 'kubectl']) {
      expect(args(byName(role.tasks, `Install ${bin}`))).toMatchObject({ name: bin, version: '1.36.3', install: [{ from: bin, to: `/usr/bin/${bin}`, mode: '0755' }] });
    }
    const unit = args<{ content: string; dropIns: Record<string, string>; enabled: boolean; state?: string }>(byName(role.tasks, 'Install kubelet.service with the kubeadm drop-in'));
    expect(unit.enabled).toBe(true);
    expect(unit.state).toBeUndefined(); // kubeadm starts kubelet
    expect(unit.dropIns['10-kubeadm.conf']).toContain('ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS');
    expect(args<{ content: string }>(byName(role.tasks, 'Write /etc/crictl.yaml')).content).toContain('runtime-endpoint: unix:///run/containerd/containerd.sock');
    const component = JSON.parse(args<{ content: string }>(byName(role.tasks, 'Register component kubelet')).content) as unknown;
    expect(component).toMatchObject({ name: 'kubelet', probe: { kind: 'kubelet', url: 'http://127.0.0.1:10248/healthz' }, requiresPath: '/var/lib/kubelet/config.yaml' });
  });

  it('a version with build metadata is another artifact than the release: looked up whole, never the release instead', () => {
    const both = fakeMirror(['1.36.3', '1.36.3+ballast.standin'].flatMap((v) => ['kubelet', 'kubeadm', 'kubectl'].map((n) => art(n, v))));
    const role = mustRender('kube-node', { version: '1.36.3+ballast.standin', crictl: { enabled: false } }, both);
    for (const bin of ['kubelet', 'kubeadm', 'kubectl']) expect(args(byName(role.tasks, `Install ${bin}`))).toMatchObject({ name: bin, version: '1.36.3+ballast.standin' });
    const releaseOnly = fakeMirror(['kubelet', 'kubeadm', 'kubectl'].map((n) => art(n, '1.36.3')));
    const r = renderRole('kube-node', { host: HOST, artifacts: releaseOnly, vars: { version: '1.36.3+ballast.standin', crictl: { enabled: false } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.path)).toEqual(['/artifacts/kubelet', '/artifacts/kubeadm', '/artifacts/kubectl']);
  });

  it('needs kubeadm and kubectl at the version kubelet resolved to', () => {
    const mirror = fakeMirror([art('kubelet', '1.37.0'), art('kubeadm', '1.36.3'), art('kubectl', '1.37.0')]);
    const r = renderRole('kube-node', { host: HOST, artifacts: mirror, vars: { crictl: { enabled: false } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ path: '/artifacts/kubeadm', message: expect.stringContaining('"kubeadm" 1.37.0') }]);
  });
});

describe('every role', () => {
  const vars: Record<string, Record<string, unknown>> = {
    etcd: { tls: ETCD_TLS },
    'etcd-member': { action: 'add', member: 'node-2', peerUrls: ['https://198.18.0.12:2380'] },
    'static-pods': { state: 'parked' },
    'etcd-restore': {
      action: 'restore',
      restoreId: 'op-1',
      name: 'node-1',
      initialCluster: 'node-1=https://198.18.0.11:2380',
      peerUrls: ['https://198.18.0.11:2380'],
      snapshot: { cluster: 'lab', id: 'snap-1', sha256: 'a'.repeat(64), size: 10 },
      endpoints: ['https://198.18.0.11:2379'],
    },
    vip: {
      name: 'lab',
      address: '198.18.0.250',
      interface: 'eth0',
      etcdEndpoint: 'https://127.0.0.1:2379',
      tls: { caCert: ETCD_TLS.caCert, clientCert: ETCD_TLS.serverCert, clientKey: ETCD_TLS.serverKey },
      health: { kind: 'none' },
    },
  };
  // The kube roles need a rendered kubeadm config and PKI: kube-roles.test.ts checks them against the schema.
  const ownTests = new Set(['kube-control-plane', 'kube-worker']);
  it.each([...ROLES.keys()].filter((n) => !ownTests.has(n)))('%s renders tasks that match the wire schema', (name) => {
    const role = mustRender(name, vars[name] ?? {});
    for (const t of [...role.tasks, ...role.handlers]) {
      expect(checkTask.Errors(t).First()?.message, `${name}: ${t.name}`).toBeUndefined();
    }
    const handlerNames = new Set(role.handlers.map((h) => h.name));
    for (const t of role.tasks) for (const n of t.notify ?? []) expect(handlerNames.has(n), `${t.name} notifies ${n}`).toBe(true);
  });

  it('an unknown role is one problem naming the known ones', () => {
    expect(renderRole('nginx', { host: HOST, artifacts: FULL_MIRROR, vars: {} })).toEqual({
      ok: false,
      problems: [{ path: '/role', message: `unknown role "nginx"; known roles: ${[...ROLES.keys()].join(', ')}` }],
    });
  });
});
