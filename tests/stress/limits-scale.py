# SPDX-License-Identifier: ISC
"""Limits at scale (docs/RELIABILITY.md, check 3): after N sequential
connections (10,000; TCPXD_STRESS_CONNS overrides) the daemon's descriptor
count (/proc/PID/fd) and thread count (/proc/PID/task) are back to their
baseline and its RSS grew by less than 1 %.

The baseline is taken once the daemon is idle after a warm-up: three bursts
of 64 concurrent echo connections, then 1,000 sequential connections of the
mix.  glibc creates its malloc arenas (up to 8 per core) lazily, the first
time connection threads contend for one; each new arena adds 70-150 KiB of
RSS that stays.  Without the concurrent bursts, sequential connections
overlap just enough to create one now and then: RSS rises by ~150 KiB over
the first ~3,000 connections and is flat after that (measured up to 18,000),
a staircase, not a slope.  The bursts create every arena up front, so what
the check measures afterwards is leaks.  The mix: echo of 1-4096 bytes, raw uploads,
framed uploads, refused uploads (ERR 413, which go through the drain
thread), and connections closed with a reset mid-upload.  Uploads go to a
tmpfs so that fsync does not dominate.  Prints one FIGURE line."""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib  # noqa: E402
from stresslib import Daemon, framed, inbox, proc_counts  # noqa: E402
from tcpxdtest import check_ok, connect, echo, upload  # noqa: E402

N = int(os.environ.get("TCPXD_STRESS_CONNS", "10000" if stresslib.LONG else "2000"))
FIGURES = []


def one(d, rnd, i):
    kind = i % 5
    if kind == 0 or kind == 1:
        data = rnd.randbytes(rnd.randrange(1, 4097))
        assert echo(d.addr("echo"), data) == data
    elif kind == 2:
        data = rnd.randbytes(rnd.randrange(1, 20000))   # without a byte nothing is stored
        check_ok(d, upload(d.addr("inbox"), data), data)
    elif kind == 3:
        if i % 2:
            data = rnd.randbytes(rnd.randrange(0, 20000))
            check_ok(d, upload(d.addr("inbox"), framed("f%06d" % i, data)), data)
        else:
            assert upload(d.addr("inbox"), b"x" * 70000) == \
                "ERR 413 file exceeds max_file_size\n"
    else:
        s = connect(d.addr("inbox"))
        s.sendall(b"partial")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def settle(d, finished):
    """Waits until every connection so far has logged its end and the daemon is idle."""
    d.wait_log(r"^.*conn listener=.* result=", count=finished, timeout=120)
    time.sleep(3)   # the drain thread lets refused clients go within ~2 s


def test_fd_thread_rss_back_to_baseline():
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-scale-"), start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "max_file_size": "64K"},
    ], log_level="info", max_per_ip=1000)   # a burst's threads may still be ending at the next
    d.start()
    rnd = random.Random(7)
    pid = stresslib.daemon_pid(d)
    rss_start = proc_counts(pid)[2]
    warm = 1000
    for burst in range(3):
        # 64 connections served at once: every malloc arena the daemon will use exists now.
        held = [connect(d.addr("echo")) for _ in range(64)]
        for s in held:
            s.sendall(b"x" * 1000)
        for s in held:
            assert s.recv(1000, socket.MSG_WAITALL) == b"x" * 1000
            s.close()
    for i in range(warm):
        one(d, rnd, i)
    warm += 3 * 64
    settle(d, warm)
    fd0, th0, rss0 = proc_counts(pid)
    t0 = time.monotonic()
    peak_th = th0
    for i in range(N):
        one(d, rnd, warm + i)
        if i % 500 == 0:
            peak_th = max(peak_th, proc_counts(pid)[1])
    elapsed = time.monotonic() - t0
    settle(d, warm + N)
    fd1, th1, rss1 = proc_counts(pid)
    growth = 100.0 * (rss1 - rss0) / rss0
    FIGURES.append("limits at scale: %d sequential connections in %.0f s: descriptors %d -> %d, "
                   "threads %d -> %d (peak seen %d), RSS %d KiB -> %d KiB (%+.2f %%); "
                   "warm-up of %d connections took RSS from %d KiB to %d KiB"
                   % (N, elapsed, fd0, fd1, th0, th1, peak_th, rss0, rss1, growth,
                      warm, rss_start, rss0))
    assert fd1 == fd0, "descriptor leak: %d -> %d" % (fd0, fd1)
    assert th1 == th0, "thread leak: %d -> %d" % (th0, th1)
    assert growth < 1.0, "RSS grew %.2f %%" % growth
    assert d.stop() == 0


stresslib.run_and_report([test_fd_thread_rss_back_to_baseline], FIGURES)
