#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Large uploads, hashed on a second thread once 4 MiB of a file arrived
(the debug record "hash ... thread=yes" says so): a 64 MiB raw upload, two
large version 2 files on one connection, a large upload over TLS and a
resumed one (its held bytes hashed first) all get the receipt of the
SHA-256 of what was sent; a large version 2 upload with a wrong declared
digest is still refused with nothing stored.  With the process-wide limit
reached (TCPXD_HASH_THREADS=1) a second large upload is hashed inline
(thread=no) and is just as right, and the slot is free again after the
first.  A client reset and a stop in the middle of a hashed upload end it
cleanly (the sanitizer builds check no leak or race)."""

import atexit
import hashlib
import os
import shutil
import signal
import socket
import ssl
import tempfile

from tcpxdtest import (Daemon, check_ok, close_with_reset, connect, have_tool, inbox, log_records,
                       read_all, read_line, run)

SIG = b"\x89TCPX\r\n\x1a"
MiB = 1 << 20


def daemon(env=None, settings=None, **extra):
    """A daemon with one receive listener "inbox" (extra: its settings; settings: global ones)."""
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), **extra}], **(settings or {}))
    d.start(env=env)
    return d


def header(data, name, upload_id=b"-", digest=None):
    digest = digest or hashlib.sha256(data).hexdigest().encode()
    return SIG + b"2 %d sha256:%s %s %s\n" % (len(data), digest, upload_id, name)


def hashed(d, thread, count=1):
    """Waits for count "hash" records saying whether a file went to a thread."""
    return d.wait_log(r"hash listener=inbox .* thread=%s$" % thread, count)


def hash_records(d):
    return log_records(d, "hash")


def test_large_raw_upload():
    d = daemon()
    data = os.urandom(64 * MiB)
    with connect(d.addr("inbox")) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), data)
    rec = hash_records(d)
    assert [r["thread"] for r in rec] == ["yes"], rec
    assert int(rec[0]["bytes"]) >= 4 * MiB, rec


def test_small_upload_stays_inline():
    d = daemon()
    data = os.urandom(4 * MiB - 1)
    with connect(d.addr("inbox")) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), data)
    assert hash_records(d) == [], "a small file must not start a thread"


def test_two_large_files_one_connection():
    d = daemon()
    one, two = os.urandom(12 * MiB), os.urandom(20 * MiB + 12345)
    with connect(d.addr("inbox")) as s:
        s.sendall(header(one, b"one.bin") + one)
        check_ok(d, read_line(s), one)
        s.sendall(header(two, b"two.bin") + two)
        check_ok(d, read_line(s), two)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    rec = hash_records(d)
    assert [(r["file_no"], r["thread"]) for r in rec] == [("1", "yes"), ("2", "yes")], rec


def test_large_digest_mismatch_stores_nothing():
    d = daemon()
    data = os.urandom(16 * MiB)
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"x.bin", digest=b"0" * 64) + data)
        assert read_line(s) == "ERR 400 digest mismatch\n"
        assert read_all(s) == b""
    assert d.stored_files() == []
    d.wait_log(r"upload listener=inbox .* result=refused-digest-mismatch")
    line = [r for r in log_records(d, "upload") if r["result"] == "refused-digest-mismatch"]
    assert line[0]["received"] == "sha256:" + hashlib.sha256(data).hexdigest(), line
    assert [r["thread"] for r in hash_records(d)] == ["yes"]


def test_large_upload_over_tls():
    if not have_tool("openssl", "the TLS case (it makes its certificates with it)"):
        return
    from tls_certs import make_certs
    from tls_client import TLSConn

    certs_dir = tempfile.mkdtemp(prefix="tcpxd-tls-certs-")
    atexit.register(shutil.rmtree, certs_dir, True)
    certs = make_certs(certs_dir)
    d = daemon(tls={"certificate": certs.pem("server"), "key": certs.key("server")})
    data = os.urandom(16 * MiB)
    c = TLSConn(d.addr("inbox"), ssl.create_default_context(cafile=certs.pem("ca")))
    c.send(header(data, b"tls.bin") + data)
    c.close_notify()
    c.fin()
    answer, _ = c.recv_all()
    c.close()
    check_ok(d, answer.decode(), data)
    assert [r["thread"] for r in hash_records(d)] == ["yes"]


def test_resumed_large_upload():
    d = daemon()
    data = os.urandom(24 * MiB)
    head = header(data, b"resumed.bin", upload_id=b"big-1")
    with connect(d.addr("inbox")) as s:
        s.sendall(head)
        assert read_line(s) == "CONTINUE 0\n"
        s.sendall(data[:12 * MiB])
        hashed(d, "yes")
        # Broken off while its hasher runs: the partial keeps what arrived.
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
    with connect(d.addr("inbox")) as s:
        s.sendall(head)
        line = read_line(s)
        assert line == "CONTINUE %d\n" % (12 * MiB), line
        s.sendall(data[12 * MiB:])
        # The held 12 MiB are hashed before the rest, or the digest would not match.
        check_ok(d, read_line(s), data)
    rec = hash_records(d)
    assert [r["thread"] for r in rec] == ["yes", "yes"], rec
    assert int(rec[1]["bytes"]) >= 16 * MiB, rec


def test_limit_reached_hashes_inline():
    d = daemon(env={"TCPXD_HASH_THREADS": "1"})
    first, second, third = (os.urandom(n * MiB) for n in (24, 16, 8))
    a = connect(d.addr("inbox"))
    a.sendall(first[:8 * MiB])
    hashed(d, "yes")
    # The one slot is taken by the upload still arriving: this one is hashed inline.
    with connect(d.addr("inbox")) as s:
        s.sendall(second)
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), second)
    hashed(d, "no")
    a.sendall(first[8 * MiB:])
    a.shutdown(socket.SHUT_WR)
    check_ok(d, read_all(a).decode(), first)
    a.close()
    # The slot is free again.
    with connect(d.addr("inbox")) as s:
        s.sendall(third)
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), third)
    assert [r["thread"] for r in hash_records(d)] == ["yes", "no", "yes"]


def test_no_threads_hashes_inline():
    d = daemon(env={"TCPXD_HASH_THREADS": "0"})
    data = os.urandom(16 * MiB)
    with connect(d.addr("inbox")) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), data)
    assert [r["thread"] for r in hash_records(d)] == ["no"]


def test_reset_and_stop_mid_upload():
    # A stop aborts what is still in flight after shutdown_timeout.
    d = daemon(settings={"shutdown_timeout": 1})
    data = os.urandom(8 * MiB)
    s = connect(d.addr("inbox"))
    s.sendall(data)
    hashed(d, "yes")
    close_with_reset(s)
    d.wait_log(r"conn listener=inbox .* result=aborted-reset")
    s = connect(d.addr("inbox"))
    s.sendall(data)
    hashed(d, "yes", 2)
    assert d.stop(signal.SIGTERM) == 0
    s.close()
    assert d.stored_files() == []
    d.wait_log(r"conn listener=inbox .* result=aborted-shutdown")


if __name__ == "__main__":
    run([test_large_raw_upload, test_small_upload_stays_inline,
         test_two_large_files_one_connection, test_large_digest_mismatch_stores_nothing,
         test_large_upload_over_tls, test_resumed_large_upload, test_limit_reached_hashes_inline,
         test_no_threads_hashes_inline, test_reset_and_stop_mid_upload])
