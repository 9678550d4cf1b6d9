/**
 * The images role: what each Kubernetes host imports from the mirror, and nothing when the mirror
 * holds no images (clusters that pull from a registry keep working).
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { kubeadmImages } from '../../../shared/src/kube-images.js';
import { TaskSchema } from '../../../shared/src/tasks/task.js';
import { DEFAULT_SANDBOX_IMAGE } from './images.js';
import { renderRole } from './index.js';
import { art, fakeMirror, HOST, mustRender } from './testing.js';
import type { ArtifactRecord } from './types.js';

const checkTask = TypeCompiler.Compile(TaskSchema);
const id = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
/** An image artifact as the lab's builder names it. */
function img(short: string, tag: string, n: number, arch = 'amd64'): ArtifactRecord {
  return { ...art(`image-${short}`, tag, arch), image: { ref: `registry.k8s.io/${short}:${tag}`, id: id(n) } };
}
const KUBE = [
  img('kube-apiserver', 'v1.36.3', 1),
  img('kube-controller-manager', 'v1.36.3', 2),
  img('kube-scheduler', 'v1.36.3', 3),
  img('kube-proxy', 'v1.36.3', 4),
  img('pause', '3.10.2', 5),
  // Another release in the mirror: never picked for 1.36.3.
  img('kube-apiserver', 'v1.35.0', 6),
  img('pause', '3.9', 7),
  art('kubelet', '1.36.3'),
];
const refs = (role: { tasks: { args: unknown }[] }) => role.tasks.map((t) => (t.args as { ref: string }).ref);

describe('images role', () => {
  it('imports the control-plane images of the cluster version, kube-proxy and the sandbox pause on a control plane', () => {
    const role = mustRender('images', { kubernetesVersion: '1.36.3', controlPlane: true }, fakeMirror(KUBE));
    expect(refs(role)).toEqual([
      'registry.k8s.io/pause:3.10.2',
      'registry.k8s.io/kube-apiserver:v1.36.3',
      'registry.k8s.io/kube-controller-manager:v1.36.3',
      'registry.k8s.io/kube-scheduler:v1.36.3',
      'registry.k8s.io/kube-proxy:v1.36.3',
    ]);
    const [pause] = role.tasks;
    expect(pause).toMatchObject({
      name: 'Import image registry.k8s.io/pause:3.10.2',
      module: 'image',
      args: { name: 'image-pause', version: '3.10.2', arch: 'amd64', sha256: KUBE[4]!.sha256, ref: 'registry.k8s.io/pause:3.10.2', id: id(5), address: '/run/containerd/containerd.sock', ctr: '/usr/local/bin/ctr' },
    });
    for (const t of role.tasks) expect(checkTask.Check(t), JSON.stringify([...checkTask.Errors(t)][0])).toBe(true);
    expect(role.handlers).toEqual([]);
  });

  it('without a version, takes the newest kube-apiserver image in the mirror (by version, not by text)', () => {
    const mirror = fakeMirror([...KUBE, img('kube-apiserver', 'v1.9.0', 8)]);
    expect(refs(mustRender('images', { controlPlane: true }, mirror))[1]).toBe('registry.k8s.io/kube-apiserver:v1.36.3');
  });

  it('gives a worker the pause and kube-proxy only; without kube-proxy in the mirror, the pause only', () => {
    expect(refs(mustRender('images', { kubernetesVersion: 'v1.36.3' }, fakeMirror(KUBE)))).toEqual(['registry.k8s.io/pause:3.10.2', 'registry.k8s.io/kube-proxy:v1.36.3']);
    const noProxy = fakeMirror(KUBE.filter((a) => a.name !== 'image-kube-proxy'));
    expect(refs(mustRender('images', { kubernetesVersion: '1.36.3' }, noProxy))).toEqual(['registry.k8s.io/pause:3.10.2']);
  });

  it('imports kube-proxy and CoreDNS only while their add-ons are on; CoreDNS at the newest version the mirror has', () => {
    const mirror = fakeMirror([...KUBE, { ...art('image-coredns', 'v1.14.2'), image: { ref: 'registry.k8s.io/coredns/coredns:v1.14.2', id: id(9) } }, { ...art('image-coredns', 'v1.9.3'), image: { ref: 'registry.k8s.io/coredns/coredns:v1.9.3', id: id(8) } }]);
    expect(refs(mustRender('images', { kubernetesVersion: '1.36.3' }, mirror))).toEqual(['registry.k8s.io/pause:3.10.2', 'registry.k8s.io/kube-proxy:v1.36.3', 'registry.k8s.io/coredns/coredns:v1.14.2']);
    expect(refs(mustRender('images', { kubernetesVersion: '1.36.3', kubeProxy: false, coreDns: false }, mirror))).toEqual(['registry.k8s.io/pause:3.10.2']);
  });

  it('matches the cluster version without its build metadata (a lab build of 1.36.3 runs the v1.36.3 images)', () => {
    expect(refs(mustRender('images', { kubernetesVersion: '1.36.3+ballast.lab', controlPlane: true }, fakeMirror(KUBE)))).toContain('registry.k8s.io/kube-apiserver:v1.36.3');
  });

  it('renders no task when the mirror holds no images for the host arch (kubelet pulls from the registry)', () => {
    expect(mustRender('images', { kubernetesVersion: '1.36.3', controlPlane: true }, fakeMirror([art('kubelet', '1.36.3')])).tasks).toEqual([]);
    const arm = fakeMirror(KUBE.map((a) => ({ ...a, arch: 'arm64' })));
    expect(mustRender('images', { kubernetesVersion: '1.36.3', controlPlane: true }, arm).tasks).toEqual([]);
  });

  it('lists every image a host needs that a mirror with images lacks', () => {
    const partial = fakeMirror(KUBE.filter((a) => a.name !== 'image-kube-scheduler' && a.version !== '3.10.2'));
    const r = renderRole('images', { host: HOST, vars: { kubernetesVersion: '1.36.3', controlPlane: true }, artifacts: partial });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['/vars/sandboxImage', '/artifacts/image-kube-scheduler']);
    expect(r.ok ? '' : r.problems[1]!.message).toMatch(/not image-kube-scheduler 1\.36\.3; import it/);
  });

  it('uses the pause the containerd role configures, and takes references only from the mirror', () => {
    expect(refs(mustRender('images', { sandboxImage: 'registry.k8s.io/pause:3.9' }, fakeMirror(KUBE)))[0]).toBe('registry.k8s.io/pause:3.9');
    expect(mustRender('containerd').tasks.find((t) => t.module === 'template')?.args).toMatchObject({ vars: { sandboxImage: DEFAULT_SANDBOX_IMAGE } });
    expect(DEFAULT_SANDBOX_IMAGE).toBe('registry.k8s.io/pause:3.10.2');
    // The pause kubeadm names for the catalogue's Kubernetes.
    expect(kubeadmImages('1.36.3')).toContain(DEFAULT_SANDBOX_IMAGE);
    for (const vars of [{ ref: 'evil.example/x:1' }, { socket: '/var/run/docker.sock' }, { ctr: '/tmp/ctr' }]) {
      const r = renderRole('images', { host: HOST, vars, artifacts: fakeMirror(KUBE) });
      expect(r.ok, JSON.stringify(vars)).toBe(false);
    }
  });
});
