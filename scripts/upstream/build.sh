#!/usr/bin/env bash
# Builds upstream Kubernetes and etcd from their Go modules (the Go module proxy is the only place
# these machines can get them), pinned by the go.mod/go.sum beside this script, into a cache keyed by
# version outside the repo:
#   /var/cache/ballast/kube/v<K8S>/bin/{kubeadm,kubectl,kubelet,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}
#   /var/cache/ballast/kube/v<K8S>/bin/pause   (Ballast's own pause, scripts/upstream/pause: no upstream code)
#   /var/cache/ballast/etcd/v<ETCD>/bin/{etcd,etcdctl,etcdutl}
#   /var/cache/ballast/crictl/v<CRICTL>/bin/crictl
# A binary already in the cache is not built again. The version ldflags are those of upstream's
# hack/lib/version.sh, so `kubeadm version` and `kubelet --version` print the real version and
# kubeadm's version checks pass (without them it is v0.0.0-master). etcd's version is a constant.
#
# Usage: scripts/upstream/build.sh [--only kube|etcd|crictl|pause] [--cache DIR]
#   --only pause builds just the pause (seconds); `kube` includes it.
# Measured on the 2-core development machine (2026-12-07): a cold Kubernetes build is ~530 s user +
# ~100 s system CPU (it ran 35 min wall at nice 19 beside other work), peak RSS ~2 GB; etcd 3.5.33
# 34 s user + 7 s system CPU, 54 s wall at nice 19, peak RSS 370 MB (modules already downloaded).
# The versions are those of the catalogue (controller/src/artifacts/catalogue.ts): Kubernetes
# 1.36.3, etcd 3.5.33. To move one, make its go.mod afresh so the other modules are the ones that
# release requires, e.g. for etcd: in etcd/, remove go.mod and go.sum, `go mod init
# ballast.invalid/upstream/etcd`, `go mod edit -go=1.26.0`, `GOFLAGS=-mod=mod go get
# go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3@vX.Y.Z`, `GOFLAGS=-mod=mod go mod tidy`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=/var/cache/ballast
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v go >/dev/null || { echo "build.sh: go is not installed (Go 1.26 is needed)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

# The pinned versions are read from go.mod, so the module is the one place that names them.
# (`require X v` on one line, or `X v` inside a require block; never a `replace` line.)
pinned() { awk -v m="$1" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$2"; }
kube_version=$(pinned k8s.io/kubernetes "$here/kube/go.mod")
etcd_version=$(pinned go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
crictl_version=$(pinned sigs.k8s.io/cri-tools "$here/crictl/go.mod")
case "$kube_version$etcd_version" in *v*v*) ;; *) echo "build.sh: cannot read the pinned versions from go.mod (kube '$kube_version', etcd '$etcd_version')" >&2; exit 1 ;; esac

build() { # $1 = module dir, $2 = output file, $3 = package, $4 = ldflags
  if [ -x "$2" ]; then echo "build.sh: $2 is cached"; return; fi
  local started; started=$(date +%s)
  mkdir -p "$(dirname "$2")"
  (cd "$1" && go build -trimpath -ldflags "-s -w $4" -o "$2.tmp" "$3")
  mv "$2.tmp" "$2"
  echo "build.sh: built $(basename "$2") in $(( $(date +%s) - started )) s"
}

case "$only" in ""|kube|etcd|crictl|pause) ;; *) echo "build.sh: --only takes kube, etcd, crictl or pause, not '$only'" >&2; exit 2 ;; esac

if [ -z "$only" ] || [ "$only" = kube ] || [ "$only" = pause ]; then
  # Beside the Kubernetes binaries: the image builder packs it with the control-plane images.
  build "$here/pause" "$cache/kube/$kube_version/bin/pause" . ""
fi
if [ -z "$only" ] || [ "$only" = kube ]; then
  minor=${kube_version#v1.}; minor=${minor%%.*}
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld="$ld -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in kubeadm kubectl kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    build "$here/kube" "$cache/kube/$kube_version/bin/$c" "k8s.io/kubernetes/cmd/$c" "$ld"
  done
  "$cache/kube/$kube_version/bin/kubeadm" version -o short
fi
if [ -z "$only" ] || [ "$only" = etcd ]; then
  build "$here/etcd" "$cache/etcd/$etcd_version/bin/etcd" go.etcd.io/etcd/server/v3 ""
  build "$here/etcd" "$cache/etcd/$etcd_version/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3 ""
  build "$here/etcd" "$cache/etcd/$etcd_version/bin/etcdutl" go.etcd.io/etcd/etcdutl/v3 ""
  "$cache/etcd/$etcd_version/bin/etcd" --version | sed -n 1p  # sed reads to the end: head would close the pipe and, under pipefail, fail the build with SIGPIPE (exit 141)
fi
if [ -z "$only" ] || [ "$only" = crictl ]; then
  build "$here/crictl" "$cache/crictl/$crictl_version/bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl "-X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version"
  "$cache/crictl/$crictl_version/bin/crictl" --version
fi
