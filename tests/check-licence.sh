#!/bin/sh
# SPDX-License-Identifier: ISC
# Every source file of the distribution names its licence (ISC, LICENSE) in
# an SPDX-License-Identifier line near its top, and LICENSE is shipped.
set -u
top=${TCPXD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 99
status=0
if ! grep -q '^ISC License' LICENSE; then
  echo "LICENSE is missing or not the ISC licence"
  status=1
fi
dirs=$(for d in src tests fuzz bench man m4 systemd etc debian .ci; do [ -d "$d" ] && echo "$d"; done)
for f in $(find $dirs \
    -path tests/stress/bad-configs -prune -o -path tests/unit/data -prune -o \
    -path fuzz/corpus -prune -o -path debian/source -prune -o \
    -type f \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' \
    -o -name '*.mk' -o -name '*.[158]' -o -name '*.in' -o -name '*.socket' \
    -o -name '*.conf' -o -name '*.m4' -o -name run -o -name rules \) -print) \
    Makefile.am configure.ac; do
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: ISC'; then
    echo "$f: no SPDX-License-Identifier: ISC line in its first three lines"
    status=1
  fi
done
[ $status -eq 0 ] && echo "every source file carries SPDX-License-Identifier: ISC"
exit $status
