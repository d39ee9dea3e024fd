#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installs what the build needs, builds tcpxd, writes a ready configuration
# (echo on 127.0.0.1:7007, uploads on 127.0.0.1:7008 stored in ./run/inbox of
# the source tree) and runs the daemon in the foreground.  Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tests/install-deps.sh"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build/plain run/inbox
cd build/plain
[ -f Makefile ] || "$top/configure" -q
make -j"$(nproc)" >/dev/null
cat > "$top/run/tcpxd.conf" <<CONF
# Written by tests/try-it.sh: loopback only, uploads kept in the source tree.
log_level = "info";
listeners = (
  { name = "echo";  mode = "echo";    address = "127.0.0.1"; port = 7007; },
  { name = "inbox"; mode = "receive"; address = "127.0.0.1"; port = 7008;
    output_dir = "$top/run/inbox"; max_file_size = "1G"; min_free_space = "64M"; }
);
CONF
chmod 0644 "$top/run/tcpxd.conf"
echo "tcpxd: echo on 127.0.0.1:7007, uploads on 127.0.0.1:7008 into $top/run/inbox" >&2
exec "$top/build/plain/src/tcpxd" -c "$top/run/tcpxd.conf"
