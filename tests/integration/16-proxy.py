# SPDX-License-Identifier: ISC
"""PROXY protocol and reuseport, without a real balancer: the test writes
PROXY v1 and v2 headers itself over real sockets.  The client a header names
is the peer of the connection for logs (peer=CLIENT via=BALANCER), raw
stored names, allow/deny and max_per_ip; v2 LOCAL and v1 UNKNOWN keep the
balancer's address; a peer outside proxy_from is refused, a missing or bad
header gets ERR 400, an unfinished one ERR 408; headers split across writes
work; on a tls listener the header comes first, in clear, and answers go
inside TLS; tcpxd -t refuses proxy_protocol without proxy_from and the
reverse.
Two daemons with reuseport share one port and both serve, a third without
it cannot bind, and a reload may not toggle reuseport."""

import os
import re
import signal
import socket
import ssl
import struct
import tempfile
import time

from tcpxdtest import (SLOW, WAIT, Daemon, check_ok, cleanup_dir, close_with_reset, connect,
                       free_port, have_tool, inbox, read_all, run, run_tcpxd, upload)

SIG = b"\x89TCPX\r\n\x1a"       # the framed upload signature
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V2_LOCAL = V2_SIG + b"\x20\x00\x00\x00"
BALANCERS = ["127.0.0.1/32", "::1/128"]


def v1(client, port, dst=None, dport=7008):
    family = "TCP6" if ":" in client else "TCP4"
    dst = dst or ("2001:db8::1" if ":" in client else "192.0.2.1")
    return ("PROXY %s %s %s %d %d\r\n" % (family, client, dst, port, dport)).encode()


def v2(client, port, dport=7008, tlvs=b""):
    """A v2 PROXY command over TCP; tlvs are appended after the addresses."""
    if ":" in client:
        family = 0x21
        block = (socket.inet_pton(socket.AF_INET6, client) +
                 socket.inet_pton(socket.AF_INET6, "2001:db8::1"))
    else:
        family = 0x11
        block = socket.inet_pton(socket.AF_INET, client) + socket.inet_pton(socket.AF_INET,
                                                                            "192.0.2.1")
    payload = block + struct.pack("!HH", port, dport) + tlvs
    return V2_SIG + bytes([0x21, family]) + struct.pack("!H", len(payload)) + payload


def esc(text):
    return re.escape(text)


def conn_line(listener, peer, via=None, port=None, result="ok"):
    """Regex of the per-connection log line."""
    return r"conn listener=%s peer=%s port=%s%s(?: tls=\S+)? in=\d+ out=\d+ ms=\d+ .*result=%s" % (
        listener, esc(peer), port if port is not None else r"\d+",
        " via=" + esc(via) if via else "(?! via=)", result)


def send_through(addr, header, data, source=None, chunks=None):
    """One connection: header (or the given chunks), data, half-close; returns all
    that comes back."""
    with connect(addr, source) as s:
        try:
            if chunks is None:
                s.sendall(header + data)
            else:
                for piece in chunks:
                    s.sendall(piece)
                    time.sleep(0.01)   # paces the writes so the daemon sees them apart
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass    # an echo listener may close (reset) a refused connection at once
        try:
            return read_all(s)
        except OSError:
            return b""


def refused_echo(addr, header, source=None):
    """True if an echo connection behind header is closed without an echo."""
    s = connect(addr, source)
    try:
        s.sendall(header + b"?")
        try:
            s.shutdown(socket.SHUT_WR)      # so that a wrong echo comes back at once
        except OSError:                     # already reset by the refusal
            pass
        return read_all(s) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def held_echo(addr, header):
    """An echo connection proven admitted: a byte makes the round trip."""
    s = connect(addr)
    s.sendall(header + b"!")
    assert s.recv(1) == b"!"
    return s


def proxied_daemon(extra=None, **globals_):
    """Echo listeners on 127.0.0.1 and dual-stack ::, a receive listener, all
    behind PROXY headers from loopback balancers."""
    d = Daemon([], start=False)
    lst = dict(proxy_protocol=True, proxy_from=BALANCERS, **(extra or {}))
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0, **lst},
        {"name": "echo6", "mode": "echo", "address": "::", "port": 0, **lst},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **lst},
    ], **globals_)
    d.start()
    return d


def test_headers_name_the_client():
    d = proxied_daemon()
    echo, echo6 = d.addr("echo"), ("127.0.0.1", d.addr("echo6")[1])
    cases = [
        (echo, v1("192.0.2.7", 40001), "192.0.2.7", 40001, "echo", "127.0.0.1"),
        (echo, v1("2001:db8::7", 40002), "2001:db8::7", 40002, "echo", "127.0.0.1"),
        (echo, v2("198.51.100.9", 40003), "198.51.100.9", 40003, "echo", "127.0.0.1"),
        (echo, v2("2001:db8::9", 40004), "2001:db8::9", 40004, "echo", "127.0.0.1"),
        # TLVs (here a NOOP and an ALPN) are skipped.
        (echo, v2("198.51.100.10", 40005, tlvs=b"\x04\x00\x03abc\x01\x00\x02h2"),
         "198.51.100.10", 40005, "echo", "127.0.0.1"),
        # A balancer reaching a dual-stack listener over IPv4 (v4-mapped) or IPv6.
        (echo6, v1("192.0.2.8", 40006), "192.0.2.8", 40006, "echo6", "127.0.0.1"),
        (("::1", echo6[1]), v2("192.0.2.9", 40007), "192.0.2.9", 40007, "echo6", "::1"),
    ]
    for addr, header, client, port, listener, via in cases:
        data = os.urandom(1000) + header     # header bytes after the header are data
        assert send_through(addr, header, data) == data, client
        d.wait_log(conn_line(listener, client, via, port))
    assert d.stop() == 0


def test_uploads_named_after_the_header_client():
    d = proxied_daemon()
    addr = d.addr("inbox")
    data = os.urandom(300000)
    name = check_ok(d, send_through(addr, v1("203.0.113.5", 50000), data).decode(), data)
    assert re.fullmatch(r"\d{8}T\d{6}Z_203\.0\.113\.5_\d{6}\.bin", name), name
    d.wait_log(conn_line("inbox", "203.0.113.5", "127.0.0.1", 50000) + " stored=" + esc(name))
    name = check_ok(d, send_through(addr, v2("2001:db8::5", 50001), b"six").decode(), b"six")
    assert re.fullmatch(r"\d{8}T\d{6}Z_2001-db8--5_\d{6}\.bin", name), name
    # A framed upload after the header.
    answer = send_through(addr, v2("203.0.113.6", 50002), SIG + b"1 5 named.txt\nhello").decode()
    assert check_ok(d, answer, b"hello") == "named.txt"
    d.wait_log(conn_line("inbox", "203.0.113.6", "127.0.0.1", 50002) + " stored=named\\.txt")
    assert len(d.stored_files()) == 3
    assert d.stop() == 0


def test_peer_not_in_proxy_from_is_refused():
    d = Daemon([], start=False)
    d.write_config([
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
    ], proxy_protocol=True, proxy_from=["10.0.0.0/8"])
    d.start()
    assert upload(d.addr("inbox"), v1("10.1.2.3", 1234) + b"data") == "ERR 403 forbidden\n"
    d.wait_log(r"refused listener=inbox peer=127\.0\.0\.1 reason=not-in-proxy_from")
    # (Refusals on the same grounds are logged at most once a second.)
    assert refused_echo(d.addr("echo"), v1("10.1.2.3", 1234))
    assert d.stored_files() == []
    assert d.stop() == 0


def test_missing_or_bad_header():
    d = proxied_daemon()
    addr = d.addr("inbox")
    bad = [
        (b"plain data, no header", "not a PROXY header"),
        (b"GET / HTTP/1.0\r\n\r\n", "not a PROXY header"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "v1 header ends in LF without CR"),
        (b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", "bad v1 address"),   # family mismatch
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", "bad v1 port"),    # leading zero
        (V2_SIG + b"\x31\x11\x00\x0c" + bytes(12), "unsupported v2 version"),
        (V2_SIG + b"\x21\x11\x00\x04" + bytes(4), "v2 address block too short"),
    ]
    for n, (data, why) in enumerate(bad, 1):
        assert send_through(addr, b"", data) == b"ERR 400 bad proxy header\n", data
        found = d.wait_log(r"conn listener=inbox peer=127\.0\.0\.1 port=\d+ in=\d+ out=\d+ ms=\d+ "
                           r"error=\"([^\"]+)\" result=refused-bad-proxy-header$", count=n)
        assert found[n - 1] == why, found
    # On an echo listener: closed, nothing echoed.
    assert send_through(d.addr("echo"), b"", b"hello") == b""
    d.wait_log(conn_line("echo", "127.0.0.1", result="refused-bad-proxy-header"))
    # A balancer that closes in the middle of a header: an incomplete header, answered
    # like a bad one; one that resets there: a reset.  The log says which.
    assert send_through(addr, b"", b"PROXY TCP4 192.0.2.1") == b"ERR 400 bad proxy header\n"
    d.wait_log(r"conn listener=inbox peer=127\.0\.0\.1 port=\d+ in=0 out=25 ms=\d+ error=\"connection "
               r"closed before the PROXY header ended\" result=refused-bad-proxy-header$")
    s = connect(addr)
    s.sendall(V2_SIG[:7])
    close_with_reset(s)
    d.wait_log(r"conn listener=inbox peer=127\.0\.0\.1 port=\d+ in=0 out=0 ms=\d+ "
               r"error=\"recv failed\" result=aborted-reset$")
    assert d.stored_files() == []
    assert d.stop() == 0


def test_header_split_across_writes():
    d = proxied_daemon()
    h1 = v1("192.0.2.44", 44444)
    data = os.urandom(5000)
    assert send_through(d.addr("echo"), b"", data,
                        chunks=[h1[i:i + 1] for i in range(len(h1))]) == data
    d.wait_log(conn_line("echo", "192.0.2.44", "127.0.0.1", 44444))
    h2 = v2("2001:db8::44", 44445, tlvs=b"\x04\x00\x05xxxxx")
    answer = send_through(d.addr("inbox"), b"", data,
                          chunks=[h2[:5], h2[5:13], h2[13:15], h2[15:30], h2[30:]])
    name = check_ok(d, answer.decode(), data)
    assert "_2001-db8--44_" in name, name
    assert d.stop() == 0


def test_header_timeout():
    d = proxied_daemon(idle_timeout=2)
    for start in (b"PROXY TCP4 192.0.2.1", V2_SIG[:7], b""):
        t0 = time.monotonic()
        with connect(d.addr("inbox")) as s:
            s.sendall(start)
            assert read_all(s) == b"ERR 408 proxy header timeout\n", start
        elapsed = time.monotonic() - t0
        assert 1.5 < elapsed < 2 + 2 * SLOW, elapsed   # min(10 s, idle_timeout)
    d.wait_log(conn_line("inbox", "127.0.0.1", result="aborted-proxy-timeout"), count=3)
    assert d.stored_files() == []
    assert d.stop() == 0


def test_allow_deny_apply_to_the_header_client():
    # The balancer, 127.0.0.1, is in neither list: only the clients are matched.
    d = proxied_daemon(extra={"allow": ["192.0.2.0/24"], "deny": ["192.0.2.66/32"]})
    addr = d.addr("inbox")
    assert send_through(addr, v1("192.0.2.66", 6666), b"no") == b"ERR 403 forbidden\n"
    d.wait_log(conn_line("inbox", "192.0.2.66", "127.0.0.1", 6666, "refused-denied"))
    assert send_through(addr, v2("198.51.100.1", 6667), b"no") == b"ERR 403 forbidden\n"
    d.wait_log(conn_line("inbox", "198.51.100.1", "127.0.0.1", 6667, "refused-denied"))
    assert d.stored_files() == []
    name = check_ok(d, send_through(addr, v1("192.0.2.67", 6668), b"yes").decode(), b"yes")
    assert "_192.0.2.67_" in name
    assert refused_echo(d.addr("echo"), v2("192.0.2.66", 6669))
    d.wait_log(conn_line("echo", "192.0.2.66", "127.0.0.1", 6669, "refused-denied"))
    assert d.stored_files() == [name]
    assert d.stop() == 0


def test_max_per_ip_counts_the_header_client():
    # Every connection comes from 127.0.0.1: only the header clients are counted.
    d = proxied_daemon(max_per_ip=2)
    echo, addr = d.addr("echo"), d.addr("inbox")
    held = [held_echo(echo, v1("192.0.2.1", 1000 + i)) for i in range(2)]
    assert refused_echo(echo, v2("192.0.2.1", 1002))
    d.wait_log(conn_line("echo", "192.0.2.1", "127.0.0.1", 1002, "refused-per-ip"))
    # The count covers all listeners.
    assert send_through(addr, v1("192.0.2.1", 1003), b"x") == b"ERR 503 busy: max_per_ip\n"
    d.wait_log(conn_line("inbox", "192.0.2.1", "127.0.0.1", 1003, "refused-per-ip"))
    assert d.stored_files() == []
    # Other clients, through the same balancer, are served meanwhile.
    others = [held_echo(echo, v1("192.0.2.2", 2000 + i)) for i in range(2)]
    check_ok(d, send_through(addr, v2("192.0.2.3", 3000), b"other").decode(), b"other")
    held.pop().close()
    d.wait_log(conn_line("echo", "192.0.2.1", "127.0.0.1", 1001))
    check_ok(d, send_through(addr, v1("192.0.2.1", 1004), b"again").decode(), b"again")
    for s in held + others:
        s.close()
    assert d.stop() == 0


def test_local_keeps_the_balancer_address():
    d = proxied_daemon(extra={"deny": ["192.0.2.0/24"]})
    assert send_through(d.addr("echo"), V2_LOCAL, b"health") == b"health"
    assert send_through(d.addr("echo"), b"PROXY UNKNOWN\r\n", b"check") == b"check"
    assert send_through(d.addr("echo"), b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", b"x") == b"x"
    d.wait_log(conn_line("echo", "127.0.0.1"), count=3)
    # A LOCAL header with TLVs: the block is skipped whole.
    local_tlv = V2_SIG + b"\x20\x11\x00\x11" + bytes(12) + b"\x04\x00\x02ab"
    name = check_ok(d, send_through(d.addr("inbox"), local_tlv, b"local").decode(), b"local")
    assert "_127.0.0.1_" in name, name
    d.wait_log(conn_line("inbox", "127.0.0.1") + " stored=" + esc(name))
    assert " via=" not in "".join(l for l in d.log().splitlines() if "peer=127.0.0.1 " in l)
    # A balancer's health check (LOCAL, here then an orderly close) is no upload: nothing is
    # stored, nothing answered, and its line is at debug level only.
    before = set(os.listdir(inbox(d)))
    assert send_through(d.addr("inbox"), V2_LOCAL, b"") == b""
    assert send_through(d.addr("inbox"), b"PROXY UNKNOWN\r\n", b"") == b""
    d.wait_log(r"tcpxd: debug: " + conn_line("inbox", "127.0.0.1", result="ok-health-check"),
               count=2)
    assert set(os.listdir(inbox(d))) == before
    # A proxied client that sends nothing is a probe like any other: nothing stored.
    assert send_through(d.addr("inbox"), v2("198.51.100.9", 4000), b"") == b""
    d.wait_log(r"tcpxd: debug: " + conn_line("inbox", "198.51.100.9", via="127.0.0.1", result="empty"))
    assert set(os.listdir(inbox(d))) == before
    assert d.stop() == 0


def test_health_check_touches_no_storage():
    """A health check is told from an upload before any work on the output directory:
    one whose free space is below min_free_space refuses every upload (ERR 507) but
    still answers health checks as healthy, raw and auto listeners alike."""
    d = Daemon([], start=False)
    lst = dict(proxy_protocol=True, proxy_from=BALANCERS, min_free_space="100000T")
    d.write_config([
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **lst},
        {"name": "raw", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "protocol": "raw", **lst},
    ])
    d.start()
    for name in ("inbox", "raw"):
        assert send_through(d.addr(name), V2_LOCAL, b"x") == b"ERR 507 insufficient storage\n"
        d.wait_log(conn_line(name, "127.0.0.1", result="refused-low-space"))
        assert send_through(d.addr(name), V2_LOCAL, b"") == b""
        assert send_through(d.addr(name), b"PROXY UNKNOWN\r\n", b"") == b""
        d.wait_log(r"tcpxd: debug: " + conn_line(name, "127.0.0.1", result="ok-health-check"),
                   count=2)
    assert d.stored_files() == []
    assert d.stop() == 0


def tls_daemon(**inbox_extra):
    """Echo and receive listeners with tls behind PROXY headers, and the CertDir."""
    from tls_certs import CertDir
    d = Daemon([], start=False)
    certs = CertDir(os.path.join(d.dir, "certs"))
    os.mkdir(certs.path)
    certs.make_ca("ca", "proxy test CA")
    certs.make_cert("server", "ca", "localhost", san="IP:127.0.0.1")
    tls = {"certificate": certs.pem("server"), "key": certs.key("server")}
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0, "tls": tls},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "deny": ["192.0.2.66"], "tls": tls, **inbox_extra},
    ], proxy_protocol=True, proxy_from=["127.0.0.1"])
    d.start()
    return d, certs


def test_tls_after_the_header():
    """The header comes first, in clear; then the rules on the client it names; then the
    TLS handshake; answers go inside TLS."""
    if not have_tool("openssl", "the TLS part (certificates)"):
        return
    d, certs = tls_daemon()
    ctx = ssl.create_default_context(cafile=certs.pem("ca"))

    def tls_through(addr, header, data):
        with connect(addr) as raw:
            raw.sendall(header)
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(data)
                return s.recv(100)

    assert tls_through(d.addr("echo"), v2("192.0.2.7", 7777), b"over tls") == b"over tls"
    d.wait_log(r"conn listener=echo peer=192\.0\.2\.7 port=7777 via=127\.0\.0\.1 tls=TLSv1\.[23] ")
    # A client refused by the rules is refused before the handshake (which it could
    # stretch to the deadline while holding a max_per_ip slot): the connection just
    # ends, with no plain-text answer a TLS client could not read anyway.
    try:
        reply = tls_through(d.addr("inbox"), v1("192.0.2.66", 6666), b"x")
    except (ssl.SSLError, ConnectionError):
        reply = None
    assert reply in (None, b""), reply
    d.wait_log(conn_line("inbox", "192.0.2.66", "127.0.0.1", 6666, "refused-denied"))
    assert " tls=" not in [l for l in d.log().splitlines() if "refused-denied" in l][0]
    # Without a header there is no plain-text answer on a TLS listener.
    assert send_through(d.addr("inbox"), b"", b"plain data") == b""
    d.wait_log(conn_line("inbox", "127.0.0.1", result="refused-bad-proxy-header"))
    assert d.stored_files() == []
    assert d.stop() == 0


def test_tls_limits_before_the_handshake():
    """max_per_ip of the client a header names is taken before the TLS handshake, which
    the client could stretch to the deadline: two connections for one client, neither
    shaking hands, and one is refused at once, not when a handshake times out."""
    if not have_tool("openssl", "the TLS part (certificates)"):
        return
    d, _ = tls_daemon(max_per_ip=1)
    held = [connect(d.addr("inbox")) for _ in range(2)]
    for s in held:
        s.sendall(v1("198.51.100.1", 1000))
    d.wait_log(conn_line("inbox", "198.51.100.1", "127.0.0.1", 1000, "refused-per-ip"))
    refused = [l for l in d.log().splitlines() if "refused-per-ip" in l][0]
    assert " tls=" not in refused and " prefix=198.51.100.1/32" in refused, refused
    assert "refused-tls-handshake" not in d.log()
    for s in held:
        s.close()
    assert d.stop() == 0


def test_probes_before_the_header():
    """A connection that ends before the first byte of its PROXY header, closed or reset
    (a port scan, a balancer's TCP check), is empty: at debug level only, counted as
    empty, on echo and receive listeners alike."""
    d = proxied_daemon()
    for name in ("echo", "inbox"):
        connect(d.addr(name)).close()
        close_with_reset(connect(d.addr(name)))
    d.wait_log(r"^tcpxd: debug: " + conn_line("(?:echo|inbox)", "127.0.0.1", result="empty$"),
               count=4)
    assert not re.search(r"^tcpxd: (?!debug).*result=", d.log(), re.M), d.log()
    d.wait_status(" 4 empty;")
    assert d.stored_files() == []
    assert d.stop() == 0


def test_health_checks_are_one_rule():
    """A health check (LOCAL or UNKNOWN, then nothing more: an orderly close or a
    reset, as HAProxy's checks end) is the same on every listener: on echo, "framed"
    and TLS ones too, nothing is answered, echoed or stored, no upload is counted as
    failed, and the line is at debug level."""
    d = Daemon([], start=False)
    lst = {"address": "127.0.0.1", "port": 0, "proxy_protocol": True, "proxy_from": BALANCERS}
    d.write_config([{"name": "framed", "mode": "receive", "output_dir": inbox(d),
                     "protocol": "framed", **lst},
                    {"name": "echo", "mode": "echo", **lst}])
    d.start()
    checked = health_checks(d, ("framed", "echo"))
    # STATUS= comes once a second, and queued ones may be older: the first with every
    # connection accepted and ended (a connection is counted accepted as it starts, and its
    # upload as failed only before it ends).
    status = d.wait_status("0 active, %d accepted," % checked)
    assert "uploads 0 stored, 0 failed, 0 empty" in status, status
    assert d.stored_files("inbox") == [] and "ERR 400" not in d.log()
    assert d.stop() == 0
    if not have_tool("openssl", "the TLS part (certificates)"):
        return
    d, _ = tls_daemon()
    health_checks(d, ("echo", "inbox"))
    assert "refused-tls-handshake" not in d.log()
    assert d.stop() == 0


def health_checks(d, listeners):
    """LOCAL and UNKNOWN health checks ended by a close and by a reset, on each listener;
    returns how many connections that made."""
    for name in listeners:
        for header in (V2_LOCAL, b"PROXY UNKNOWN\r\n"):
            assert send_through(d.addr(name), header, b"") == b""
            s = connect(d.addr(name))
            s.sendall(header)
            close_with_reset(s)
        d.wait_log(r"^tcpxd: debug: " + conn_line(name, "127.0.0.1", result="ok-health-check$"),
                   count=4)
    assert not re.search(r"^tcpxd: (?!debug).*result=", d.log(), re.M), d.log()
    return 4 * len(listeners)


def check_config(text):
    workdir = tempfile.mkdtemp(prefix="tcpxd-test-")
    conf = os.path.join(workdir, "tcpxd.conf")
    try:
        with open(conf, "w") as f:
            f.write(text)
        rc, out, err = run_tcpxd("-t", "-c", conf)
    finally:
        cleanup_dir(workdir)
    return conf, rc, out, err


def test_check_config():
    bad = [  # (configuration, what follows "tcpxd: FILE" on stderr)
        ('listeners = (\n'
         '  { name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1;\n'
         '    proxy_protocol = true; }\n);\n',
         r':2: listener "e": proxy_protocol = true needs proxy_from'),
        ('proxy_from = [ "127.0.0.1/32" ];\n'
         'listeners = (\n'
         '  { name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1; }\n);\n',
         r':3: listener "e": proxy_from has no effect without proxy_protocol = true'),
        ('listeners = (\n'
         '  { name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1;\n'
         '    proxy_protocol = true;\n'
         '    proxy_from = [ "10.0.0.1/8" ]; }\n);\n',
         r':4: proxy_from: "10\.0\.0\.1/8" is not a valid'),
    ]
    for text, where in bad:
        conf, rc, _, err = check_config(text)
        assert rc == 1 and re.search(r"^tcpxd: error: %s%s" % (esc(conf), where), err, re.M), err
    # Defaults at the top level, inherited by every listener.
    conf, rc, out, err = check_config(
        'proxy_protocol = true;\nproxy_from = [ "192.0.2.10", "2001:db8::/64" ];\n'
        'reuseport = true;\n'
        'listeners = ( { name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1; } );\n')
    assert rc == 0, err
    for line in ("reuseport = true;", "proxy_protocol = true;", "proxy_from = [ "):
        assert line in out, (line, out)
    assert "192.0.2.10" in out and "2001:db8::/64" in out, out


def echo_listener(port, **extra):
    return [{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": port, **extra}]


def served(d):
    return len(re.findall(r"conn listener=echo .*result=ok", d.log()))


def test_reuseport_shares_a_port():
    port = free_port()
    a = Daemon(echo_listener(port, reuseport=True))
    b = Daemon(echo_listener(port, reuseport=True))
    assert a.addr("echo") == b.addr("echo") == ("127.0.0.1", port)
    for i in range(200):
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"%d" % i)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b"%d" % i
    deadline = time.monotonic() + WAIT
    while served(a) + served(b) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)   # log lines have no readiness signal
    assert served(a) + served(b) == 200, (served(a), served(b))
    assert served(a) > 0 and served(b) > 0, (served(a), served(b))
    # A daemon without reuseport cannot join them, and says why.
    c = Daemon(echo_listener(port), start=False)
    c.start(expect_ready=False)
    assert c.proc.wait(WAIT) == 1
    c.kill()
    c.check_sanitizer()
    assert re.search(r"listener \"echo\": cannot listen on 127\.0\.0\.1 port %d: Address already "
                     r"in use" % port, c.log()), c.log()
    # Once one has stopped, the other serves every connection.
    assert a.stop() == 0
    before = served(b)
    for i in range(20):
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"after")
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b"after"
    b.wait_log(r"conn listener=echo .*result=ok", count=before + 20)
    assert b.stop() == 0


def echoes(addr):
    with connect(addr) as s:
        s.sendall(b"still")
        s.shutdown(socket.SHUT_WR)
        return read_all(s) == b"still"


def test_reload_cannot_toggle_reuseport():
    for before in (False, True):
        d = Daemon(echo_listener(0, reuseport=before))
        addr = d.addr("echo")
        d.write_config(echo_listener(0, reuseport=not before))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload failed: %s:\d+: listener \"echo\": changing reuseport needs a restart; "
                   r"keeping the current configuration" % esc(d.conf))
        d.wait_notify("READY=1")
        assert echoes(addr)
        # Other changes to the same listener reload fine, on the same socket.
        d.write_config(echo_listener(0, reuseport=before, idle_timeout=30))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reloaded: 1 listeners")
        assert echoes(addr)
        assert d.stop() == 0


run([test_headers_name_the_client, test_uploads_named_after_the_header_client,
     test_peer_not_in_proxy_from_is_refused, test_missing_or_bad_header,
     test_header_split_across_writes, test_header_timeout,
     test_allow_deny_apply_to_the_header_client, test_max_per_ip_counts_the_header_client,
     test_local_keeps_the_balancer_address, test_tls_after_the_header,
     test_tls_limits_before_the_handshake, test_health_check_touches_no_storage,
     test_probes_before_the_header, test_health_checks_are_one_rule, test_check_config,
     test_reuseport_shares_a_port, test_reload_cannot_toggle_reuseport])
