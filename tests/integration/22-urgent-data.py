# SPDX-License-Identifier: ISC
"""Every byte a client sends is data, urgent ones (TCP out-of-band,
MSG_OOB, as telnet sends them) included: echo sends them back in place and
a raw upload stores them, whether they come before the connection's thread
runs or while it is served.  On a TLS listener an urgent byte breaks the
TLS record stream: the connection fails as a TLS error (echo stops, an
upload stores nothing), never with the byte silently dropped."""

import socket
import ssl

from tcpxdtest import Daemon, check_ok, connect, read_all, run
from tls_certs import make_test_certs, plain_and_tls_listeners
from tls_client import TLSConn

CERTS = make_test_certs()


def daemon():
    d = Daemon([], start=False)
    d.write_config(plain_and_tls_listeners(d, CERTS))
    d.start()
    return d


def send_with_urgent(s, parts):
    """Sends parts in order, every other one (the 2nd, 4th ...) as urgent data."""
    for i, part in enumerate(parts):
        if i % 2:
            assert s.send(part, socket.MSG_OOB) == len(part)
        else:
            s.sendall(part)


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        assert b, "the daemon closed after %r" % got
        got += b
    return got


def test_echo():
    d = daemon()
    # All at once: the urgent byte may come before the daemon accepts.
    with connect(d.addr("echo")) as s:
        send_with_urgent(s, [b"abc", b"X", b"def", b"Y", b"ghi"])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"abcXdefYghi"
    # To a connection being served.
    with connect(d.addr("echo")) as s:
        s.sendall(b"abc")
        assert recv_exactly(s, 3) == b"abc"
        send_with_urgent(s, [b"", b"X", b"def"])
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"Xdef"
    d.wait_log(r"conn listener=echo .*in=11 out=11 .*result=ok")
    d.wait_log(r"conn listener=echo .*in=7 out=7 .*result=ok")
    assert d.stop() == 0


def test_raw_upload():
    d = daemon()
    with connect(d.addr("inbox")) as s:
        send_with_urgent(s, [b"abc", b"X", b"def"])
        s.shutdown(socket.SHUT_WR)
        check_ok(d, read_all(s).decode(), b"abcXdef")
    assert d.stop() == 0


def tls_with_urgent(d, listener):
    """A TLS client that sends a record, a bare urgent byte, another record."""
    c = TLSConn(d.addr(listener), ssl.create_default_context(cafile=CERTS.pem("ca")))
    c.send(b"abc")
    if listener == "echo-tls":
        assert c.recv_exactly(3) == b"abc"
    c.sock.send(b"X", socket.MSG_OOB)
    try:
        c.send(b"def")
        c.close_notify()
        c.fin()
    except OSError:
        pass        # the daemon may have failed the stream and reset already
    got, how = c.recv_all()
    c.close()
    return got, how


def test_tls_fails_on_urgent_byte():
    d = daemon()
    got, how = tls_with_urgent(d, "echo-tls")
    assert got == b"" and how != "close_notify", (got, how)
    d.wait_log(r"conn listener=echo-tls .*result=aborted-tls-error")
    got, how = tls_with_urgent(d, "inbox-tls")
    assert got == b"", "an answer to a broken TLS stream: %r" % got
    d.wait_log(r"conn listener=inbox-tls .*result=aborted-tls-error")
    assert d.stored_files() == []
    assert d.stop() == 0


run([test_echo, test_raw_upload, test_tls_fails_on_urgent_byte])
