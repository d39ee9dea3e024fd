#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian 12 packages tcpxd needs to build and test, if missing.
# With --systemd, also what "make check-systemd" needs: systemd-nspawn and
# mmdebstrap for the test container, debhelper and lintian for the package.
set -eu
pkgs="build-essential autoconf automake pkg-config libconfig-dev libsystemd-dev libmicrohttpd-dev check
      libssl-dev openssl python3 valgrind strace netcat-openbsd ncat socat haproxy groff-base mandoc
      util-linux telnet curl prometheus gnuplot-nox"
if [ "${1:-}" = --systemd ]; then
  pkgs="$pkgs systemd systemd-container mmdebstrap debhelper dpkg-dev fakeroot lintian"
fi
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
