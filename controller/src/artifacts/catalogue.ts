/**
 * The built-in versions catalogue for `ballastctl artifacts fetch`: one pinned, checksummed upstream
 * download per component, for linux/amd64.
 *
 * Source of every sha256 and URL pattern: kubespray, kubernetes-sigs/kubespray commit
 * 46dbdd3994b32640bcd806b0097f50e8fdf1d514 (v2.31.0-96, 2026-08-21),
 * `roles/kubespray_defaults/vars/main/checksums.yml` (`kubelet_checksums`, `kubeadm_checksums`,
 * `kubectl_checksums`, `crictl_checksums`, `etcd_binary_checksums`, `containerd_archive_checksums`,
 * `runc_checksums`, key `amd64`, then the version) and the `*_download_url`s of
 * `roles/kubespray_defaults/defaults/main/download.yml`. The one exception is cni-plugins 1.4.0,
 * which that file no longer lists: its pin is from kubespray v2.26.0, commit
 * 011b76d5c5c190101fffe57bfbd5e9346e62c0a5, `roles/kubespray-defaults/defaults/main/checksums.yml`
 * (`cni_binary_checksums.amd64['v1.4.0']`). Kubespray in turn takes them from the upstream release
 * checksum files.
 *
 * The versions are ours, not kubespray's defaults for that commit:
 * - Kubernetes 1.36.3 and crictl 1.36.0 (crictl follows the Kubernetes minor): the version the lab
 *   builds from source (`scripts/upstream/build.sh`), so the lab runs what users fetch (issue 11).
 * - etcd 3.5.33: the 3.5 line, which kubeadm 1.36 accepts as external etcd (its minimum is 3.5.24)
 *   and which the lab builds too; kubespray would pick 3.6.
 * - containerd 1.7.22, runc 1.1.13, cni-plugins 1.4.0: unchanged from the previous catalogue
 *   (kubespray v2.26.0). containerd 1.7 satisfies Kubernetes 1.36 (kubeadm 1.36 warns only about
 *   containerd older than 1.7, which 1.37 will require), and moving to containerd 2.x changes its
 *   config format, which the containerd role renders — a separate change.
 *
 * Versions here drop the leading "v" so that names read the same across components; the URLs keep
 * it. A version with build metadata (`1.36.3+ballast.standin`) is never in this catalogue: it names
 * a different build (shared/src/version-compare.ts), so it can never match one of these pins.
 *
 * To pin other versions, an admin passes a catalogue file of the same shape: `artifacts fetch
 * --catalogue FILE`; its URLs must be https on the controller's `--artifact-upstream` hosts, whose
 * default is derived from the URLs here (upstream.ts).
 */
import type { Catalogue } from '../../../shared/src/artifacts-api.js';

const KUBE = 'v1.36.3';
const dlK8s = (bin: string) => `https://dl.k8s.io/release/${KUBE}/bin/linux/amd64/${bin}`;

/** The default catalogue (kubespray's pins, linux/amd64): Kubernetes 1.36.3, etcd 3.5.33. */
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
    version: '1.36.0',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz',
    sha256: '83855e114566a8a8c44c548d515670f51de3a5e1da8b2effb59870e2f10c25a3',
  },
  {
    name: 'etcd',
    version: '3.5.33',
    os: 'linux',
    arch: 'amd64',
    url: 'https://github.com/etcd-io/etcd/releases/download/v3.5.33/etcd-v3.5.33-linux-amd64.tar.gz',
    sha256: '5025b5b24d81a9616b6e284ccd439b9a3df055ef8fdcdc142af3ec8f6a3b3c95',
  },
  {
    name: 'kubelet',
    version: '1.36.3',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubelet'),
    sha256: '46707a53209f826ad0f0d62371ac69cd00e78fd9a8176cf5f6f87f18f7f8b718',
  },
  {
    name: 'kubeadm',
    version: '1.36.3',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubeadm'),
    sha256: 'bba1733c701bf70ec74ba1cc3fd5745404c1134a8a4b0a5f8560cc9832023421',
  },
  {
    name: 'kubectl',
    version: '1.36.3',
    os: 'linux',
    arch: 'amd64',
    url: dlK8s('kubectl'),
    sha256: 'ebbd080e7c2e275093b55915722043257eb24004363e20acb3c4d71919f88336',
  },
];
