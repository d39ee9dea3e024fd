# SPDX-License-Identifier: ISC
"""Helpers shared by the reliability checks in tests/stress/ and tests/fault/
(docs/RELIABILITY.md).  They build on the integration harness,
tests/integration/tcpxdtest.py, which this module puts on sys.path."""

import hashlib
import os
import re
import socket
import sys
import tempfile
import time

_here = os.path.dirname(os.path.abspath(__file__))
_src = os.environ.get("TCPXD_SRCDIR") or os.path.dirname(os.path.dirname(_here))
sys.path.insert(0, os.path.join(_src, "tests", "integration"))

import tcpxdtest  # noqa: E402  (path set above)
from tcpxdtest import Daemon, inbox  # noqa: E402,F401

SIG = b"\x89TCPX\r\n\x1a"
SRCDIR = _src
BUILDDIR = os.environ.get("TCPXD_BUILDDIR", "")
# Long variants (make check-stress) set TCPXD_STRESS=long.
LONG = os.environ.get("TCPXD_STRESS", "") == "long"


def framed(name, data):
    return SIG + b"1 %d %s\n" % (len(data), name.encode()) + data


def sha(data):
    return hashlib.sha256(data).hexdigest()


def fast_dir(prefix):
    """A test directory on tmpfs when there is one (fsync costs nothing there),
    so that thousands of uploads fit in a short test."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def proc_counts(pid):
    """(open descriptors, threads, RSS in KiB) of a process."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    tasks = len(os.listdir("/proc/%d/task" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, tasks, rss


def daemon_pid(d):
    """The tcpxd process itself (the child of a launcher, if one is used)."""
    return d.proc.pid


def raise_nofile(n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(n, soft), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def conn_results(d):
    """result= words of every finished connection in the daemon's log."""
    return re.findall(r"^.*conn listener=\S+ .*result=(\S+)", d.log(), re.M)


def results_text(d):
    """"aborted-reset 400, ok 1021, ...": how many connections ended with each result."""
    results = conn_results(d)
    return ", ".join("%s %d" % (k, results.count(k)) for k in sorted(set(results)))


def run_and_report(tests, figures):
    """Runs the tests, then prints every FIGURE line they added and the elapsed time."""
    t0 = time.monotonic()
    try:
        tcpxdtest.run(tests)
    finally:
        for line in figures:
            print("FIGURE " + line)
        print("elapsed %.1f s" % (time.monotonic() - t0))


def sanitized():
    """The name of the sanitizer the daemon is built with, or None."""
    if tcpxdtest.SANITIZER not in ("", "none"):
        return tcpxdtest.SANITIZER
    if tcpxdtest.LAUNCHER:
        return "launcher"
    return None


def connect_nb(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(tcpxdtest.WAIT)
    s.connect(addr)
    return s
