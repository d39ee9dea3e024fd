#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian 12 packages tcpxd needs to build and test, if missing.
# With --systemd, also what "make check-systemd" needs: systemd-nspawn and
# mmdebstrap for the test container, debhelper and lintian for the package.
set -eu
pkgs="build-essential autoconf automake pkg-config libconfig-dev libsystemd-dev libmicrohttpd-dev check
      libssl-dev openssl python3 valgrind strace netcat-openbsd ncat socat haproxy groff-base mandoc
      util-linux telnet curl prometheus gnuplot-nox clamav-daemon clamdscan"
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
# ClamAV on its own: clamav-daemon's and clamav-freshclam's maintainer scripts start their
# services (through deb-systemd-invoke or invoke-rc.d, which ask policy-rc.d first).  The tests
# run a clamd of their own, and freshclam, without network, would keep retrying its downloads
# in the background.  So unless the system has a policy of its own (Docker's images deny every
# start), one written for that install alone denies every start (the services stay enabled).
clamav= others=
for p in $missing; do
  case "$p" in
    clamav-*|clamdscan) clamav="$clamav $p" ;;
    *) others="$others $p" ;;
  esac
done
[ -z "$others" ] || apt-get install -y -q --no-install-recommends $others
[ -n "$clamav" ] || exit 0
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  trap 'exit 1' HUP INT TERM
  printf '#!/bin/sh\n# tcpxd tests/install-deps.sh: no service starts while it installs ClamAV.\nexit 101\n' \
    > "$policy"
  chmod 755 "$policy"
fi
apt-get install -y -q --no-install-recommends $clamav
