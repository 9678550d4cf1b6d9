/**
 * The built-in versions catalogue for `ballastctl artifacts fetch`: one pinned, checksummed upstream
 * download per component, for linux/amd64.
 *
 * Source of every version, URL pattern and sha256: kubespray v2.26.0's defaults,
 * kubernetes-sigs/kubespray commit 011b76d5c5c190101fffe57bfbd5e9346e62c0a5,
 * `roles/kubespray-defaults/defaults/main/download.yml` (kube_version v1.30.4 and the versions and
 * `*_download_url`s pinned for it) and `roles/kubespray-defaults/defaults/main/checksums.yml`
 * (`kubelet_checksums`, `kubeadm_checksums`, `kubectl_checksums`, `etcd_binary_checksums`,
 * `containerd_archive_checksums`, `runc_checksums`, `cni_binary_checksums`, `crictl_checksums`,
 * key `amd64`). Kubespray in turn takes them from the upstream release checksum files. Versions
 * here drop the leading "v" so that names read the same across components; the URLs keep it.
 *
 * To pin other versions, an admin passes a catalogue file of the same shape: `artifacts fetch
 * --catalogue FILE`; its URLs must be https on the controller's `--artifact-upstream` hosts, whose
 * default is derived from the URLs here (upstream.ts).
 */
import type { Catalogue } from '../../../shared/src/artifacts-api.js';

const KUBE = 'v1.30.4';
const dlK8s = (bin: string) => `https://dl.k8s.io/release/${KUBE}/bin/linux/amd64/${bin}`;

/** The default catalogue (kubespray v2.26.0 pins, linux/amd64). */
export const DEFAULT_CATALOGUE: Catalogue = [
  {
    name: 'containerd',
    version: '1.7.22',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-amd64.tar.gz',
    sha256: 'f8b2d935d1f86003f4e0c1af3b9f0d2820bacabe6dc9f562785b74af24c5e468',
  },
  {
    name: 'runc',
    version: '1.1.13',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/opencontainers/runc/releases/download/v1.1.13/runc.amd64',
    sha256: 'bcfc299c1ab255e9d045ffaf2e324c0abaf58f599831a7c2c4a80b33f795de94',
  },
  {
    name: 'cni-plugins',
    version: '1.4.0',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz',
    sha256: 'c2485ddb3ffc176578ae30ae58137f0b88e50f7c7f2af7d53a569276b2949a33',
  },
  {
    name: 'crictl',
    version: '1.30.0',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.30.0/crictl-v1.30.0-linux-amd64.tar.gz',
    sha256: '3dd03954565808eaeb3a7ffc0e8cb7886a64a9aa94b2bfdfbdc6e2ed94842e49',
  },
  {
    name: 'etcd',
    version: '3.5.12',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/etcd-io/etcd/releases/download/v3.5.12/etcd-v3.5.12-linux-amd64.tar.gz',
    sha256: 'f2ff0cb43ce119f55a85012255609b61c64263baea83aa7c8e6846c0938adca5',
  },
  {
    name: 'kubelet',
    version: '1.30.4',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubelet'),
    sha256: '0c02c0f997b3e9769eae7ca051856054411fca947b3d5409d991ce1964dd0e69',
  },
  {
    name: 'kubeadm',
    version: '1.30.4',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubeadm'),
    sha256: '6c6053fb8b31030ef7fffe146eb29489f7bf53d7a5ca10e0b10c907bf4b7e281',
  },
  {
    name: 'kubectl',
    version: '1.30.4',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubectl'),
    sha256: '2ffd023712bbc1a9390dbd8c0c15201c165a69d394787ef03eda3eccb4b9ac06',
  },
];
