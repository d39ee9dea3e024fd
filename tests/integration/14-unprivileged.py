# SPDX-License-Identifier: ISC
"""An unprivileged daemon without capabilities (as under systemd's
DynamicUser=) stores uploads owned by its user: kernels before 6.10 refuse
linkat(AT_EMPTY_PATH) without CAP_DAC_READ_SEARCH, and the store then
publishes through /proc/self/fd.  Needs root to switch to the nobody
user; skipped otherwise."""

import os
import pwd
import shutil
import sys

from tcpxdtest import Daemon, check_ok, inbox, run, upload

if os.geteuid() != 0 or shutil.which("setpriv") is None:
    print("needs root and setpriv: skipping")
    sys.exit(77)


def test_upload_as_nobody():
    nobody = pwd.getpwnam("nobody")
    d = Daemon([], start=False)
    os.chmod(d.dir, 0o755)
    box = inbox(d)
    os.chown(box, nobody.pw_uid, nobody.pw_gid)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": box}])
    open(d.logpath, "ab").close()
    d.start(launcher=("setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                      "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"))
    for data in (b"stored by nobody", os.urandom(3 << 20)):
        name = check_ok(d, upload(d.addr("inbox"), data), data)
        st = os.stat(os.path.join(box, name))
        assert st.st_uid == nobody.pw_uid, st
    assert d.stop() == 0


run([test_upload_as_nobody])
