# SPDX-License-Identifier: ISC
"""Hostile configuration (docs/RELIABILITY.md, check 6a): every file in
tests/stress/bad-configs/ is wrong in one way, said by its first line:

    # <what is wrong>; expect: <LINE>: <reason substring>

`tcpxd -t -c FILE` must exit 1, print nothing on stdout and print
"FILE:LINE: reason" on stderr; starting the daemon on it must fail the
same way, before binding anything.  Placeholders @INBOX@ (an empty
writable directory), @MISSING@ (a path that does not exist) and @FILE@ (a
regular file) are replaced before the run."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

TCPXD = os.environ.get("TCPXD", "tcpxd")
HERE = os.path.join(os.environ.get("TCPXD_SRCDIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")), "tests", "stress", "bad-configs")
LAUNCHER = tuple(os.environ.get("TCPXD_LAUNCHER", "").split())


def main():
    tmp = tempfile.mkdtemp(prefix="tcpxd-badconf-")
    try:
        os.makedirs(os.path.join(tmp, "inbox"))
        open(os.path.join(tmp, "afile"), "w").close()
        subs = {"@INBOX@": os.path.join(tmp, "inbox"), "@MISSING@": os.path.join(tmp, "missing"),
                "@FILE@": os.path.join(tmp, "afile")}
        files = sorted(f for f in os.listdir(HERE) if f.endswith(".conf"))
        failed = []
        for name in files:
            with open(os.path.join(HERE, name)) as f:
                text = f.read()
            for k, v in subs.items():
                text = text.replace(k, v)
            m = re.match(r"# .*; expect: (\d+): (.*)\n", text)
            if not m:
                failed.append("%s: first line lacks '# ...; expect: LINE: reason'" % name)
                continue
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            want = "%s:%s: %s" % (path, m.group(1), m.group(2))
            for argv in ((TCPXD, "-t", "-c", path), (*LAUNCHER, TCPXD, "-c", path)):
                p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                if p.returncode != 1 or want not in p.stderr or p.stdout:
                    failed.append("%s: %s exited %d, stderr %r, stdout %r; wanted exit 1 and %r"
                                  % (name, " ".join(argv[-3:]), p.returncode, p.stderr,
                                     p.stdout[:80], want))
        print("FIGURE bad configuration corpus: %d files, %d exit 1 with FILE:LINE: reason "
              "(-t and start-up), %d failures" % (len(files), len(files) - len(failed),
                                                   len(failed)))
        for f in failed:
            print("FAIL " + f)
        assert len(files) >= 40, "corpus has only %d files" % len(files)
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


sys.exit(main())
