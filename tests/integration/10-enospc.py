# SPDX-License-Identifier: ISC
"""A full disk: uploads into a tiny tmpfs get "ERR 507 insufficient storage",
leave no file, and the next upload succeeds once space is freed; and
min_free_space refuses an upload that would leave less than it free.
Needs root (mount); skipped otherwise."""

import os
import subprocess
import sys

from tcpxdtest import Daemon, check_ok, run, upload

if os.geteuid() != 0:
    print("not root: cannot mount a tmpfs; skipping")
    sys.exit(77)


def mounted_daemon(size, **extra):
    d = Daemon([], start=False)
    small = os.path.join(d.dir, "small")
    os.makedirs(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tcpxd-test", small],
                   check=True)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": small, **extra}])
    d.start()
    return d, small


def unmount(d, small):
    d.kill()
    subprocess.run(["umount", small], check=True)


def test_enospc_then_recovery():
    d, small = mounted_daemon("1M", min_free_space=0)
    try:
        filler = os.path.join(small, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (600 << 10))
        data = os.urandom(600 << 10)
        assert upload(d.addr("inbox"), data) == "ERR 507 insufficient storage\n"
        d.wait_log(r"result=refused-disk-full")
        assert sorted(os.listdir(small)) == ["filler"]
        os.unlink(filler)
        name = check_ok(d, upload(d.addr("inbox"), data), data, subdir="small")
        assert os.listdir(small) == [name]
        assert d.stop() == 0
    finally:
        unmount(d, small)


def test_min_free_space():
    d, small = mounted_daemon("4M", min_free_space="8M")
    try:
        assert upload(d.addr("inbox"), b"tiny") == "ERR 507 insufficient storage\n"
        d.wait_log(r"result=refused-low-space")
        assert os.listdir(small) == []
        assert d.stop() == 0
    finally:
        unmount(d, small)


run([test_enospc_then_recovery, test_min_free_space])
