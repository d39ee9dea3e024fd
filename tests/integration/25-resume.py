#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Resumable uploads (docs/PROTOCOL.md §2.7): a version 2 header with an
upload id gets CONTINUE <offset>; a broken upload keeps its bytes as a
partial, hidden in output_dir/.tcpxd-partial/, and resumes from a durable
offset; 50 rounds of kill -9 of the daemon at a random moment mid-file end
with a byte-exact, receipt-verified file and no partial left; a digest
mismatch keeps nothing; another client cannot use the id (ERR 403), the
same client cannot use it for another file (ERR 409); a newer connection
takes the upload over from an older one; max_partials, resume_ttl and the
free-space reserve hold before CONTINUE; a removed listener's partials
expire too;
start-up removes expired partials and crash leftovers."""

import hashlib
import os
import random
import socket
import time

from tcpxdtest import (SLOW, WAIT, Daemon, check_ok, close_with_reset, connect, inbox,
                       inbox_daemon, log_records, read_all, read_line, run)

SIG = b"\x89TCPX\r\n\x1a"
PARTIAL = ".tcpxd-partial"


def header(data, name, upload_id, digest=True):
    dg = b"sha256:" + hashlib.sha256(data).hexdigest().encode() if digest else b"-"
    return SIG + b"2 %d %s %s %s\n" % (len(data), dg, upload_id, name)


def start_upload(d, data, name, upload_id, source=None):
    """Connects and sends the header; returns the socket and the offset answered."""
    s = connect(d.addr("inbox"), source)
    s.sendall(header(data, name, upload_id))
    line = read_line(s)
    assert line.startswith("CONTINUE "), line
    return s, int(line.split()[1])


def partials(d):
    path = os.path.join(d.dir, "inbox", PARTIAL)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def visible(d):
    return [n for n in d.stored_files() if not n.startswith(".")]


def wait_partial_size(d, size):
    """Until the daemon has written size bytes of the one partial (its data file's length)."""
    pdir = os.path.join(d.dir, "inbox", PARTIAL)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sizes = [os.stat(os.path.join(pdir, n)).st_size for n in os.listdir(pdir)
                 if n.endswith(".data")]
        if sizes == [size]:
            return
        time.sleep(0.01)
    raise AssertionError("partial never reached %d bytes" % size)


def test_break_and_resume():
    d = inbox_daemon()
    data = os.urandom(3 << 20)
    s, off = start_upload(d, data, b"big.bin", b"id-1")
    assert off == 0
    s.sendall(data[:1 << 20])
    # Closed early: the daemon reads every byte sent before it sees the end.
    s.shutdown(socket.SHUT_WR)
    assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
    s.close()
    assert visible(d) == [], "a partial must never be visible in output_dir"
    assert len(partials(d)) == 2, partials(d)
    assert oct(os.stat(os.path.join(d.dir, "inbox", PARTIAL)).st_mode & 0o777) == "0o700"
    s, off = start_upload(d, data, b"big.bin", b"id-1")
    assert off == 1 << 20, off
    s.sendall(data[off:off + 12345])
    # A reset loses what the daemon had not read yet: the offset says what it holds.
    close_with_reset(s)
    d.wait_log(r"upload listener=inbox .* name=big.bin .*result=aborted-reset")
    s, off2 = start_upload(d, data, b"big.bin", b"id-1")
    assert off <= off2 <= off + 12345, (off, off2)
    s.sendall(data[off2:])
    check_ok(d, read_line(s), data)
    s.close()
    assert visible(d) == ["big.bin"] and partials(d) == []
    # The same id again is a new upload (the old one is done).
    s, off = start_upload(d, b"x", b"small", b"id-1")
    assert off == 0
    s.sendall(b"x")
    check_ok(d, read_line(s), b"x")
    s.close()


def test_kill9_fifty_rounds():
    """kill -9 at a random moment mid-file, 50 times; the offsets are never
    beyond what was sent, and the file ends byte-exact."""
    rounds = 50 if SLOW == 1 else 10
    d = inbox_daemon()
    data = os.urandom(8 << 20)
    rng = random.Random(os.getpid())
    offsets = []
    for _ in range(rounds):
        s, off = start_upload(d, data, b"crash.bin", b"crash-resume")
        offsets.append(off)
        end = min(len(data) - 1, off + rng.randrange(1, 1 << 20))
        s.sendall(data[off:end])
        # A random moment: right away, or once some of it may have been written.
        if rng.random() < 0.5:
            time.sleep(rng.random() * 0.01)
        d.kill()
        s.close()
        assert off <= end
        assert visible(d) == []
        d.start()
    s, off = start_upload(d, data, b"crash.bin", b"crash-resume")
    s.sendall(data[off:])
    check_ok(d, read_line(s), data)
    s.close()
    assert visible(d) == ["crash.bin"] and partials(d) == []
    assert max(offsets) > 0, offsets


def test_digest_mismatch_keeps_nothing():
    d = inbox_daemon()
    data = b"a" * 1000
    wrong = SIG + b"2 1000 sha256:%s bad-1 a.txt\n" % (b"0" * 64)
    with connect(d.addr("inbox")) as s:
        s.sendall(wrong)
        assert read_line(s) == "CONTINUE 0\n"
        s.sendall(data[:400])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
    with connect(d.addr("inbox")) as s:
        s.sendall(wrong)
        assert read_line(s) == "CONTINUE 400\n"
        s.sendall(data[400:])
        assert read_line(s) == "ERR 400 digest mismatch\n"
    assert visible(d) == [] and partials(d) == []


def test_identity_and_takeover():
    d = inbox_daemon()
    data = os.urandom(1 << 20)
    s, _ = start_upload(d, data, b"mine.bin", b"shared-id", source="127.0.0.1")
    s.sendall(data[:1000])
    # Another client's address: refused, whatever it sends.
    with connect(d.addr("inbox"), "127.0.0.2") as t:
        t.sendall(header(data, b"mine.bin", b"shared-id"))
        assert read_line(t) == "ERR 403 upload id belongs to another client\n"
    # The same client, another file under the id.
    with connect(d.addr("inbox"), "127.0.0.1") as t:
        t.sendall(header(data[:10], b"mine.bin", b"shared-id"))
        assert read_line(t) == "ERR 409 upload id in use for another file\n"
    # Refusals take nothing over: the first connection still sends.
    s.sendall(data[1000:2000])
    wait_partial_size(d, 2000)
    # A newer connection of the same client takes the upload over.
    t, off = start_upload(d, data, b"mine.bin", b"shared-id", source="127.0.0.1")
    assert off == 2000, off
    assert read_all(s) == b""       # the old one was shut
    s.close()
    t.sendall(data[off:])
    check_ok(d, read_line(t), data)
    t.close()
    d.wait_log(r"result=aborted-resumed-elsewhere")
    assert partials(d) == []


def test_max_partials_and_ttl():
    d = inbox_daemon(max_partials=2)
    data = os.urandom(10000)
    for i in range(2):
        s, _ = start_upload(d, data, b"p%d" % i, b"part-%d" % i)
        s.sendall(data[:100])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
        s.close()
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"p2", b"part-2"))
        assert read_line(s) == "ERR 503 busy: max_partials\n"
    # Resuming one of the two is no new partial.
    s, off = start_upload(d, data, b"p0", b"part-0")
    assert off == 100
    s.close()
    d.wait_log(r"upload listener=inbox .* name=p0 .*result=refused-size-mismatch", count=2)
    # Left unwritten for longer than resume_ttl (aged here), a partial is gone at start-up,
    # with the leftovers of a crash.
    pdir = os.path.join(d.dir, "inbox", PARTIAL)
    old = time.time() - 86400 - 60
    for n in os.listdir(pdir):
        os.utime(os.path.join(pdir, n), (old, old))
    for junk in ("0123456789abcdef0123456789abcdef.meta.tmp", "fedcba9876543210fedcba9876543210.data"):
        with open(os.path.join(pdir, junk), "wb") as f:
            f.write(b"junk")
    d.kill()
    d.start()
    d.wait_log(r"listener inbox: removed 3 expired partial uploads and leftovers of a crash")
    assert partials(d) == [], partials(d)
    s, off = start_upload(d, data, b"p0", b"part-0")
    assert off == 0
    s.close()
    d2 = inbox_daemon(max_partials=0)
    with connect(d2.addr("inbox")) as s:
        s.sendall(header(data, b"p", b"any"))
        assert read_line(s) == "ERR 503 busy: max_partials\n"
    # No room for the file: refused instead of CONTINUE, before a byte is sent.
    d3 = inbox_daemon(min_free_space="4096T")
    with connect(d3.addr("inbox")) as s:
        s.sendall(header(data, b"p", b"any"))
        assert read_line(s) == "ERR 507 insufficient storage\n"


def test_partials_of_a_removed_listener_expire():
    """A listener taken out of the configuration leaves its partials to the
    listeners on the same output_dir: they expire by those listeners' resume_ttl."""
    d = inbox_daemon()
    data = os.urandom(10000)
    s, _ = start_upload(d, data, b"old", b"of-a-gone-listener")
    s.sendall(data[:100])
    s.shutdown(socket.SHUT_WR)
    assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
    s.close()
    d.kill()
    d.write_config([{"name": "renamed", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": os.path.join(d.dir, "inbox")}])
    d.start()
    assert len(partials(d)) == 2        # not expired yet: kept
    pdir = os.path.join(d.dir, "inbox", PARTIAL)
    old = time.time() - 86400 - 60
    for n in os.listdir(pdir):
        os.utime(os.path.join(pdir, n), (old, old))
    d.kill()
    d.start()
    d.wait_log(r"listener renamed: removed 1 expired partial uploads and leftovers of a crash")
    assert partials(d) == []


def test_review_cases():
    """Data sent before a resuming CONTINUE is refused, not stored in the wrong
    place; an empty partial is not kept; an expired partial is anyone's to start
    again; max_partials holds under a race and counts only its own listener."""
    d = inbox_daemon()
    data = os.urandom(2000)
    s, _ = start_upload(d, data, b"f.txt", b"blind")
    s.sendall(data[:1000])
    s.shutdown(socket.SHUT_WR)
    read_all(s)
    s.close()
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"f.txt", b"blind") + data)       # the whole file, blind
        assert read_line(s) == "ERR 400 data before CONTINUE\n"
    s, off = start_upload(d, data, b"f.txt", b"blind")
    assert off == 1000          # still there
    s.sendall(data[off:])
    check_ok(d, read_line(s), data)
    s.close()
    # Nothing sent after CONTINUE 0: nothing kept.
    s, _ = start_upload(d, data, b"empty", b"nothing-sent")
    s.shutdown(socket.SHUT_WR)
    read_all(s)
    s.close()
    d.wait_log(r"upload listener=inbox .* name=empty .*result=refused-size-mismatch")
    assert partials(d) == []
    # Expired: another client may start the id anew.
    s, _ = start_upload(d, data, b"old", b"expiring", source="127.0.0.1")
    s.sendall(data[:10])
    s.shutdown(socket.SHUT_WR)
    read_all(s)
    s.close()
    pdir = os.path.join(d.dir, "inbox", PARTIAL)
    old = time.time() - 86400 - 60
    for n in os.listdir(pdir):
        os.utime(os.path.join(pdir, n), (old, old))
    s, off = start_upload(d, data, b"new", b"expiring", source="127.0.0.2")
    assert off == 0
    s.close()

    # Two listeners on one output_dir, max_partials = 2 each.
    d = Daemon([], start=False)
    box = inbox(d)
    d.write_config([{"name": n, "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": box, "max_partials": 2} for n in ("a", "b")])
    d.start()
    held_b = []
    for i in range(2):
        t = connect(d.addr("b"))
        t.sendall(header(data, b"b%d" % i, b"on-b-%d" % i))
        assert read_line(t) == "CONTINUE 0\n"
        held_b.append(t)
    # b's held partials are not a's: 30 at once on a get exactly 2 CONTINUEs.
    socks = [connect(d.addr("a")) for _ in range(30)]
    for i, t in enumerate(socks):
        t.sendall(header(data, b"a%d" % i, b"race-%d" % i))
    answers = [read_line(t) for t in socks]
    assert answers.count("CONTINUE 0\n") == 2, answers
    assert answers.count("ERR 503 busy: max_partials\n") == 28, answers
    for t in socks + held_b:
        t.close()


if __name__ == "__main__":
    run([test_break_and_resume, test_kill9_fifty_rounds, test_digest_mismatch_keeps_nothing,
         test_identity_and_takeover, test_max_partials_and_ttl,
         test_partials_of_a_removed_listener_expire, test_review_cases])
