#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Framed protocol 2 on the daemon's side (docs/PROTOCOL.md §2.6): an upload
ends by its declared size, with no half-close, from bash's /dev/tcp, telnet
(whose encoding of CR, LF and 0xFF the daemon undoes) and curl telnet:// as
documented; a short upload that closes gets ERR 400
and stores nothing; a declared SHA-256 is checked before the link and a
mismatch stores nothing; 1,000 files travel over one connection, plain and
TLS, each with its own receipt and log line and the connection with one
line saying files=1000; limits hold per file; what may follow a file is
only a version 2 header; a connection idle or half-closed between files
ends without an answer."""

import hashlib
import os
import socket
import subprocess

from tcpxdtest import (Daemon, WAIT, check_ok, connect, have_tool, inbox, inbox_daemon,
                       log_records, read_all, read_line, run)

SIG = b"\x89TCPX\r\n\x1a"


def header(data, name, digest=True, size=None):
    d = b"sha256:" + hashlib.sha256(data).hexdigest().encode() if digest else b"-"
    return SIG + b"2 %d %s - %s\n" % (len(data) if size is None else size, d, name)


def test_end_by_size_without_half_close():
    d = inbox_daemon()
    data = b"hello, size\n"
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"a.txt") + data)
        # No shutdown: the answer comes at the last declared byte.
        check_ok(d, read_line(s), data)
    assert d.stored_files() == ["a.txt"]
    # Fewer bytes, then an orderly close: refused, nothing stored.
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"short.txt") + data[:-1])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 upload shorter than declared size\n"
    # Size 0: the header alone is the upload.
    with connect(d.addr("inbox")) as s:
        s.sendall(header(b"", b"empty.txt"))
        check_ok(d, read_line(s), b"")
    assert d.stored_files() == ["a.txt", "empty.txt"]


def test_shell_one_liners():
    """The one-liners of docs/PROTOCOL.md §2.9: bash /dev/tcp, curl telnet://, telnet."""
    d = inbox_daemon()
    host, port = d.addr("inbox")
    path = os.path.join(d.dir, "notes.txt")
    with open(path, "wb") as f:
        f.write(b"hello world\n")
    script = r'''
f=%s; exec 3<>/dev/tcp/%s/%d
{ printf '\211TCPX\r\n\0322 %%d sha256:%%s - %%s\n' "$(stat -c %%s "$f")" \
    "$(sha256sum < "$f" | cut -c1-64)" "$(basename "$f")"; cat "$f"; } >&3
head -n1 <&3; exec 3<&-
''' % (path, host, port)
    out = subprocess.run(["bash", "-c", script], capture_output=True, timeout=WAIT)
    assert out.returncode == 0, out
    check_ok(d, out.stdout.decode(), b"hello world\n")
    # curl and telnet stay connected after sending: read their first line, then end them.
    upload = os.path.join(d.dir, "upload")
    with open(upload, "wb") as f:
        f.write(SIG + b"2 12 - - curl.txt\n" + b"hello curl!\n")
    clients = [["curl", "-sS", "-T", upload, "telnet://%s:%d" % (host, port)]]
    if have_tool("telnet", "the telnet one-liner"):
        clients.append(["telnet", host, str(port)])
    for argv in clients:
        name = b"telnet.txt" if argv[0] == "telnet" else b"curl.txt"
        # telnet sends a CR as CR NUL, a newline as CR LF and 0xFF as IAC IAC: all undone.
        body = b"hello\r\ntelnet \xff\n"
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            if argv[0] == "telnet":
                p.stdin.write(SIG + b"2 %d - - %s\n" % (len(body), name) + body)
                p.stdin.flush()
            line = b""
            while not line.startswith(b"OK ") and not line.startswith(b"ERR "):
                line = p.stdout.readline()
                assert line, "%s ended without an answer" % argv[0]
            check_ok(d, line.decode(), body if argv[0] == "telnet" else b"hello curl!\n")
        finally:
            p.kill()
            p.wait()
    assert d.stored_files() == ["curl.txt", "notes.txt", "telnet.txt"]


def test_digest_checked_before_publishing():
    d = inbox_daemon()
    data = b"the file the client meant\n"
    wrong = SIG + b"2 %d sha256:%s - x.txt\n" % (len(data), b"0" * 64)
    with connect(d.addr("inbox")) as s:
        s.sendall(wrong + data)
        assert read_line(s) == "ERR 400 digest mismatch\n"
        assert read_all(s) == b""
    assert d.stored_files() == []
    d.wait_log(r"upload listener=inbox .* result=refused-digest-mismatch")
    line = [r for r in log_records(d, "upload") if r["result"] == "refused-digest-mismatch"]
    assert line and line[0]["declared"] == "sha256:" + "0" * 64, line
    assert line[0]["received"] == "sha256:" + hashlib.sha256(data).hexdigest()
    # The right digest is stored.
    with connect(d.addr("inbox")) as s:
        s.sendall(header(data, b"x.txt") + data)
        check_ok(d, read_line(s), data)


def many_files(d, count, tls_context=None):
    files = [(b"f%04d.bin" % i, os.urandom(i % 50)) for i in range(count)]
    s = connect(d.addr("inbox"))
    if tls_context:
        s = tls_context.wrap_socket(s, server_hostname="localhost")
    with s:
        # Headers and data sent ahead of the answers: the daemon must not read past a file.
        payload = b"".join(header(data, name) + data for name, data in files)
        s.sendall(payload)
        answers = []
        for name, data in files:
            answers.append(read_line(s))
        if tls_context:
            s = s.unwrap()
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    for (name, data), answer in zip(files, answers):
        assert check_ok(d, answer, data) == name.decode()
    return files


def test_thousand_files_one_connection():
    d = inbox_daemon()
    many_files(d, 1000)
    assert len(d.stored_files()) == 1000
    d.wait_log(r"conn listener=inbox .* files=1000")
    conns = log_records(d, "conn")
    assert len(conns) == 1 and conns[0]["files"] == "1000" and conns[0]["result"] == "ok", conns
    files = log_records(d, "upload")
    assert [f["file_no"] for f in files] == [str(i + 1) for i in range(1000)]
    assert all(f["result"] == "ok" and "stored" in f for f in files)


def test_tls_many_files():
    import ssl
    if not have_tool("openssl", "a TLS certificate"):
        return
    d = Daemon([], start=False)
    crt, key = os.path.join(d.dir, "c.pem"), os.path.join(d.dir, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "tls": {"certificate": crt, "key": key}}])
    d.start()
    ctx = ssl.create_default_context(cafile=crt)
    many_files(d, 20, ctx)
    assert len(d.stored_files()) == 20
    d.wait_log(r"conn listener=inbox .* files=20")
    # Cut without close_notify between two files: nothing was in flight, nothing is lost.
    s = ctx.wrap_socket(connect(d.addr("inbox")), server_hostname="localhost")
    for name in (b"cut1", b"cut2"):
        s.sendall(header(b"x", name) + b"x")
        check_ok(d, read_line(s), b"x")
    s.shutdown(socket.SHUT_RDWR)      # TCP only: no close_notify
    s.close()
    d.wait_log(r"conn listener=inbox .* result=ok files=2")
    assert not [r for r in log_records(d, "upload") if r["result"] != "ok"]


def test_limits_per_file_and_what_may_follow():
    d = inbox_daemon(max_file_size=100, idle_timeout=2)
    small, big = b"s" * 100, b"b" * 101
    # A file over max_file_size after a good one: the good one stays, the next is refused.
    with connect(d.addr("inbox")) as s:
        s.sendall(header(small, b"ok1") + small + header(big, b"big"))
        check_ok(d, read_line(s), small)
        assert read_line(s) == "ERR 413 declared size exceeds max_file_size\n"
    # Raw bytes, a version 1 header, a bad header after a file.
    for follow, answer in ((b"raw bytes", "ERR 400 bad header: framed header required\n"),
                           (SIG + b"1 1 v1\nx", "ERR 400 bad header: unsupported header version\n"),
                           (SIG + b"2 x\n", "ERR 400 bad header: size is not a decimal number\n")):
        with connect(d.addr("inbox")) as s:
            s.sendall(header(small, b"ok") + small + follow)
            check_ok(d, read_line(s), small)
            assert read_line(s) == answer, follow
    # A refused header's record repeats nothing of the file before it; only the
    # version 1 header got as far as its name.
    d.wait_log(r"upload listener=inbox .* file_no=2 .*result=refused-bad-header", count=3)
    refused = [r for r in log_records(d, "upload") if r["file_no"] == "2"][1:]
    assert [r.get("name") for r in refused] == [None, "v1", None], refused
    assert all("stored" not in r and r["bytes"] == "0" for r in refused), refused
    # Idle at a file boundary: closed without an answer, after idle_timeout.
    with connect(d.addr("inbox")) as s:
        s.sendall(header(small, b"idle") + small)
        check_ok(d, read_line(s), small)
        assert read_all(s) == b""
    conn = log_records(d, "conn")[-1]
    assert conn["result"] == "ok" and conn["files"] == "1", conn
    # Each file checks the free space: a reserve above the disk refuses the first file.
    d2 = inbox_daemon(min_free_space="4096T")
    with connect(d2.addr("inbox")) as s:
        s.sendall(header(small, b"nospace") + small)
        assert read_line(s) == "ERR 507 insufficient storage\n"
    assert d2.stored_files() == []


if __name__ == "__main__":
    run([test_end_by_size_without_half_close, test_shell_one_liners,
         test_digest_checked_before_publishing, test_thousand_files_one_connection,
         test_tls_many_files, test_limits_per_file_and_what_may_follow])
