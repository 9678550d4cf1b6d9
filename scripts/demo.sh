#!/bin/bash
# The newcomer's first command (as root): Ballast's main job on this machine — highly-available
# Kubernetes 1.36 on 5 lab hosts (systemd-nspawn, each a real systemd with its own network
# namespace): 3 etcd + control-plane hosts behind a virtual IP, 2 workers.
#   1. installs the lab's Debian packages, builds Ballast and its .deb packages;
#   2. builds Kubernetes v1.36.3, etcd 3.5.33, crictl and a pause image binary from their Go modules
#      (scripts/upstream/build.sh; cold ~10–15 min and ~2 GB of memory on 2 cores, then cached);
#   3. brings up the lab: a controller and 5 hosts, the agent package installed and joined on each;
#   4. puts the artifacts and container images into the controller's mirror (one signed bundle,
#      `scripts/lab bundle`) and runs `ballastctl cluster create` with live progress;
#   5. prints `kubectl get nodes` through the VIP (with a kubeconfig from `ballastctl cluster
#      kubeconfig`) and `ballastctl vip status`.
# The lab stays up for exploring; the README's "Try it" shows how to kill the VIP holder and watch
# the VIP move. End with: scripts/lab down.   Usage: scripts/demo.sh [HOSTS] (default 5, at least 2)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (network namespaces, mounts, systemd-nspawn)" >&2; exit 1; }
hosts="${1:-5}"
[ "$hosts" -ge 2 ] 2>/dev/null || { echo "demo: HOSTS must be a number ≥ 2 (control planes + at least one worker)" >&2; exit 2; }
control_planes=$(( hosts >= 5 ? 3 : 1 ))
started=$(date +%s)

bash scripts/install-lab-deps.sh
# npm 10's ci: npm 11 rejects lockfiles with optional packages this registry lacks (npm/cli#9846).
[ -d node_modules ] || npx --yes npm@10 ci --no-audit --no-fund
npm run --silent build
bash scripts/package.sh --skip-build --if-stale
command -v go >/dev/null || { echo "demo: Go (1.26) is needed to build Kubernetes from its Go modules" >&2; exit 1; }
echo "demo: building Kubernetes, etcd and crictl from source (cached after the first run)"
bash scripts/upstream/build.sh
node dist/test/lab/tool/cli.js down
node dist/test/lab/tool/cli.js up --hosts "$hosts"
node dist/test/lab/tool/cli.js cluster --control-planes "$control_planes"
echo
echo "demo: done in $(( $(date +%s) - started )) s. Real Kubernetes is running on the lab; try:"
echo "  scripts/lab ctl cluster status lab        scripts/lab ctl vip status"
echo "  scripts/lab poweroff host1 && sleep 5 && scripts/lab ctl vip status   (the VIP moves to another control plane)"
echo "  scripts/lab poweron host1                 scripts/lab down   (tear everything down)"
