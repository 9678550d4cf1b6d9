#!/bin/bash
# The newcomer's first command (as root): installs the lab's Debian packages, builds Ballast and
# its .deb packages, makes a lab of 3 systemd hosts, starts the controller, installs the agent
# package on every host, joins them and prints `ballastctl hosts`. The lab stays up for exploring:
#   scripts/lab status | scripts/lab ctl hosts | scripts/lab exec host1 journalctl -u ballast-agent
#   scripts/lab poweroff host2 | scripts/lab partition host3 | scripts/lab down
# Needs root, ~1.5 GB of disk (rootfs cache, build caches, packages) and the Debian mirror + npm
# registry. First run ~6–8 min (rootfs ~1 min, better-sqlite3 compile ~2 min, packaging); later ~1–2 min.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (network namespaces, mounts, systemd-nspawn)" >&2; exit 1; }
hosts="${1:-3}"

bash scripts/install-lab-deps.sh
# npm 10's ci: npm 11 rejects lockfiles with optional packages this registry lacks (npm/cli#9846).
[ -d node_modules ] || npx --yes npm@10 ci --no-audit --no-fund
npm run --silent build
bash scripts/package.sh --skip-build --if-stale
node dist/test/lab/tool/cli.js down
node dist/test/lab/tool/cli.js up --hosts "$hosts"
echo
echo "demo: the lab is up. Try: scripts/lab status, scripts/lab ctl hosts -o wide, scripts/lab poweroff host2; end with: scripts/lab down"
