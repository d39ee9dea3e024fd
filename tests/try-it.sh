#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installs what the build needs, builds tcpxd, writes a ready configuration
# (the shipped etc/tcpxd.conf: echo on 127.0.0.1:7007, uploads on [::1]:7008,
# stored in ./run/inbox of the source tree) and runs the daemon in the
# foreground.  Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tests/install-deps.sh"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build/plain run/inbox
cd build/plain
[ -f Makefile ] || "$top/configure" -q
make -j"$(nproc)" >/dev/null
# The shipped etc/tcpxd.conf, as a package installs it, with only the upload
# directory moved into the source tree: the README's tour runs against it.
sed 's|"/var/lib/tcpxd/inbox"|"'"$top"'/run/inbox"|' "$top/etc/tcpxd.conf" > "$top/run/tcpxd.conf"
chmod 0644 "$top/run/tcpxd.conf"
echo "tcpxd: echo on 127.0.0.1:7007, uploads on [::1]:7008 into $top/run/inbox" >&2
exec "$top/build/plain/src/tcpxd" -c "$top/run/tcpxd.conf"
