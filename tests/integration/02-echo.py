# SPDX-License-Identifier: ISC
"""Echo service: 0 B, 1 B and 10 MiB of random bytes come back byte-exact on
IPv4 and IPv6 listeners, 200 concurrent clients are all served, and every
connection gets its log line.  A connection that ends before its first byte,
closed or reset (a port scan, nc -z), is result=empty at debug level only and
counted as empty in STATUS=."""

import os
import threading

from tcpxdtest import Daemon, close_with_reset, connect, echo, run

LISTENERS = [
    {"name": "echo4", "mode": "echo", "address": "127.0.0.1", "port": 0},
    {"name": "echo6", "mode": "echo", "address": "::1", "port": 0},
]


def test_small_and_empty():
    d = Daemon(LISTENERS)
    for name in ("echo4", "echo6"):
        assert echo(d.addr(name), b"") == b""
        assert echo(d.addr(name), b"x") == b"x"
        assert echo(d.addr(name), b"hello\n") == b"hello\n"
    d.wait_log(r"conn listener=echo4 .* in=6 out=6 .*result=ok")
    assert d.stop() == 0


def test_probes_are_empty():
    d = Daemon(LISTENERS)
    for name in ("echo4", "echo6"):
        connect(d.addr(name)).close()
        close_with_reset(connect(d.addr(name)))
    d.wait_log(r"^tcpxd: debug: conn listener=echo[46] .* in=0 out=0 ms=\d+ result=empty$", count=4)
    assert "result=empty" not in "".join(l for l in d.log().splitlines() if "debug:" not in l)
    status = d.wait_status(" 4 empty;")
    assert "4 accepted" in status, status
    assert d.stop() == 0


def test_10mib_random_exact():
    d = Daemon(LISTENERS)
    data = os.urandom(10 << 20)
    assert echo(d.addr("echo4"), data) == data
    assert echo(d.addr("echo6"), data) == data
    d.wait_log(r"conn listener=echo6 .* in=%d out=%d .*result=ok" % (len(data), len(data)))
    assert d.stop() == 0


def test_200_concurrent_clients():
    d = Daemon(LISTENERS, max_connections=1000, max_per_ip=300)
    socks = [connect(d.addr("echo4")) for _ in range(200)]
    # Every client is connected before any finishes: all 200 are served at once.
    for i, s in enumerate(socks):
        s.sendall(b"client %d\n" % i)
    errors = []

    def finish(i, s):
        try:
            want = b"client %d\n" % i
            got = b""
            while len(got) < len(want):
                chunk = s.recv(100)
                assert chunk, "closed early"
                got += chunk
            assert got == want, (got, want)
            s.sendall(os.urandom(1000))
            s.shutdown(1)
            rest = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                rest += chunk
            assert len(rest) == 1000
        except Exception as e:  # collected and asserted below
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=finish, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    d.wait_log(r"conn listener=echo4 .*result=ok", count=200)
    assert d.stop() == 0


def test_v6only():
    """"::" is dual-stack by default; v6only = true keeps IPv4 clients out."""
    d = Daemon([{"name": "dual", "mode": "echo", "address": "::", "port": 0},
                {"name": "v6", "mode": "echo", "address": "::", "port": 0, "v6only": True}])
    assert echo(("127.0.0.1", d.addr("dual")[1]), b"v4") == b"v4"
    assert echo(("::1", d.addr("dual")[1]), b"v6") == b"v6"
    assert echo(("::1", d.addr("v6")[1]), b"v6") == b"v6"
    try:
        connect(("127.0.0.1", d.addr("v6")[1]), timeout=5).close()
        raise AssertionError("an IPv4 client reached a v6only listener")
    except ConnectionRefusedError:
        pass
    assert d.stop() == 0


run([test_v6only, test_small_and_empty, test_probes_are_empty, test_10mib_random_exact,
     test_200_concurrent_clients])
