#!/bin/sh
# Installs the Debian packages the lab, the packaging and the unit-file tests need.
# Idempotent and non-interactive: CI calls it on every run; a second run installs nothing.
set -eu

# systemd: systemd-analyze and systemd-notify (unit and sd_notify tests); systemd-container:
# systemd-nspawn; debootstrap: the hosts' rootfs; dpkg-dev: dpkg-deb and friends; python3, make, g++:
# compiling better-sqlite3 against the bundled Node headers; openssl: the install.sh tests;
# chromium: the web UI browser tests (playwright-core drives it);
# prometheus: promtool and the server for the shipped alert rules and dashboard tests;
# docker-registry: a real OCI registry for the `artifacts bundle` image tests; containerd: a real
# containerd (started privately by tests) to import image archives into; python3-venv: a private
# virtualenv for moto's S3 server and sushy-tools' Redfish emulator (below).
PKGS="systemd systemd-container debootstrap iproute2 iputils-ping iputils-arping dpkg-dev \
ca-certificates openssl python3 python3-venv make g++ procps util-linux prometheus docker-registry containerd chromium"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-lab-deps: must run as root (apt-get install)" >&2
  exit 1
fi

missing=""
for p in $PKGS; do
  # dpkg-query prints "install ok installed" only for a fully installed package
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

# moto's S3-compatible server for the snapshot off-host copy tests (test/integration/
# etcd-snapshot-agent.test.ts), from PyPI into its own virtualenv (Debian's Python refuses pip
# installs into the system), linked as /usr/local/bin/moto_server. Skipped when one is on PATH.
install_moto() {
  if command -v moto_server >/dev/null 2>&1; then return 0; fi
  echo "install-lab-deps: installing moto[server] into /opt/ballast-test/moto"
  python3 -m venv /opt/ballast-test/moto
  /opt/ballast-test/moto/bin/pip install -q 'moto[server]'
  ln -sf /opt/ballast-test/moto/bin/moto_server /usr/local/bin/moto_server
}

# sushy-tools' Redfish emulator (OpenStack) for the fence agent's test against a Redfish service
# that is not ours (test/integration/fence-redfish.test.ts), pinned to the version it was proven
# with, into its own virtualenv, linked as /usr/local/bin/sushy-emulator. Skipped when present.
SUSHY_VERSION=2.2.0
install_sushy() {
  if [ -x /opt/ballast-test/sushy-tools/bin/sushy-emulator ] || command -v sushy-emulator >/dev/null 2>&1; then return 0; fi
  echo "install-lab-deps: installing sushy-tools $SUSHY_VERSION into /opt/ballast-test/sushy-tools"
  python3 -m venv /opt/ballast-test/sushy-tools
  /opt/ballast-test/sushy-tools/bin/pip install -q "sushy-tools==$SUSHY_VERSION"
  ln -sf /opt/ballast-test/sushy-tools/bin/sushy-emulator /usr/local/bin/sushy-emulator
}

if [ -z "$missing" ]; then
  echo "install-lab-deps: all packages present"
  install_moto
  install_sushy
  exit 0
fi

echo "install-lab-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Installing packages must not start services on a machine without systemd as PID 1.
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing

# Debian's prometheus package enables and starts its service where systemd is PID 1. The tests run
# their own Prometheus on a loopback port; a packaged one would hold :9090 and scrape nothing.
case " $missing " in
  *" prometheus "*)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus.service
    fi
    ;;
esac

install_moto
install_sushy
