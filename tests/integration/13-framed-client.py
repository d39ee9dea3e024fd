# SPDX-License-Identifier: ISC
"""The framed protocol and the tcpx client: tcpx send stores 0 B, 1 B and
50 MiB under the client's name and verifies the receipt (exit 0); a name in
use gets a .1 suffix; unsafe names are reduced to their last component or
refused as documented; declared sizes over max_file_size or free space are
refused before any data is stored; short and long uploads are refused and
leave nothing, also when the client is killed mid-stream; headers arriving
byte by byte work, stalled or malformed ones are refused; a receipt that
does not match makes tcpx exit 4, a refusal 3, a network error 5; tcpx echo
and ping verify what comes back."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import threading

from tcpxdtest import TCPX, Daemon, WAIT, check_ok, connect, free_port, inbox, read_all, run
from tcpxdtest import run_tcpx as tcpx, tcpx_target as target

SIG = b"\x89TCPX\r\n\x1a"


def daemon(protocol="auto", **extra):
    d = Daemon([], start=False)
    d.write_config([
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "protocol": protocol, **extra},
        {"name": "echo", "mode": "echo", "address": "::1", "port": 0},
    ])
    d.start()
    return d


def framed(addr, name, declared, data, chunks=None):
    """A hand-made framed upload; returns the answer line."""
    header = SIG + b"1 %d " % declared + name + b"\n"
    with connect(addr) as s:
        for piece in (chunks or [header]):
            s.sendall(piece)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return read_all(s).decode(errors="replace")


def test_send_sizes_and_names():
    d = daemon()
    for size, name in ((0, "empty"), (1, "one.byte"), (50 << 20, "big.bin")):
        path = os.path.join(d.dir, name)
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = tcpx("send", "-q", path, target(d.addr("inbox")))
        assert rc == 0, (rc, err)
        assert out == "%s -> %s (%d bytes, sha256:%s)\n" % (
            path, name, size, hashlib.sha256(data).hexdigest()), out
        with open(os.path.join(d.dir, "inbox", name), "rb") as f:
            assert f.read() == data
    # The same name again: stored beside it, never over it.
    rc, out, _ = tcpx("send", "-q", os.path.join(d.dir, "one.byte"), target(d.addr("inbox")))
    assert rc == 0 and out.split()[2] == "one.byte.1", out
    assert d.stored_files() == ["big.bin", "empty", "one.byte", "one.byte.1"]
    # Standard input needs a name, or --raw.
    rc, _, err = tcpx("send", "-", target(d.addr("inbox")), stdin=b"x")
    assert rc == 2 and "--name" in err
    rc, out, _ = tcpx("send", "--name", "from-stdin", "-", target(d.addr("inbox")), stdin=b"piped")
    assert rc == 0 and " -> from-stdin (5 bytes" in out, out
    rc, out, _ = tcpx("send", "--raw", "-", target(d.addr("inbox")), stdin=b"raw")
    assert rc == 0 and re.search(r" -> \d{8}T\d{6}Z_127\.0\.0\.1_\d{6}\.bin \(3 bytes", out), out
    assert d.stop() == 0


def test_unsafe_names():
    d = daemon()
    addr = d.addr("inbox")
    assert framed(addr, b"../x", 2, b"ok").split()[3] == "x"
    assert framed(addr, b"a/b", 2, b"ok").split()[3] == "b"
    assert framed(addr, b"/etc/passwd", 2, b"ok").split()[3] == "passwd"
    refused = {
        b".hidden": "name starts with a dot",
        b"..": "name starts with a dot",
        b"dir/": "empty name",
        b"x" * 300: "name longer than 255 bytes",
        b"bell\x07": "control character in name",
        b"tab\there": "control character in name",
        b"\xff\xfe": "name is not valid UTF-8",
        b"csi\x9b2J": "name is not valid UTF-8",
        "csi\u009b2J".encode(): "control character in name",
        "nel\u0085x".encode(): "control character in name",
        "evil\u202egpj.exe".encode(): "bidirectional control character in name",
        "\u2066x\u2069".encode(): "bidirectional control character in name",
        "zero\u200bwidth".encode(): "invisible character in name",
        "bom\ufeff".encode(): "invisible character in name",
        "nb\u00a0space".encode(): "white space other than a space in name",
        "line\u2028sep".encode(): "white space other than a space in name",
        b" ": "name starts or ends with white space",
        b" lead": "name starts or ends with white space",
        b"trail ": "name starts or ends with white space",
        b"-rf": "name starts with a dash",
        b"20261125T083012Z_10.0.0.5_000001.bin": "name has the form of the daemon's own names",
    }
    for name, why in refused.items():
        answer = framed(addr, name, 2, b"no")
        assert answer == "ERR 400 bad name: %s\n" % why, (name, answer)
        # tcpx refuses the same names before it connects: to a closed port, still exit 2.
        rc, _, err = tcpx("send", "--name", name.decode(errors="surrogateescape"), "-",
                          "127.0.0.1:%d" % free_port(), stdin=b"no")
        assert rc == 2 and "the daemon would refuse this name: %s" % why in err, (name, rc, err)
    assert framed(addr, "caf\u00e9 \u2603.txt".encode(), 2, b"ok").split()[3:] == ["caf\u00e9", "\u2603.txt"]
    assert sorted(d.stored_files()) == sorted(["x", "b", "passwd", "caf\u00e9 \u2603.txt"])
    assert os.path.exists("/etc/passwd") and os.path.getsize("/etc/passwd") != 2
    assert d.stop() == 0


def test_declared_size_and_mismatches():
    d = daemon(max_file_size="1M")
    addr = d.addr("inbox")
    # Refused from the header alone: the data need not even be sent.
    with connect(addr) as s:
        s.sendall(SIG + b"1 %d huge\n" % ((1 << 20) + 1))
        assert read_all(s) == b"ERR 413 declared size exceeds max_file_size\n"
    with connect(addr) as s:
        s.sendall(SIG + b"1 %d vast\n" % (1 << 60))
        assert read_all(s) == b"ERR 413 declared size exceeds max_file_size\n"
    assert framed(addr, b"short", 10, b"12345") == "ERR 400 upload shorter than declared size\n"
    assert framed(addr, b"long", 3, b"12345") == "ERR 400 upload longer than declared size\n"
    d.wait_log(r"result=refused-size-mismatch", count=2)
    assert d.stored_files() == []
    assert d.stop() == 0


def test_free_space_declared():
    d = daemon(min_free_space="4T")
    with connect(d.addr("inbox")) as s:
        s.sendall(SIG + b"1 10 f\n")
        assert read_all(s) == b"ERR 507 insufficient storage\n"
    assert d.stored_files() == []
    assert d.stop() == 0


def test_client_killed_mid_stream():
    d = daemon()
    path = os.path.join(d.dir, "stream.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(200 << 20))
    p = subprocess.Popen([TCPX, "send", "-q", path, target(d.addr("inbox"))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d.wait_log(r"conn listener=inbox .* state=started")
    p.send_signal(signal.SIGKILL)
    p.wait()
    d.wait_log(r"conn listener=inbox .*result=(refused-size-mismatch|aborted-reset)")
    assert d.stored_files() == []
    assert d.stop() == 0


def test_header_byte_by_byte_and_bad_headers():
    d = daemon(idle_timeout=2)
    addr = d.addr("inbox")
    header = SIG + b"1 5 slow.txt\n"
    answer = framed(addr, b"", 0, b"hello", chunks=[bytes([b]) for b in header])
    check_ok(d, answer, b"hello")
    assert "slow.txt" in answer
    for bad, why in ((SIG + b"3 5 x\n", "unsupported header version"),
                     (SIG + b"2 5 x\n", "no name after the size"),
                     (SIG + b"1 -5 x\n", "size is not a decimal number"),
                     (SIG + b"1 05 x\n", "size is not a decimal number"),
                     (SIG + b"1 5\n", "no name after the size"),
                     (SIG + b"1 99999999999999999999999 x\n", "size too large"),
                     (SIG + b"1 5 " + b"y" * 600, "header longer than 512 bytes")):
        with connect(addr) as s:
            s.sendall(bad)
            assert read_all(s) == ("ERR 400 bad header: %s\n" % why).encode(), bad
    with connect(addr) as s:
        s.sendall(SIG + b"1 5 sta")   # then nothing
        assert read_all(s) == b"ERR 408 header timeout\n"
    # A whole signature then EOF is a framed upload cut short, not raw data.
    with connect(addr) as s:
        s.sendall(SIG + b"1 5")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 bad header: incomplete\n"
    # A proper prefix of the signature then EOF is a (tiny) raw file.
    check_ok(d, framed(addr, b"", 0, b"", chunks=[SIG[:3]]), SIG[:3])
    assert len(d.stored_files()) == 2 and "slow.txt" in d.stored_files()
    assert d.stop() == 0


def test_protocol_pinning():
    d = daemon(protocol="raw")
    data = SIG + b"1 3 name\nabc"
    check_ok(d, framed(d.addr("inbox"), b"name", 3, b"abc"), data)
    assert d.stop() == 0
    d = daemon(protocol="framed")
    with connect(d.addr("inbox")) as s:
        s.sendall(b"plain bytes")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ERR 400 bad header: framed header required\n"
    # A connection that sends nothing (a port scan, a health check) stores nothing
    # and gets no error that would mark the service down.
    with connect(d.addr("inbox")) as s:
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    assert d.stored_files() == []
    rc, out, err = tcpx("send", "--raw", "-", target(d.addr("inbox")), stdin=b"raw")
    assert rc == 3 and "refused: ERR 400 bad header: framed header required" in err, err
    assert d.stop() == 0


def fake_server(reply):
    """A one-shot server that reads a version 2 upload (CONTINUE 0 to a resumable
    header) and answers with reply."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        f = c.makefile("rb")
        f.readline()    # the signature's first 7 bytes end in LF
        _, size, _, upload_id, _ = f.readline().split(b" ", 4)
        if upload_id != b"-":
            c.sendall(b"CONTINUE 0\n")
        f.read(int(size))
        c.sendall(reply)
        f.close()
        c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return "127.0.0.1:%d" % srv.getsockname()[1]


def test_exit_codes():
    d = Daemon([], start=False)
    path = os.path.join(d.dir, "f")
    with open(path, "wb") as f:
        f.write(b"content")
    wrong = b"OK 7 sha256:" + b"0" * 64 + b" f\n"
    rc, _, err = tcpx("send", "-q", path, fake_server(wrong))
    assert rc == 4 and "receipt does not match" in err, (rc, err)
    rc, _, err = tcpx("send", "-q", path, fake_server(b"OK 8 sha256:%s f\n" %
                                                      hashlib.sha256(b"content").hexdigest().encode()))
    assert rc == 4, (rc, err)
    rc, _, err = tcpx("send", "-q", "--retries", "0", path, fake_server(b"ERR 503 busy\n"))
    assert rc == 3 and "refused: ERR 503 busy" in err, (rc, err)
    rc, _, err = tcpx("send", "-q", "--retries", "0", path, fake_server(b""))
    assert rc == 5 and "without a receipt" in err, (rc, err)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    rc, _, err = tcpx("send", "-q", "--retries", "0", path, "127.0.0.1:%d" % port)
    assert rc == 5 and "Connection refused" in err, (rc, err)
    rc, _, err = tcpx("send", "-q", os.path.join(d.dir, "missing"), "127.0.0.1:%d" % port)
    assert rc == 6, (rc, err)
    rc, _, err = tcpx("send", path, "no-port")
    assert rc == 2 and "HOST:PORT" in err, err
    rc, _, err = tcpx("frobnicate")
    assert rc == 2


def test_daemon_text_never_raw():
    """Bytes a server chose (stored name, ERR reason) reach the terminal escaped."""
    d = Daemon([], start=False)
    path = os.path.join(d.dir, "f")
    with open(path, "wb") as f:
        f.write(b"content")
    digest = hashlib.sha256(b"content").hexdigest().encode()
    name = "evil\u202egpj.exe\u0085\u009b2J".encode() + b"\x9b"
    p = subprocess.run([TCPX, "send", "-q", path, fake_server(b"OK 7 sha256:%s %s\n" % (digest, name))],
                       capture_output=True, timeout=WAIT * 2)
    assert p.returncode == 0, p
    assert p.stdout == b"%s -> evil\\u202egpj.exe\\u0085\\u009b2J\\x9b (7 bytes, sha256:%s)\n" % (
        path.encode(), digest), p.stdout
    reason = "no\u2066 \u00a0way\u2069".encode()
    p = subprocess.run([TCPX, "send", "-q", path, fake_server(b"ERR 403 %s\n" % reason)],
                       capture_output=True, timeout=WAIT * 2)
    assert p.returncode == 3 and p.stderr == b"tcpx: %s: refused: ERR 403 no\\u2066 \\u00a0way\\u2069\n" % (
        path.encode()), p


def test_echo_and_ping():
    d = daemon()
    rc, out, err = tcpx("echo", target(d.addr("echo")), "hello there")
    assert rc == 0 and out == "hello there", (rc, out, err)
    data = os.urandom(8 << 20)
    p = subprocess.run([TCPX, "echo", target(d.addr("echo"))], input=data, capture_output=True,
                       timeout=WAIT * 2)
    assert p.returncode == 0 and p.stdout == data, (p.returncode, p.stderr)
    rc, out, err = tcpx("ping", "-c", "20", "-i", "0", "-s", "100", target(d.addr("echo")))
    assert rc == 0, err
    assert len(re.findall(r"^100 bytes from .*: seq=\d+ time=[\d.]+ ms$", out, re.M)) == 20, out
    assert re.search(r"^20 sent, 20 received$", out, re.M), out
    assert re.search(r"^rtt min/avg/p99/max = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms$", out, re.M), out
    # An echo server that changes a byte is caught.
    liar = socket.socket()
    liar.bind(("127.0.0.1", 0))
    liar.listen(1)

    def lie():
        c, _ = liar.accept()
        c.sendall(c.recv(100).upper())
        c.close()

    threading.Thread(target=lie, daemon=True).start()
    rc, _, err = tcpx("echo", "127.0.0.1:%d" % liar.getsockname()[1], "abc")
    assert rc == 4 and "differs" in err, (rc, err)
    assert d.stop() == 0


run([test_send_sizes_and_names, test_unsafe_names, test_declared_size_and_mismatches,
     test_free_space_declared, test_client_killed_mid_stream, test_header_byte_by_byte_and_bad_headers,
     test_protocol_pinning, test_exit_codes, test_daemon_text_never_raw, test_echo_and_ping])
