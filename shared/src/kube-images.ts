/**
 * The container images kubeadm needs for a Kubernetes version, in one place. Source: the real
 * kubeadm's `kubeadm config images list --kubernetes-version v1.36.3` (built from k8s.io/kubernetes
 * v1.36.3), which prints kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy
 * (all tagged with the Kubernetes version), coredns/coredns:v1.14.2, pause:3.10.2 and etcd:3.6.8-0.
 * etcd is left out: Ballast runs etcd as an external cluster from the `etcd` binary artifact.
 *
 * The control-plane images follow the Kubernetes version; pause and CoreDNS are pinned per minor
 * (kubeadm's constants.go), so a minor without an entry here is refused rather than guessed.
 */

/** Registry all of kubeadm's default images come from. */
export const KUBE_IMAGE_REGISTRY = 'registry.k8s.io';

/** pause and CoreDNS tags kubeadm uses, by Kubernetes minor ("1.36"). */
const PER_MINOR: Readonly<Record<string, { pause: string; coredns: string }>> = {
  '1.36': { pause: '3.10.2', coredns: 'v1.14.2' },
};

/** The minors {@link kubeadmImages} knows. */
export const KNOWN_KUBE_MINORS: readonly string[] = Object.keys(PER_MINOR);

/**
 * Image references kubeadm pulls for `version` ("1.36.3" or "v1.36.3"), without etcd; null when
 * the minor is not known here.
 */
export function kubeadmImages(version: string): string[] | null {
  const v = version.replace(/^v/, '');
  const m = /^(\d+)\.(\d+)\.\d+$/.exec(v);
  const pins = m === null ? undefined : PER_MINOR[`${m[1]}.${m[2]}`];
  if (pins === undefined) return null;
  const r = KUBE_IMAGE_REGISTRY;
  return [
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((c) => `${r}/${c}:v${v}`),
    `${r}/coredns/coredns:${pins.coredns}`,
    `${r}/pause:${pins.pause}`,
  ];
}
