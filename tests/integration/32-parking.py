#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Parking: a connection idle at a message boundary for park_after gives its
thread up (the daemon's thread count falls back to what it was when ready,
a debug line says state=parked, STATUS= counts it) and its first byte brings
it back on a new thread exactly where it left: echo connections echo every
byte, a protocol-2 connection parked between files uploads the next one, a
connection parked before its first byte is served, over TLS and behind a
PROXY header (its log line names the header's client) too.  A parked
connection keeps its generation across a reload, ends at its idle timeout
with the same line as one that never parked, still counts for
max_connections, and a stop ends 200 parked connections each with its
line.  park_after = 0 never parks."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

from tcpxdtest import (SLOW, WAIT, Daemon, check_ok, connect, have_tool, inbox, log_records,
                       read_all, read_line, refused_echo, run)

PARK = 100      # park_after of these tests, ms
SIG = b"\x89TCPX\r\n\x1a"
PARKED = r"conn listener=%s peer=\S+ port=\d+ state=parked$"


def echo_l(name="echo", **extra):
    return {"name": name, "mode": "echo", "address": "127.0.0.1", "port": 0,
            "park_after": PARK, **extra}


def daemon(listeners, **globals_):
    """listeners: a function of the daemon (for its directories), or a list."""
    d = Daemon([], start=False)
    d.write_config(listeners(d) if callable(listeners) else listeners, **globals_)
    d.start()
    return d


def threads(d):
    return len(os.listdir("/proc/%d/task" % d.proc.pid))


def wait_threads(d, n):
    """Waits until the daemon runs n threads.  A parked connection's thread exits
    just after its state=parked line, with no signal of its own: this polls."""
    deadline = time.monotonic() + WAIT
    while threads(d) != n:
        assert time.monotonic() < deadline, "threads %d, expected %d" % (threads(d), n)
        time.sleep(0.02)


def wait_parked(d, count, listener="echo"):
    """Waits for count state=parked lines of listener, then for their threads to be gone."""
    d.wait_log(PARKED % listener, count)
    wait_threads(d, d.idle[0])


def round_trip(s, data):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(1 << 16)
        assert chunk, "echo connection closed"
        got += chunk
    assert got == data, "echo differs"


def header(data, name):
    digest = b"sha256:" + hashlib.sha256(data).hexdigest().encode()
    return SIG + b"2 %d %s - %s\n" % (len(data), digest, name)


def conn_lines(d, listener):
    return [r for r in log_records(d, "conn") if r["listener"] == listener]


def parked_metric(d):
    """tcpxd_connections_parked of the metrics endpoint."""
    port = d.wait_log(r"metrics endpoint listening on 127\.0\.0\.1:(\d+)$")[0]
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=WAIT) as r:
        text = r.read().decode()
    return int(re.search(r"^tcpxd_connections_parked (\d+)$", text, re.M).group(1))


def test_echo_parks_and_resumes():
    d = daemon([echo_l()], max_per_ip=100, metrics={"address": "127.0.0.1", "port": 0})
    conns = [connect(d.addr("echo")) for _ in range(20)]
    for s in conns:
        round_trip(s, b"first")
    wait_parked(d, 20)
    assert "(20 parked)" in d.wait_status("20 parked")
    assert parked_metric(d) == 20
    # Back on a thread each, exactly where they left: every byte, in order, a large
    # message too (echo's big buffer is freed when it parks and taken again).
    big = os.urandom(3 << 20)
    for i, s in enumerate(conns):
        round_trip(s, b"second %d" % i)
    round_trip(conns[0], big)
    wait_parked(d, 40)
    for s in conns:
        round_trip(s, b"third")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
        s.close()
    d.wait_log(r"conn listener=echo .* result=ok$", 20)
    d.wait_log(r"state=resumed$", 40)
    lines = conn_lines(d, "echo")
    assert sorted(int(r["in"]) for r in lines) == sorted(
        len(b"first") + len(b"second %d" % i) + len(b"third") + (len(big) if i == 0 else 0)
        for i in range(20))
    assert all(r["in"] == r["out"] for r in lines)
    wait_threads(d, d.idle[0])
    assert d.stop() == 0


def test_first_byte_parks_and_zero_never_parks():
    """A connection that has sent nothing parks too; one on a park_after = 0
    listener, connected before it, never does."""
    d = daemon([echo_l(), echo_l("never", park_after=0)])
    never = connect(d.addr("never"))
    round_trip(never, b"x")
    s = connect(d.addr("echo"))
    d.wait_log(PARKED % "echo")
    # The never-parking connection keeps its thread: one more than when ready.
    wait_threads(d, d.idle[0] + 1)
    assert not re.search(PARKED % "never", d.log(), re.M)
    round_trip(s, b"late first byte")
    round_trip(never, b"y")
    s.close()
    never.close()
    d.wait_log(r"conn listener=echo .* in=15 out=15 .*result=ok$")
    d.wait_log(r"conn listener=never .* in=2 out=2 .*result=ok$")
    assert not re.search(PARKED % "never", d.log(), re.M)
    assert d.stop() == 0


def test_protocol2_between_files():
    d = daemon(lambda d: [{"name": "inbox", "mode": "receive", "address": "127.0.0.1",
                           "port": 0, "output_dir": inbox(d), "park_after": PARK}])
    one, two, three = b"first file\n", os.urandom(1 << 20), b"third\n"
    with connect(d.addr("inbox")) as s:
        # Parked before its first byte, then parked between files, twice.
        wait_parked(d, 1, "inbox")
        s.sendall(header(one, b"one.txt") + one)
        check_ok(d, read_line(s), one)
        wait_parked(d, 2, "inbox")
        s.sendall(header(two, b"two.bin") + two)
        check_ok(d, read_line(s), two)
        wait_parked(d, 3, "inbox")
        s.sendall(header(three, b"three.txt") + three)
        check_ok(d, read_line(s), three)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b""
    d.wait_log(r"conn listener=inbox .* files=3$")
    assert d.stored_files() == ["one.txt", "three.txt", "two.bin"]
    [line] = conn_lines(d, "inbox")
    assert line["result"] == "ok" and line["files"] == "3", line
    ups = log_records(d, "upload")
    assert [u["file_no"] for u in ups] == ["1", "2", "3"], ups
    # A file's ms= counts from the end of the one before, parked time included, as
    # it did when the connection kept its thread: the third waited past park_after.
    assert int(ups[2]["ms"]) >= PARK, ups[2]
    assert d.stop() == 0


def test_tls_parks_and_resumes():
    if not have_tool("openssl", "the TLS case (it makes its certificates with it)"):
        return
    import tempfile
    import shutil
    from tls_certs import make_certs
    from tls_client import TLSConn
    import ssl

    certs_dir = tempfile.mkdtemp(prefix="tcpxd-park-certs-")
    try:
        certs = make_certs(certs_dir)
        tls = {"certificate": certs.pem("server"), "key": certs.key("server")}
        # socat's listener parks only after a pause no scheduling delay of socat's makes.
        d = daemon([echo_l(tls=tls), echo_l("socat", tls=tls, park_after=5000 * SLOW)])
        ctx = ssl.create_default_context(cafile=certs.pem("ca"))
        c = TLSConn(d.addr("echo"), ctx)
        c.send(b"before")
        assert c.recv_exactly(6) == b"before"
        wait_parked(d, 1)
        for i in range(3):
            msg = b"after park %d " % i + os.urandom(40000)
            c.send(msg)
            assert c.recv_exactly(len(msg)) == msg
            wait_parked(d, 2 + i)
        c.close_notify()
        c.sock.shutdown(socket.SHUT_WR)
        d.wait_log(r"conn listener=echo .* tls=TLSv1\.[23] .*result=ok$")
        c.sock.close()
        # A record sent with the handshake's last flight is read ahead with it: OpenSSL
        # holds it where no poll() sees it, and it must be echoed, never parked on.
        c = TLSConn.__new__(TLSConn)
        c.sock = connect(d.addr("echo"))
        c.inc, c.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        c.obj = ctx.wrap_bio(c.inc, c.out, server_hostname="127.0.0.1")
        while True:
            try:
                c.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                c._flush()
                c.inc.write(c.sock.recv(1 << 16))
        c.obj.write(b"same flight")
        c._flush()          # Finished and the data in one write
        assert c.recv_exactly(11) == b"same flight"
        c.sock.close()
        d.wait_log(r"conn listener=echo .* in=11 out=11 .*result=aborted-tls-error$")
        # socat sends its line and close_notify at once: both read ahead, neither may
        # be parked on (socat would wait its -t 30 for an answer that never comes).
        if have_tool("socat", "the read-ahead case with socat"):
            for i in range(5):
                p = subprocess.run(["socat", "-t", "30", "-", "OPENSSL:localhost:%d,cafile=%s"
                                    % (d.addr("socat")[1], certs.pem("ca"))],
                                   input=b"hello\n", capture_output=True, timeout=WAIT * 2)
                assert p.stdout == b"hello\n", p
            d.wait_log(r"conn listener=socat .* in=6 out=6 .*result=ok$", 5)
            assert not re.search(PARKED % "socat", d.log(), re.M)
        assert d.stop() == 0
    finally:
        shutil.rmtree(certs_dir, ignore_errors=True)


def test_proxy_header_parks_and_resumes():
    d = daemon([echo_l(proxy_protocol=True, proxy_from=["127.0.0.1/32"])])
    s = connect(d.addr("echo"))
    s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 4242 7\r\n")
    round_trip(s, b"behind a balancer")
    wait_parked(d, 1)
    assert re.search(r"conn listener=echo peer=192\.0\.2\.7 port=4242 state=parked$", d.log(),
                     re.M)
    round_trip(s, b"and back")
    s.close()
    d.wait_log(r"conn listener=echo peer=192\.0\.2\.7 port=4242 via=127\.0\.0\.1 in=25 out=25 "
               r".*result=ok$")
    assert d.stop() == 0


def test_reload_keeps_the_generation():
    """Parked across a reload that denies loopback and lengthens idle_timeout: the
    connection is still served by its own generation, and ends at its own
    (short) idle timeout, not the new one (longer than this test waits).  Short,
    but longer than parking, a reload and a refused connection take a slow daemon:
    the connection must still be open for its second round trip."""
    first = [echo_l(idle_timeout=4 * SLOW)]
    d = daemon(first)
    s = connect(d.addr("echo"))
    round_trip(s, b"old")
    wait_parked(d, 1)
    d.write_config([echo_l(idle_timeout=3600, deny=["127.0.0.0/8"])])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners")
    assert refused_echo(d.addr("echo")), "the new generation must refuse loopback"
    round_trip(s, b"still served")
    wait_parked(d, 2)
    s.settimeout(WAIT)
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass
    d.wait_log(r"conn listener=echo .* in=15 out=15 .*result=aborted-idle$")
    s.close()
    assert d.stop() == 0


def test_idle_timeout_like_unparked():
    # Each connection's round trip right after its connect, within an idle_timeout that a
    # slow daemon's accept and first echo do not reach.
    idle = 2 * SLOW
    d = daemon([echo_l(idle_timeout=idle), echo_l("kept", idle_timeout=idle, park_after=0)])
    parked = connect(d.addr("echo"))
    round_trip(parked, b"abc")
    kept = connect(d.addr("kept"))
    round_trip(kept, b"abc")
    d.wait_log(PARKED % "echo")
    for s in (parked, kept):
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass        # an idle echo connection is reset (unread bytes are dropped)
        s.close()
    d.wait_log(r"conn listener=(echo|kept) .* result=aborted-idle$", 2)
    by = {r["listener"]: r for r in conn_lines(d, "echo") + conn_lines(d, "kept")}
    for key in ("in", "out", "result"):
        assert by["echo"][key] == by["kept"][key], (by, key)
    assert not re.search(PARKED % "kept", d.log(), re.M)
    assert d.stop() == 0


def test_max_connections_counts_parked():
    d = daemon([echo_l()], max_connections=3)
    conns = [connect(d.addr("echo")) for _ in range(3)]
    for s in conns:
        round_trip(s, b"!")
    wait_parked(d, 3)
    assert refused_echo(d.addr("echo")), "a 4th connection must be refused"
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1 reason=max_connections")
    conns.pop().close()
    d.wait_log(r"conn listener=echo .* result=ok$")
    late = connect(d.addr("echo"))
    round_trip(late, b"admitted again")
    for s in conns + [late]:
        s.close()
    d.wait_log(r"conn listener=echo .* result=ok$", 4)
    assert d.stop() == 0


def test_stop_ends_parked_connections():
    n = 200
    d = daemon([echo_l()], max_per_ip=n, shutdown_timeout=0)
    conns = [connect(d.addr("echo")) for _ in range(n)]
    for s in conns:
        round_trip(s, b"!")
    wait_parked(d, n)
    d.wait_status("(%d parked)" % n)
    assert d.stop() == 0
    assert "aborting %d unfinished connections" % n in d.log()
    lines = conn_lines(d, "echo")
    assert len(lines) == n and all(r["result"] == "aborted-shutdown" for r in lines), lines[:3]
    for s in conns:
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
        s.close()


run([test_echo_parks_and_resumes, test_first_byte_parks_and_zero_never_parks,
     test_protocol2_between_files, test_tls_parks_and_resumes,
     test_proxy_header_parks_and_resumes, test_reload_keeps_the_generation,
     test_idle_timeout_like_unparked, test_max_connections_counts_parked,
     test_stop_ends_parked_connections])
