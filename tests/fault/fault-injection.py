# SPDX-License-Identifier: ISC
"""Injected I/O faults (docs/RELIABILITY.md, check 2).  The daemon runs with
tests/fault/libtcpxd-fault.so preloaded (LD_PRELOAD; see inject.c), seeded
and with p = 0.3 by default:

  file faults  write()/pwrite() to the upload fails with EIO or ENOSPC or
               writes short, fsync() of the file or directory fails with EIO.
               Uploads run one at a time so that the injector's log says which
               faults hit which upload.  Oracle: an upload hit by an error
               fault gets ERR 500 storage error (EIO) or ERR 507 insufficient
               storage (ENOSPC), by the first fault, and leaves no file; any
               other upload (short writes included) gets OK and its file is
               byte-exact; after every ERR an upload with the faults switched
               off succeeds.
  socket faults  recv/read/send on sockets return EINTR or short counts:
               echo and uploads (raw and framed) stay byte-exact.

Short run in make check (< 60 s); TCPXD_STRESS=long (make check-stress)
runs ten times as many.  TCPXD_FAULT_SEED picks the seed (default 1);
a failure prints the seed and the upload number to replay.  Skipped (77)
in sanitizer and valgrind runs: their runtimes must come first in the
preload order and intercept the same calls."""

import errno
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("TCPXD_SRCDIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")), "tests", "stress"))
import stresslib  # noqa: E402
from stresslib import Daemon, framed, inbox  # noqa: E402
import tcpxdtest  # noqa: E402
from tcpxdtest import check_ok, echo, upload  # noqa: E402

if stresslib.sanitized():
    print("daemon runs under %s: LD_PRELOAD fault injection conflicts with it; "
          "skipping (the plain build runs this test)" % stresslib.sanitized())
    sys.exit(77)

LIB = os.environ.get("TCPXD_FAULT_LIB") or os.path.join(
    stresslib.BUILDDIR or os.getcwd(), "tests", "fault", "libtcpxd-fault.so")
if not os.path.exists(LIB):
    print("%s not built (make tests/fault/libtcpxd-fault.so): skipping" % LIB)
    sys.exit(77)

SEED = int(os.environ.get("TCPXD_FAULT_SEED", "1"))
P = os.environ.get("TCPXD_FAULT_P", "0.3")
SCALE = 10 if stresslib.LONG else 1
FIGURES = []


def faulty_daemon(kinds, p=P, env=None):
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-fault-"), start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "buffer_size": "16K"},
    ], max_per_ip=200, log_level="info")
    d.switch = os.path.join(d.dir, "faults-on")
    d.faultlog = os.path.join(d.dir, "faults.log")
    d.start(env={"LD_PRELOAD": LIB, "TCPXD_FAULT": kinds, "TCPXD_FAULT_SEED": str(SEED),
                 "TCPXD_FAULT_P": p, "TCPXD_FAULT_SWITCH": d.switch,
                 "TCPXD_FAULT_LOG": d.faultlog, **(env or {})})
    return d


def faults_on(d, on):
    if on:
        open(d.switch, "w").close()
    elif os.path.exists(d.switch):
        os.unlink(d.switch)


def test_file_faults_give_err_and_leave_nothing():
    d = faulty_daemon("write-eio,write-enospc,write-short,fsync-eio")
    rnd = random.Random(SEED)
    n = 1000 * SCALE
    counts = {"ok": 0, "ERR 500": 0, "ERR 507": 0, "recovery ok": 0, "short-only ok": 0}
    stored = set()
    first = {}
    for i in range(n):
        faults_on(d, True)
        size = rnd.choice([0, 1, rnd.randrange(1, 1 << 16), rnd.randrange(1, 300 << 10)])
        data = rnd.randbytes(size)
        is_framed = i % 3 == 0 or size == 0     # a raw connection without a byte stores nothing
        before = os.path.getsize(d.faultlog) if os.path.exists(d.faultlog) else 0
        receipt = upload(d.addr("inbox"), framed("f%06d" % i, data) if is_framed else data)
        with open(d.faultlog) if os.path.exists(d.faultlog) else open(os.devnull) as f:
            f.seek(before)
            hits = [line.split()[3] for line in f]
        errors = [h for h in hits if h != "short"]
        where = "seed %d upload %d (%d bytes, faults %s)" % (SEED, i, size, hits)
        if errors:
            want = "ERR 507 insufficient storage\n" if errors[0] == "ENOSPC" \
                else "ERR 500 storage error\n"
            assert receipt == want, "%s: got %r, wanted %r" % (where, receipt, want)
            counts[want[:7]] += 1
            first[errors[0]] = first.get(errors[0], 0) + 1
            assert set(d.stored_files()) == stored, "%s: a file appeared after ERR" % where
            faults_on(d, False)
            again = os.urandom(rnd.randrange(1, 100000))
            stored.add(check_ok(d, upload(d.addr("inbox"), again), again))
            counts["recovery ok"] += 1
        else:
            assert receipt.startswith("OK "), "%s: got %r" % (where, receipt)
            name = check_ok(d, receipt, data)
            if is_framed:
                assert name == "f%06d" % i, (where, name)
            stored.add(name)
            counts["ok"] += 1
            if hits:
                counts["short-only ok"] += 1
        assert set(d.stored_files()) == stored, "%s: stored files differ" % where
    faults_on(d, False)
    assert not [n for n in os.listdir(os.path.join(d.dir, "inbox")) if n.startswith(".")]
    FIGURES.append("file faults (seed %d, p %s): %d uploads: %d OK (%d of them with short "
                   "writes), %d ERR 500, %d ERR 507, %d recovery uploads OK, 0 stray files"
                   % (SEED, P, n, counts["ok"], counts["short-only ok"], counts["ERR 500"],
                      counts["ERR 507"], counts["recovery ok"])
                   + "; first error fault: " + ", ".join(
                       "%s %d" % kv for kv in sorted(first.items())))
    assert counts["ERR 500"] and counts["ERR 507"] and counts["ok"], counts
    assert first.get("EIO-dir") and first.get("EIO") and first.get("ENOSPC"), first
    assert d.stop() == 0


def upload_held_at_dir_fsync(d, hold, data, meanwhile):
    """Uploads data while every directory fsync fails; meanwhile(name) runs while the
    daemon stands between linking the file as name and its failed directory fsync."""
    box = inbox(d)
    receipt = []
    t = threading.Thread(target=lambda: receipt.append(upload(d.addr("inbox"), data)))
    t.start()
    # A FIFO opened for writing without blocking succeeds only once the daemon
    # has it open for reading, which it does in the faulted fsync (inject.c).
    deadline = time.monotonic() + tcpxdtest.WAIT
    while True:
        try:
            fd = os.open(hold, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            assert e.errno == errno.ENXIO and time.monotonic() < deadline, e
            time.sleep(0.01)    # the FIFO has no readiness signal for its reader
    try:
        names = os.listdir(box)
        assert len(names) == 1, names
        meanwhile(names[0])
    finally:
        os.close(fd)            # the daemon reads EOF and its fsync goes on (and fails)
    t.join(tcpxdtest.WAIT)
    assert receipt == ["ERR 500 storage error\n"], receipt
    return names[0]


def test_failed_dir_fsync_removes_only_its_own_file():
    """A failed directory fsync takes back the name the upload linked, but only while
    it is that upload's file: a collector may have moved the file away and another
    upload published an acknowledged file under the same name meanwhile."""
    hold = os.path.join(stresslib.fast_dir("tcpxd-hold-"), "hold")
    os.mkfifo(hold)
    d = faulty_daemon("fsync-dir-eio", p="1", env={"TCPXD_FAULT_HOLD": hold})
    box = inbox(d)
    faults_on(d, True)
    upload_held_at_dir_fsync(d, hold, b"not durable", lambda name: None)
    assert os.listdir(box) == [], "the unacknowledged file was left behind"

    other = b"acknowledged to another client"

    def collect_and_replace(name):
        os.rename(os.path.join(box, name), os.path.join(d.dir, "collected"))
        with open(os.path.join(box, name), "xb") as f:
            f.write(other)
    name = upload_held_at_dir_fsync(d, hold, b"not durable either", collect_and_replace)
    with open(os.path.join(box, name), "rb") as f:
        assert f.read() == other, "another upload's file was removed"
    d.wait_log(r"store-unremoved listener=inbox peer=\S+ port=\d+ name=\S+ "
               r"why=directory-fsync-failed "
               r"error=\"the name is no longer this upload's file\"")
    faults_on(d, False)
    data = os.urandom(1000)
    check_ok(d, upload(d.addr("inbox"), data), data)
    assert d.stop() == 0
    tcpxdtest.cleanup_dir(os.path.dirname(hold))


def test_socket_faults_stay_byte_exact():
    d = faulty_daemon("sock-eintr,sock-short")
    faults_on(d, True)
    rnd = random.Random(SEED + 1)
    n_echo, n_up = 3000 * SCALE, 1000 * SCALE
    stored = 0

    def echo_many(k, seed):
        r = random.Random(seed)
        for j in range(k):
            data = r.randbytes(r.choice([1, r.randrange(1, 4096), r.randrange(1, 200000)]))
            got = echo(d.addr("echo"), data)
            assert got == data, "echo %d (%d bytes) came back as %d bytes (seed %d)" % (
                j, len(data), len(got), seed)

    # Echo from two client threads at once; uploads in this thread.
    workers = []
    errors = []
    for w in range(2):
        def body(w=w):
            try:
                echo_many(n_echo // 2, SEED * 100 + w)
            except Exception as e:  # reported below
                errors.append(e)
        t = threading.Thread(target=body)
        t.start()
        workers.append(t)
    for i in range(n_up):
        data = rnd.randbytes(rnd.choice([0, rnd.randrange(1, 1 << 16), rnd.randrange(1, 1 << 20)]))
        if i % 2 or not data:   # a raw connection without a byte stores nothing
            name = check_ok(d, upload(d.addr("inbox"), framed("s%06d" % i, data)), data)
            assert name == "s%06d" % i
        else:
            check_ok(d, upload(d.addr("inbox"), data), data)
        stored += 1
    for t in workers:
        t.join()
    if errors:
        raise errors[0]
    assert len(d.stored_files()) == stored
    faults_on(d, False)
    with open(d.faultlog) as f:
        injected = f.read().split("\n")
    eintr = sum(1 for x in injected if x.endswith(" EINTR"))
    short = sum(1 for x in injected if x.endswith(" short"))
    FIGURES.append("socket faults (seed %d, p %s): %d echoes + %d uploads byte-exact, "
                   "0 mismatches; %d EINTR and %d short transfers injected"
                   % (SEED, P, n_echo, n_up, eintr, short))
    assert eintr > 1000 * SCALE and short > 1000 * SCALE, (eintr, short)
    assert d.stop() == 0


def test_injector_is_deterministic():
    """Same seed, same single-threaded call sequence: the same faults."""
    logs = []
    for _ in range(2):
        d = faulty_daemon("write-eio,write-enospc,write-short,fsync-eio")
        faults_on(d, True)
        data = b"x" * (200 << 10)
        for i in range(20):
            upload(d.addr("inbox"), data)
        with open(d.faultlog) as f:
            # descriptor numbers may differ (sockets still draining), the faults must not
            logs.append([(x[0], x[1], x[3]) for x in (line.split() for line in f)])
        d.kill()
    assert logs[0] == logs[1], "same seed gave different faults"


def test_failed_fsync_gives_a_partial_up():
    """A partial whose data fsync fails when a client resumes it is given up,
    not kept for the next try: a later fsync could succeed without the pages
    the failed one dropped, and the offset it answered would be a lie."""
    d = faulty_daemon("fsync-eio", p="1")
    data = os.urandom(100000)
    header = b"\x89TCPX\r\n\x1a2 %d - poisoned p.bin\n" % len(data)
    pdir = os.path.join(d.dir, "inbox", ".tcpxd-partial")
    with tcpxdtest.connect(d.addr("inbox")) as s:
        s.sendall(header)
        assert tcpxdtest.read_line(s) == "CONTINUE 0\n"
        s.sendall(data[:50000])
        s.shutdown(socket.SHUT_WR)
        assert tcpxdtest.read_all(s).startswith(b"ERR 400 upload shorter")
    assert len(os.listdir(pdir)) == 2     # kept, durable, for the next try
    faults_on(d, True)
    with tcpxdtest.connect(d.addr("inbox")) as s:
        s.sendall(header)
        assert tcpxdtest.read_line(s) == "ERR 500 storage error\n"
    faults_on(d, False)
    assert os.listdir(pdir) == [], os.listdir(pdir)
    with tcpxdtest.connect(d.addr("inbox")) as s:
        s.sendall(header)
        assert tcpxdtest.read_line(s) == "CONTINUE 0\n"
    FIGURES.append("a partial whose fsync fails on resume: given up, the next try starts at 0")


stresslib.run_and_report([test_injector_is_deterministic, test_failed_dir_fsync_removes_only_its_own_file,
                          test_failed_fsync_gives_a_partial_up,
                          test_file_faults_give_err_and_leave_nothing,
                          test_socket_faults_stay_byte_exact], FIGURES)
