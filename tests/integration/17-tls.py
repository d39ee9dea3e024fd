# SPDX-License-Identifier: ISC
"""TLS listeners, with certificates the test makes with the openssl tool.
tcpx --tls echoes, pings and uploads (framed and raw) with verified
receipts and byte-exact files, and a raw upload it abandons is not
stored (no close_notify); a Python ssl client echoes on TLS 1.3 and
1.2, and resumes sessions, also with a client certificate; ERR answers travel inside TLS; a raw or framed upload whose TLS stream
ends with a TCP FIN but no close_notify stores nothing; a plain-text client
on a TLS port is refused without an answer and the daemon keeps serving;
accept-time refusals on a TLS listener just close; tcpx refuses a
certificate from another CA, an expired one or one for another name or
address, and gives up a handshake after --timeout (exit 5), and refuses
bad TLS options (2) or files (6); verify_client refuses a
client without a certificate or with one from another CA, and logs the
subject of a good one; a stalled handshake is closed by the deadline;
SIGHUP renews certificates for new connections only, and a bad certificate
path on reload names FILE:LINE and keeps the old configuration; tcpxd -t
refuses a missing or mismatched key with FILE:LINE.  After the failure
cases the daemon has as many threads and descriptors as before.  The
socat, ncat and openssl s_client one-liners of man tcpxd's TLS section are
run as written there, including those it says do not fit uploads."""

import atexit
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from tcpxdtest import (SLOW, WAIT, Daemon, check_ok, cleanup_dir, close_with_reset, connect, have_tool,
                       inbox, parse_log_line, parse_ok, read_all, run, run_tcpxd, upload)
from tls_certs import make_certs
from tls_client import TLSConn

TCPX = os.path.join(os.path.dirname(os.environ.get("TCPXD", "tcpxd")), "tcpx")
SRCDIR = os.environ.get("TCPXD_SRCDIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SIG = b"\x89TCPX\r\n\x1a"

if not have_tool("openssl", "this test (it makes its certificates with it)"):
    raise SystemExit(77)
CERTS_DIR = tempfile.mkdtemp(prefix="tcpxd-tls-certs-")
if not os.environ.get("TCPXD_KEEP_TEST_DIRS"):
    atexit.register(shutil.rmtree, CERTS_DIR, True)
CERTS = make_certs(CERTS_DIR)


def fingerprint(name):
    with open(CERTS.pem(name)) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


# ---- the daemon ----------------------------------------------------------------

def tls(cert="server", ca=None, **extra):
    """A listener's tls group.  cert: a name of the tls_certs set, or a path without
    its .pem/.key; ca: the CA of client certificates (verify_client = true)."""
    group = {"certificate": CERTS.pem(cert) if "/" not in cert else cert + ".pem",
             "key": CERTS.key(cert) if "/" not in cert else cert + ".key"}
    if ca:
        group.update(ca=CERTS.pem(ca), verify_client=True)
    group.update(extra)
    return group


def daemon(listeners, env=None, **globals_):
    """listeners: a function of the daemon (for its directories) returning the list."""
    d = Daemon([], start=False)
    d.write_config(listeners(d), **globals_)
    d.start(env=env)
    return d


def echo_l(name="echo", **extra):
    return {"name": name, "mode": "echo", "address": "127.0.0.1", "port": 0, **extra}


def recv_l(d, name="inbox", **extra):
    return {"name": name, "mode": "receive", "address": "127.0.0.1", "port": 0,
            "output_dir": inbox(d, name), **extra}


def conn_line(listener, result, extra=""):
    return r"conn listener=%s peer=127\.0\.0\.1 port=\d+ %s.*result=%s\b" % (
        listener, extra, result)


# ---- clients -------------------------------------------------------------------

def target(addr, host=None):
    h, port = addr
    h = host or h
    return ("[%s]:%d" if ":" in h else "%s:%d") % (h, port)


def tcpx(*args, stdin=None):
    p = subprocess.run([TCPX, *args], input=stdin, capture_output=True, timeout=WAIT * 2)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def client_ctx(ca="ca", cert=None, version=None):
    ctx = ssl.create_default_context(cafile=CERTS.pem(ca))
    if cert:
        ctx.load_cert_chain(CERTS.pem(cert), CERTS.key(cert))
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def plain_attempt(addr, data):
    """Plain text sent, half-closed, and what came back; the daemon may have closed
    (even reset) the connection before the half-close."""
    with connect(addr) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:     # EPIPE, ECONNRESET, ENOTCONN
            pass
        return read_all(s)


def tls_upload(addr, data, end="close_notify"):
    """A raw upload over TLS ended by close_notify + FIN, or a bare FIN; returns the answer."""
    c = TLSConn(addr, client_ctx())
    c.send(data)
    if end == "close_notify":
        c.close_notify()
    c.fin()
    answer, how = c.recv_all()
    c.close()
    return answer.decode(errors="replace"), how


# ---- tests ---------------------------------------------------------------------

def test_tcpx_echo_ping_send():
    d = daemon(lambda d: [echo_l(tls=tls()), recv_l(d, tls=tls(), max_file_size="4M"),
                          echo_l("echo6", address="::1", tls=tls()),
                          echo_l("misnamed", tls=tls("misnamed"))])
    ca = ("--tls", "--ca", CERTS.pem("ca"))
    echo, box = target(d.addr("echo")), target(d.addr("inbox"))
    rc, out, err = tcpx("echo", *ca, echo, "hello over TLS")
    assert (rc, out) == (0, "hello over TLS"), (rc, out, err)
    # By name: the certificate's DNS:localhost; by address: its IP:127.0.0.1.
    rc, out, err = tcpx("echo", *ca, target(d.addr("echo"), "localhost"), "by name")
    assert (rc, out) == (0, "by name"), (rc, out, err)
    data = os.urandom(4 << 20)
    p = subprocess.run([TCPX, "echo", *ca, echo], input=data, capture_output=True, timeout=WAIT * 2)
    assert p.returncode == 0 and p.stdout == data, (p.returncode, p.stderr)
    rc, out, err = tcpx("ping", *ca, "-c", "10", "-i", "0", "-s", "1000", echo)
    assert rc == 0 and re.search(r"^10 sent, 10 received$", out, re.M), (rc, out, err)
    # Framed and raw uploads: receipts verified by tcpx, files compared here.
    for size, name in ((0, "empty"), (1, "one"), (3 << 20, "three-mib.bin")):
        path = os.path.join(d.dir, name)
        content = os.urandom(size)
        with open(path, "wb") as f:
            f.write(content)
        rc, out, err = tcpx("send", "-q", *ca, path, box)
        assert rc == 0 and out == "%s -> %s (%d bytes, sha256:%s)\n" % (
            path, name, size, hashlib.sha256(content).hexdigest()), (rc, out, err)
        with open(os.path.join(d.dir, "inbox", name), "rb") as f:
            assert f.read() == content
        if size == 0:
            continue    # a raw connection without a byte is a probe: nothing is stored
        p = subprocess.run([TCPX, "send", "--raw", *ca, "-", box], input=content,
                           capture_output=True, timeout=WAIT * 2)
        assert p.returncode == 0, p.stderr
        stored = re.fullmatch(r"stdin -> (\S+) \(%d bytes, sha256:[0-9a-f]{64}\)\n" % size,
                              p.stdout.decode()).group(1)
        with open(os.path.join(d.dir, "inbox", stored), "rb") as f:
            assert f.read() == content
    # An ERR answer comes inside TLS too.
    big = os.path.join(d.dir, "big")
    with open(big, "wb") as f:
        f.truncate(5 << 20)
    rc, _, err = tcpx("send", "-q", *ca, big, box)
    assert rc == 3 and "refused: ERR 413 declared size exceeds max_file_size" in err, (rc, err)
    d.wait_log(conn_line("inbox", "ok", r"tls=TLSv1\.3 "), count=5)
    d.wait_log(conn_line("echo", "ok", r"tls=TLSv1\.3 "), count=4)
    # --insecure: no verification (the same daemon, no --ca).
    rc, out, err = tcpx("echo", "--tls", "--insecure", echo, "unverified")
    assert (rc, out) == (0, "unverified"), (rc, out, err)
    # Certificates that must not be accepted: exit 5 with host:port: TLS: reason.
    rc, _, err = tcpx("echo", "--tls", echo, "x")        # the system's CAs do not know ours
    assert rc == 5 and err.startswith("tcpx: %s: TLS: certificate verification failed" % echo), err
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("other-ca"), echo, "x")
    assert rc == 5 and err == ("tcpx: %s: TLS: certificate verification failed: unable to get "
                               "local issuer certificate\n" % echo), err
    rc, _, err = tcpx("send", "--tls", "--ca", CERTS.pem("other-ca"), big, box)
    assert rc == 5 and "TLS: certificate verification failed" in err, err
    echo6 = target(d.addr("echo6"))       # ::1 is not in the certificate
    rc, _, err = tcpx("echo", *ca, echo6, "x")
    assert rc == 5 and err == ("tcpx: %s: TLS: certificate verification failed: IP address "
                               "mismatch\n" % echo6), err
    misnamed = target(d.addr("misnamed"), "localhost")     # only other.example.net in it
    rc, _, err = tcpx("echo", *ca, misnamed, "x")
    assert rc == 5 and err == ("tcpx: %s: TLS: certificate verification failed: hostname "
                               "mismatch\n" % misnamed), err
    # A server that never answers the ClientHello: --timeout bounds the handshake.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(1)
        where = "127.0.0.1:%d" % mute.getsockname()[1]
        rc, _, err = tcpx("echo", *ca, "--timeout", "1", where, "x")
    assert rc == 5 and err == "tcpx: %s: TLS: handshake timeout\n" % where, (rc, err)
    # Usage errors (2) and unusable files (6), before any connection.
    for args, why in ((("--ca", CERTS.pem("ca")), "--ca needs --tls"),
                      (("--tls", "--insecure", "--ca", CERTS.pem("ca")), "exclude each other"),
                      (("--tls", "--key", CERTS.key("client")), "--key needs --cert")):
        rc, _, err = tcpx("echo", *args, echo, "x")
        assert rc == 2 and why in err, (args, rc, err)
    rc, _, err = tcpx("echo", echo, "x", "--tls", "--ca")
    assert rc == 2 and "option --ca needs a value" in err, (rc, err)
    missing = os.path.join(d.dir, "missing.pem")
    rc, _, err = tcpx("echo", "--tls", "--ca", missing, echo, "x")
    assert rc == 6 and err == "tcpx: --ca %s: No such file or directory\n" % missing, err
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.key("ca"), echo, "x")      # a key, no CA
    assert rc == 6 and "TLS: CA %s: " % CERTS.key("ca") in err, err
    rc, _, err = tcpx("send", "--tls", "--ca", CERTS.pem("ca"), "--cert", CERTS.pem("client"),
                      "--key", CERTS.key("server"), big, box)
    assert rc == 6 and "TLS: key %s: " % CERTS.key("server") in err, err
    assert "big" not in os.listdir(os.path.join(d.dir, "inbox"))
    assert d.stop() == 0


def test_abandoned_raw_upload_not_stored():
    """tcpx gives up a raw upload (the file shrinks under it): no close_notify, so the
    daemon stores nothing, where a plain TCP FIN would have stored what came."""
    d = daemon(lambda d: [recv_l(d, tls=tls())])
    path = os.path.join(d.dir, "shrinking")
    with open(path, "wb") as f:
        f.truncate(64 << 30)        # sparse: read as fast as it is sent, never sent whole
    p = subprocess.Popen([TCPX, "send", "-q", "--raw", "--tls", "--ca", CERTS.pem("ca"), path,
                          target(d.addr("inbox"))], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Once tcpx has read some of the file (its offset in /proc), shrink the file.
    deadline = time.monotonic() + WAIT
    while True:
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        try:
            fds = [fd for fd in os.listdir("/proc/%d/fd" % p.pid)
                   if os.readlink("/proc/%d/fd/%s" % (p.pid, fd)) == path]
            with open("/proc/%d/fdinfo/%s" % (p.pid, fds[0])) as f:
                if int(f.readline().split()[1]) > 0:
                    break
        except (OSError, IndexError):
            pass
        time.sleep(0.01)    # polling /proc: there is no signal for "has started reading"
    os.truncate(path, 0)
    out, err = p.communicate(timeout=WAIT * 2)
    assert p.returncode == 6 and b"file shrank while sending" in err, (p.returncode, err)
    # tcpx resets an abandoned upload: the daemon sees the reset, or the stream cut short.
    d.wait_log(conn_line("inbox", "aborted-(tls-error|reset)", r"tls=TLSv1\.3 in=[1-9]\d* out=0 "))
    assert os.listdir(os.path.join(d.dir, "inbox")) == []
    assert d.stop() == 0


def test_header_deadline_inside_tls():
    """A framed header must be complete within min(10 s, idle_timeout) also when the TLS
    record carrying it trickles in a byte at a time, each byte well within idle_timeout:
    the daemon answers ERR 408 before the record is complete.  TLS 1.2, so that no
    session ticket arrives after the handshake to look like an answer."""
    d = daemon(lambda d: [recv_l(d, "inbox", tls=tls(), idle_timeout=2)])
    c = TLSConn(d.addr("inbox"), client_ctx(version=ssl.TLSVersion.TLSv1_2))
    c.send(b"\x89")          # the header has begun: its deadline runs from here
    c.obj.write(b"TCPX\r\n\x1a1 100 name\n" + b"x" * 200)
    record = c.out.read()
    sent = 0
    while sent < len(record):
        c.sock.sendall(record[sent:sent + 1])
        sent += 1
        if select.select([c.sock], [], [], 0.15)[0]:
            break
    assert sent < len(record), "the daemon waited for the whole record"
    reply, how = c.recv_all()
    assert (reply, how) == (b"ERR 408 header timeout\n", "close_notify"), (reply, how)
    c.close()
    d.wait_log(conn_line("inbox", "aborted-idle"))
    assert d.stored_files() == []
    assert d.stop() == 0


def test_python_ssl_echo():
    d = daemon(lambda d: [echo_l(tls=tls())])
    for version, logged in ((None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
        c = TLSConn(d.addr("echo"), client_ctx(version=version))
        assert c.obj.version() == logged
        assert c.peer_fingerprint() == fingerprint("server")
        assert dict(x[0] for x in c.obj.getpeercert()["subject"])["commonName"] == "localhost"
        data = os.urandom(100 << 10)     # fits in the socket buffers
        c.send(data)
        assert c.recv_exactly(len(data)) == data
        c.close_notify()
        c.fin()
        assert c.recv_all() == (b"", "close_notify")
        c.close()
        d.wait_log(conn_line("echo", "ok", r"tls=%s in=%d out=%d " % (logged, len(data),
                                                                    len(data))))
    # The standard library's own socket wrapper, as most Python clients use it.
    with client_ctx().wrap_socket(connect(d.addr("echo")), server_hostname="localhost") as s:
        s.sendall(b"ping\n")
        assert s.recv(100) == b"ping\n"
        s.unwrap()
    d.wait_log(conn_line("echo", "ok"), count=3)
    assert d.stop() == 0


def test_stop_as_connections_end():
    """A stop that begins while connection threads are still unwinding: the daemon may exit
    (and OpenSSL clean up) before they are gone, so they must release the configuration
    (SSL_CTX, output directories) before they let it exit.  The test hook makes every
    thread linger past that point; a sanitizer build reports anything touched after it."""
    d = daemon(lambda d: [echo_l(tls=tls()), recv_l(d, tls=tls())],
               env={"TCPXD_TEST_FAULTS": "1"})
    with client_ctx().wrap_socket(connect(d.addr("echo")), server_hostname="localhost") as s:
        s.sendall(b"ping\n")
        assert s.recv(100) == b"ping\n"
        s.unwrap()
    c = TLSConn(d.addr("inbox"), client_ctx())
    c.send(b"last words\n")
    c.close_notify()
    c.fin()
    reply, how = c.recv_all()
    assert reply.startswith(b"OK 11 "), reply
    c.close()
    d.wait_log(conn_line("echo", "ok"))
    d.wait_log(conn_line("inbox", "ok"))
    assert d.stop() == 0
    assert len(d.stored_files()) == 1


def test_session_resumption():
    """Clients that keep sessions (curl, Go, Java, Python with session=) resume them, on
    TLS 1.3 and 1.2, with and without verify_client; a resumed session keeps its client
    certificate's subject in the log."""
    d = daemon(lambda d: [echo_l(tls=tls()), echo_l("mtls", tls=tls(ca="ca"))])
    for name in ("echo", "mtls"):
        for version, logged in ((ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
                                (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
            ctx = client_ctx(cert="client", version=version)
            session = None
            for reused in (False, True):
                try:
                    s = ctx.wrap_socket(connect(d.addr(name)), server_hostname="localhost",
                                        session=session)
                except ssl.SSLError as e:
                    d.wait_log(conn_line(name, "refused-tls-handshake"))
                    raise AssertionError("%s, %s, resumed %s: %s; the daemon says:\n%s" % (
                        name, logged, reused, e, d.log().strip().splitlines()[-1]))
                with s:
                    s.sendall(b"x")
                    assert s.recv(1) == b"x"       # TLS 1.3 tickets come after the handshake
                    assert s.session_reused == reused, (name, logged, reused)
                    session = s.session
                    s.unwrap()
            subject = ' subject="CN=tcpx test client"' if name == "mtls" else ""
            d.wait_log(conn_line(name, "ok", r"tls=%s%s in=1 out=1 " % (logged, subject)),
                       count=2)
    assert d.stop() == 0


def test_probes_are_empty():
    """A connection that ends before its first byte, closed or reset (a port scan, nc -z),
    is no failed handshake: result=empty at debug level only, counted as empty."""
    d = daemon(lambda d: [echo_l(tls=tls()), recv_l(d, tls=tls())])
    for name in ("echo", "inbox"):
        connect(d.addr(name)).close()
        close_with_reset(connect(d.addr(name)))
    d.wait_log(r"^tcpxd: debug: " + conn_line("(?:echo|inbox)", "empty", r"in=0 out=0 ms=\d+ "),
               count=4)
    assert "refused-tls-handshake" not in d.log()
    assert not re.search(r"^tcpxd: (?!debug).*result=empty", d.log(), re.M), d.log()
    d.wait_status(" 4 empty;")
    assert d.stored_files() == []
    assert d.stop() == 0


def test_failures_then_no_leaks():
    """Every way a TLS connection can fail, on one daemon, which must then have no more
    threads and descriptors than when it became ready."""
    d = daemon(lambda d: [
        echo_l(tls=tls()), recv_l(d, tls=tls()), recv_l(d, "framed", protocol="framed", tls=tls()),
        echo_l("expired", tls=tls("expired")), echo_l("mtls", tls=tls(ca="ca")),
        recv_l(d, "mtls-inbox", tls=tls(ca="ca")),
        recv_l(d, "denied", deny=["127.0.0.0/8"], tls=tls()), recv_l(d, "plain")],
        idle_timeout=2)
    # A served connection and a refused one first: the first of each leaves nothing either.
    rc, out, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), target(d.addr("echo")), "warm")
    assert rc == 0, err
    assert upload(d.addr("plain"), b"warm").startswith("OK ")
    with connect(d.addr("denied")) as s:
        assert read_all(s) == b""
    d.wait_log(r"refused listener=denied peer=127\.0\.0\.1 reason=denied$")
    d.wait_log(conn_line("plain", "ok"))
    d.wait_idle_resources()
    logged = len(re.findall(r"^tcpxd: info: conn ", d.log(), re.M))
    expected = 0

    # A raw upload whose TLS stream ends with a FIN but no close_notify: nothing stored.
    data = os.urandom(1 << 20)
    # (OpenSSL answers the cut-off stream with a decode_error alert, or just closes.)
    answer, how = tls_upload(d.addr("inbox"), data, end="fin")
    assert answer == "" and how != "close_notify", (answer, how)
    d.wait_log(conn_line("inbox", "aborted-tls-error", r"tls=TLSv1\.3 in=%d " % len(data)))
    # The same for a complete framed upload: the end of the stream must be proven too.
    answer, how = tls_upload(d.addr("framed"), SIG + b"1 3 f.txt\nabc", end="fin")
    assert answer == "" and how != "close_notify", (answer, how)
    d.wait_log(conn_line("framed", "aborted-tls-error"))
    # With close_notify, the same upload is stored (the helper is not at fault).
    answer, how = tls_upload(d.addr("inbox"), data)
    assert how == "close_notify"
    name = check_ok(d, answer, data)
    assert os.listdir(os.path.join(d.dir, "inbox")) == [name]
    assert os.listdir(os.path.join(d.dir, "framed")) == []
    expected += 3

    # Plain text on a TLS port: no answer at all, nothing stored.
    assert plain_attempt(d.addr("inbox"), b"plain text, no TLS\n") == b""
    d.wait_log(conn_line("inbox", "refused-tls-handshake",
                         r"in=0 out=0 ms=\d+ error=\"wrong version number\" "))
    assert plain_attempt(d.addr("echo"), b"GET / HTTP/1.0\r\n\r\n") == b""
    expected += 2
    # Refused at accept time on a TLS listener: closed, no plain-text ERR.
    assert plain_attempt(d.addr("denied"), b"anything") == b""

    # Certificates tcpx must refuse.
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), target(d.addr("expired")), "x")
    assert rc == 5 and err == ("tcpx: %s: TLS: certificate verification failed: certificate "
                               "has expired\n" % target(d.addr("expired"))), err
    d.wait_log(conn_line("expired", "refused-tls-handshake", r".*error=\"[^\"]*expired\" "))
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("other-ca"), target(d.addr("echo")), "x")
    assert rc == 5, err
    d.wait_log(conn_line("echo", "refused-tls-handshake", r".*error=\"tlsv1 alert unknown ca\" "))
    expected += 2

    # verify_client: no certificate, or one from another CA, is refused.
    mtls = target(d.addr("mtls"))
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), mtls, "x")
    assert rc == 5, err
    rc, _, err = tcpx("send", "-q", "--tls", "--ca", CERTS.pem("ca"), "-", "--name", "n",
                      target(d.addr("mtls-inbox")), stdin=b"no certificate")
    assert rc == 5, err
    d.wait_log(conn_line("mtls-inbox", "refused-tls-handshake",
                         r"in=0 out=0 ms=\d+ error=\"peer did not return a certificate\" "))
    rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), "--cert", CERTS.pem("rogue-client"),
                      "--key", CERTS.key("rogue-client"), mtls, "x")
    assert rc == 5, err     # the alert, or a reset if the data sent after it came first
    # The certificate that failed is named (PROTOCOL.md section 6), though unverified.
    d.wait_log(conn_line("mtls", "refused-tls-handshake",
                         r'subject="CN=rogue client" in=0 out=0 ms=\d+ error="certificate '
                         r'verification failed: unable to get local issuer certificate" '))
    # On TLS 1.2 the refusal comes inside the handshake itself.
    try:
        TLSConn(d.addr("mtls"), client_ctx(version=ssl.TLSVersion.TLSv1_2))
        raise AssertionError("handshake without a client certificate succeeded")
    except (ssl.SSLError, ConnectionResetError):
        pass
    d.wait_log(conn_line("mtls", "refused-tls-handshake", r".*error=\"peer did not return a "
                         r"certificate\" "), count=2)
    assert os.listdir(os.path.join(d.dir, "mtls-inbox")) == []
    expected += 4

    # A handshake that stalls is closed by its deadline, min(10 s, idle_timeout = 2).
    silent, partial = connect(d.addr("echo")), connect(d.addr("inbox"))
    partial.sendall(b"\x16\x03\x01\x02\x00\x01")     # a ClientHello's first bytes, then nothing
    for s in (silent, partial):
        assert read_all(s) == b""
        s.close()
    for _, ms in d.wait_log(conn_line("(echo|inbox)", "refused-tls-handshake",
                                      r"in=0 out=0 ms=(\d+) error=\"handshake timeout\" "), count=2):
        assert 1900 <= int(ms) < 2000 + 1000 * SLOW, ms
    # A client that resets in the middle of the handshake.
    s = connect(d.addr("inbox"))
    s.sendall(b"\x16\x03\x01\x02\x00\x01")
    close_with_reset(s)
    expected += 3

    # The daemon still serves, with and without a client certificate as each listener wants.
    rc, out, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), target(d.addr("echo")), "still")
    assert (rc, out) == (0, "still"), err
    rc, out, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), "--cert", CERTS.pem("client"),
                        "--key", CERTS.key("client"), mtls, "with a certificate")
    assert (rc, out) == (0, "with a certificate"), err
    d.wait_log(conn_line("mtls", "ok", r'tls=TLSv1\.3 subject="CN=tcpx test client" in=18 '))
    # --cert alone: a PEM file with both the certificate and its key.
    both = os.path.join(d.dir, "client-both.pem")
    with open(both, "w") as f:
        for path in (CERTS.pem("client"), CERTS.key("client")):
            with open(path) as part:
                f.write(part.read())
    rc, out, err = tcpx("send", "--tls", "--ca", CERTS.pem("ca"), "--cert", both,
                        "--name", "mine.txt", "-", target(d.addr("mtls-inbox")), stdin=b"mutual")
    assert rc == 0 and " -> mine.txt (6 bytes" in out, err
    d.wait_log(conn_line("mtls-inbox", "ok", r'tls=TLSv1\.3 subject="CN=tcpx test client" '))
    expected += 3

    d.wait_log(r"^tcpxd: info: conn ", count=logged + expected)
    d.wait_idle_resources()
    assert d.stop() == 0


def test_reload_renews_certificate():
    live = None

    def listeners(d):
        nonlocal live
        live = os.path.join(d.dir, "live")
        for ext in ("pem", "key"):
            shutil.copy(getattr(CERTS, ext)("server"), live + "." + ext)
        return [echo_l(tls=tls(live)), recv_l(d, tls=tls(live))]

    d = daemon(listeners)
    before = TLSConn(d.addr("echo"), client_ctx())
    assert before.peer_fingerprint() == fingerprint("server")
    before.send(b"before the reload ")
    assert before.recv_exactly(18) == b"before the reload "
    upload_in_flight = TLSConn(d.addr("inbox"), client_ctx())
    first = os.urandom(256 << 10)
    upload_in_flight.send(first)
    # New files in place (each renamed over the old one), then SIGHUP.
    for ext in ("key", "pem"):
        shutil.copy(getattr(CERTS, ext)("server2"), live + ".new")
        os.replace(live + ".new", live + "." + ext)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 2 listeners")
    after = TLSConn(d.addr("echo"), client_ctx())
    assert after.peer_fingerprint() == fingerprint("server2")
    after.close_notify()
    after.fin()
    assert after.recv_all() == (b"", "close_notify")
    # The connections made before the reload go on as they were.
    before.send(b"and after")
    assert before.recv_exactly(9) == b"and after"
    assert before.peer_fingerprint() == fingerprint("server")
    before.close_notify()
    before.fin()
    assert before.recv_all() == (b"", "close_notify")
    second = os.urandom(256 << 10)
    upload_in_flight.send(second)
    upload_in_flight.close_notify()
    upload_in_flight.fin()
    answer, how = upload_in_flight.recv_all()
    check_ok(d, answer.decode(), first + second)
    d.wait_log(conn_line("echo", "ok", r"tls=TLSv1\.3 in=27 out=27 "))

    # A certificate that cannot be loaded: FILE:LINE, and the old configuration stays.
    missing = os.path.join(d.dir, "missing")
    d.write_config([echo_l(tls=tls(missing)), recv_l(d, tls=tls(live))])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload failed: %s:%d: listener \"echo\": tls certificate %s: .*; keeping the "
               r"current configuration" % (re.escape(d.conf), d.line_of(missing),
                                           re.escape(missing + ".pem")))
    c = TLSConn(d.addr("echo"), client_ctx())
    assert c.peer_fingerprint() == fingerprint("server2")
    c.send(b"still here")
    assert c.recv_exactly(10) == b"still here"
    c.close()
    # A key that does not match its certificate, the same.
    d.write_config([echo_l(tls=tls(live)),
                    recv_l(d, tls={"certificate": live + ".pem", "key": CERTS.key("client")})])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload failed: %s:%d: listener \"inbox\": tls key %s: key values mismatch; "
               % (re.escape(d.conf), d.line_of(CERTS.key("client")),
                  re.escape(CERTS.key("client"))))
    assert tls_upload(d.addr("inbox"), b"x")[0].startswith("OK 1 ")
    assert d.stop() == 0


def test_check_config():
    d = Daemon([], start=False)      # never started: run() does not remove its directory
    try:
        check_config(d)
    finally:
        if not os.environ.get("TCPXD_KEEP_TEST_DIRS"):
            cleanup_dir(d.dir)


def check_config(d):
    def check(group):
        d.write_config([echo_l(tls=group)])
        rc, out, err = run_tcpxd("-t", "-c", d.conf)
        return rc, out + err

    rc, out = check(tls())
    assert rc == 0 and "certificate = \"%s\"" % CERTS.pem("server") in out, (rc, out)
    missing = os.path.join(d.dir, "missing.key")
    rc, out = check({"certificate": CERTS.pem("server"), "key": missing})
    assert rc == 1 and re.search(r"%s:%d: listener \"echo\": tls key %s: " % (
        re.escape(d.conf), d.line_of(missing), re.escape(missing)), out), out
    rc, out = check({"certificate": CERTS.pem("server"), "key": CERTS.key("server2")})
    assert rc == 1 and re.search(r"%s:%d: listener \"echo\": tls key %s: key values mismatch" % (
        re.escape(d.conf), d.line_of("server2.key"), re.escape(CERTS.key("server2"))), out), out


# ---- the one-liners of man tcpxd, section TLS -----------------------------------
# Written as in the page (host files.example.net, ports 7017 echo, 7018 receive,
# 7019 receive with verify_client), and run in a directory holding ca.pem,
# client.pem, client.key and report.pdf, with the host and ports replaced.  The
# test's variants use port 7016 for an echo listener whose certificate names
# another host.

DOC = {
    "tcpx_echo": "tcpx echo --tls --ca ca.pem files.example.net:7017 hello",
    "socat_echo": "echo hello | socat -t 30 - OPENSSL:files.example.net:7017,cafile=ca.pem",
    "ncat_echo": "echo hello | ncat --ssl --ssl-verify --ssl-trustfile ca.pem "
                 "files.example.net 7017",
    "s_client_echo": "openssl s_client -quiet -verify_quiet -verify_return_error -CAfile ca.pem "
                     "-verify_hostname files.example.net -connect files.example.net:7017",
    "tcpx_send": "tcpx send --tls --ca ca.pem report.pdf files.example.net:7018",
    "socat_send": "socat -t 30 - OPENSSL:files.example.net:7018,cafile=ca.pem < report.pdf",
    "tcpx_send_cert": "tcpx send --tls --ca ca.pem --cert client.pem --key client.key "
                      "report.pdf files.example.net:7019",
    "socat_send_cert": "socat -t 30 - OPENSSL:files.example.net:7019,cafile=ca.pem,"
                       "cert=client.pem,key=client.key < report.pdf",
    "ncat_send": "ncat --ssl --ssl-verify --ssl-trustfile ca.pem files.example.net 7018 "
                 "< report.pdf",
    "s_client_send": "openssl s_client -quiet -no_ign_eof -nocommands -verify_quiet "
                     "-verify_return_error -CAfile ca.pem -verify_hostname files.example.net "
                     "-connect files.example.net:7018 < report.pdf",
}


def man_text():
    """man/tcpxd.8 with the groff escapes the one-liners use undone, lines joined."""
    with open(os.path.join(SRCDIR, "man", "tcpxd.8")) as f:
        text = f.read()
    for esc, plain in (("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\e", "\\"), ("\\&", "")):
        text = text.replace(esc, plain)
    return text


class OneLiners:
    def __init__(self):
        self.d = daemon(lambda d: [
            {"name": "echo-tls", "mode": "echo", "address": "localhost", "port": 0, "tls": tls()},
            {"name": "inbox-tls", "mode": "receive", "address": "localhost", "port": 0,
             "output_dir": inbox(d, "inbox-tls"), "tls": tls(), "idle_timeout": 2},
            {"name": "drop-mtls", "mode": "receive", "address": "localhost", "port": 0,
             "output_dir": inbox(d, "drop-mtls"), "tls": tls(ca="ca")},
            # For the checks of the name: a certificate for other.example.net only.
            {"name": "misnamed", "mode": "echo", "address": "localhost", "port": 0,
             "tls": tls("misnamed")}])
        self.cwd = os.path.join(self.d.dir, "client")
        os.mkdir(self.cwd)
        for src, dst in ((CERTS.pem("ca"), "ca.pem"), (CERTS.pem("client"), "client.pem"),
                         (CERTS.key("client"), "client.key")):
            shutil.copy(src, os.path.join(self.cwd, dst))
        self.report = os.urandom(48213)
        with open(os.path.join(self.cwd, "report.pdf"), "wb") as f:
            f.write(self.report)
        self.env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(TCPX)) + ":" +
                        os.environ.get("PATH", ""))
        self.man = " ".join(man_text().split())

    def command(self, key, variant=None):
        """The one-liner of the page, or a variant of it made by the test."""
        assert DOC[key] in self.man, "not in man tcpxd: %s" % DOC[key]
        doc = variant or DOC[key]
        ports = {"7016": "misnamed", "7017": "echo-tls", "7018": "inbox-tls", "7019": "drop-mtls"}
        cmd = re.sub(r"\b(701[6789])\b", lambda m: str(self.d.addr(ports[m.group(1)])[1]), doc)
        return cmd.replace("files.example.net", "localhost")

    def run(self, key, variant=None, stdin=None):
        p = subprocess.run(["sh", "-c", self.command(key, variant)], cwd=self.cwd, env=self.env,
                           input=stdin, capture_output=True, timeout=WAIT * 2)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def popen(self, key, variant=None):
        return subprocess.Popen(["sh", "-c", "exec " + self.command(key, variant)], cwd=self.cwd,
                                env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def stored(self, listener):
        return self.d.stored_files(listener)

    def check_receipt(self, out, listener):
        size, digest, name = parse_ok(out)
        assert (size, digest) == (len(self.report), hashlib.sha256(self.report).hexdigest())
        with open(os.path.join(self.d.dir, listener, name), "rb") as f:
            assert f.read() == self.report


def read_line_within(stream, timeout):
    """One line from a pipe, or None after timeout (the reading thread is left to end
    with the pipe)."""
    got = []
    t = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return got[0] if got else None


def echoes_a_line(o, command, line):
    """Runs an s_client_echo variant, and tells whether line comes back; then kills it."""
    p = o.popen("s_client_echo", command)
    p.stdin.write(line)
    p.stdin.flush()
    got = read_line_within(p.stdout, WAIT)
    p.kill()
    p.wait()
    for f in (p.stdin, p.stdout, p.stderr):
        f.close()
    return got == line


def test_one_liners_tcpx_socat():
    o = OneLiners()
    rc, out, err = o.run("tcpx_echo")
    assert (rc, out) == (0, "hello"), (rc, out, err)
    rc, out, err = o.run("tcpx_send")
    assert rc == 0 and out.startswith("report.pdf -> report.pdf (48213 bytes"), (rc, out, err)
    rc, out, err = o.run("tcpx_send_cert")
    assert rc == 0 and out.startswith("report.pdf -> report.pdf (48213 bytes"), (rc, out, err)
    o.d.wait_log(conn_line("drop-mtls", "ok", r'tls=TLSv1\.3 subject="CN=tcpx test client" '))
    if have_tool("socat", "its one-liners"):
        rc, out, err = o.run("socat_echo")
        assert (rc, out) == (0, "hello\n"), (rc, out, err)
        o.d.wait_log(conn_line("echo-tls", "ok", r"tls=TLSv1\.3 in=6 out=6 "))
        rc, out, err = o.run("socat_send")
        assert rc == 0, (rc, err)
        o.check_receipt(out, "inbox-tls")
        rc, out, err = o.run("socat_send_cert")
        assert rc == 0, (rc, err)
        o.check_receipt(out, "drop-mtls")
        o.d.wait_log(conn_line("drop-mtls", "ok", r'tls=TLSv1\.3 subject="CN=tcpx test client" '),
                     count=2)
        # socat checks the certificate: another CA fails, and nothing is stored...
        rc, out, err = o.run("socat_send", DOC["socat_send"].replace("ca.pem", "client.pem"))
        assert rc != 0 and out == "" and "certificate verify failed" in err, (rc, out, err)
        assert len(o.stored("inbox-tls")) == 2      # tcpx's and socat's
        # ...and so does a certificate for another name.
        rc, out, err = o.run("socat_echo", DOC["socat_echo"].replace("7017", "7016"))
        assert rc != 0 and out == "" and "does not match" in err, (rc, out, err)
    assert o.d.stop() == 0


def test_one_liners_ncat():
    if not have_tool("ncat", "its one-liners"):
        return
    o = OneLiners()
    rc, out, err = o.run("ncat_echo")
    assert (rc, out) == (0, "hello\n"), (rc, out, err)
    # ncat ends with a TCP FIN but no close_notify: the echo came back all the same...
    o.d.wait_log(conn_line("echo-tls", "aborted-tls-error", r"tls=TLSv1\.3 in=6 out=6 "))
    # ...but an upload is never stored, and there is no receipt.
    rc, out, err = o.run("ncat_send")
    assert out == "", (rc, out, err)
    o.d.wait_log(conn_line("inbox-tls", "aborted-tls-error", r"tls=TLSv1\.3 in=48213 out=0 "))
    assert o.stored("inbox-tls") == []
    # ncat matches only names, not the certificate's IP addresses.
    rc, out, err = o.run("ncat_echo", DOC["ncat_echo"].replace("files.example.net", "127.0.0.1"))
    assert rc != 0 and out == "" and "Certificate verification error" in err, (rc, out, err)
    assert o.d.stop() == 0


def test_one_liners_s_client():
    o = OneLiners()
    # Interactive echo: each line comes back; it ends only when interrupted.
    p = o.popen("s_client_echo")
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    assert read_line_within(p.stdout, WAIT) == b"hello\n"
    p.stdin.close()             # -quiet implies -ign_eof: the end of input changes nothing
    p.send_signal(signal.SIGINT)
    p.wait(WAIT)
    o.d.wait_log(conn_line("echo-tls", "aborted-tls-error", r"tls=TLSv1\.3 in=6 out=6 "))
    p.stdout.close()
    p.stderr.close()
    # -verify_return_error matters: without it a failed verification is only a message.
    lax = DOC["s_client_echo"].replace(" -verify_return_error", "").replace("ca.pem", "client.pem")
    assert "-verify_return_error" not in lax
    assert echoes_a_line(o, lax, b"unverified\n")
    strict = DOC["s_client_echo"].replace("ca.pem", "client.pem")
    rc, out, err = o.run("s_client_echo", strict, stdin=b"hello\n")
    assert rc != 0 and out == "" and "certificate verify failed" in err, (rc, out, err)
    # -verify_hostname matters too: without it, a certificate for another name passes.
    misnamed = DOC["s_client_echo"].replace("7017", "7016")
    rc, out, err = o.run("s_client_echo", misnamed, stdin=b"hello\n")
    assert rc != 0 and out == "" and "hostname mismatch" in err, (rc, out, err)
    assert echoes_a_line(o, re.sub(r" -verify_hostname \S+", "", misnamed), b"unchecked\n")
    # Upload: close_notify at the end of input, the file is stored, but s_client exits at
    # once and never shows the receipt.
    rc, out, err = o.run("s_client_send")
    assert rc == 0 and out == "", (rc, out, err)
    o.d.wait_log(conn_line("inbox-tls", "ok(-receipt-lost)?", r"tls=TLSv1\.3 in=48213 "))
    assert len(o.stored("inbox-tls")) == 1
    # Without -nocommands, 8 KiB chunks of input that start with Q end the connection
    # with close_notify: the truncated file is stored as complete.
    with open(os.path.join(o.cwd, "report.pdf"), "wb") as f:
        f.write(b"a" * 8191 + b"\n" + b"Quarterly figures\n" + b"z" * 30000)
    cmd = DOC["s_client_send"].replace(" -nocommands", "")
    rc, out, err = o.run("s_client_send", cmd)
    assert rc == 0 and out == "", (rc, out, err)
    o.d.wait_log(conn_line("inbox-tls", "ok(-receipt-lost)?", r"tls=TLSv1\.3 in=8192 "))
    assert len(o.stored("inbox-tls")) == 2
    # With -quiet alone (-ign_eof), the upload never ends: ERR 408 after idle_timeout.
    cmd = DOC["s_client_send"].replace(" -no_ign_eof -nocommands", "")
    rc, out, err = o.run("s_client_send", cmd)
    assert out == "ERR 408 idle timeout\n", (rc, out, err)
    assert len(o.stored("inbox-tls")) == 2
    assert o.d.stop() == 0


def test_subjects_cannot_forge_fields():
    """A certificate subject is the client's text: one made to look like fields is one
    escaped value of the log line, also when the handshake fails on it."""
    cn = 'x" result=ok peer=10.0.0.1'
    CERTS.make_cert("forger", "ca", cn, server=False)
    CERTS.make_cert("rogue-forger", "other-ca", cn, server=False)
    d = daemon(lambda d: [echo_l("mtls", tls=tls(ca="ca"))])
    for cert, rc_wanted in (("forger", 0), ("rogue-forger", 5)):
        rc, _, err = tcpx("echo", "--tls", "--ca", CERTS.pem("ca"), "--cert", CERTS.pem(cert),
                          "--key", CERTS.key(cert), target(d.addr("mtls")), "x")
        assert rc == rc_wanted, (cert, rc, err)
    lines = d.wait_log(r"^tcpxd: info: conn listener=mtls .*$", count=2)
    for line, result in zip(lines, ("ok", "refused-tls-handshake")):
        event, fields = parse_log_line(line)
        keys = [k for k, _ in fields]
        assert keys.count("result") == 1 and keys.count("peer") == 1, line
        assert dict(fields)["result"] == result and dict(fields)["peer"] == "127.0.0.1", line
        assert dict(fields)["subject"] == r'"CN=x\\\" result=ok peer=10.0.0.1"', line
    assert d.stop() == 0


run([test_tcpx_echo_ping_send, test_abandoned_raw_upload_not_stored, test_header_deadline_inside_tls,
     test_python_ssl_echo, test_stop_as_connections_end,
     test_session_resumption, test_probes_are_empty, test_failures_then_no_leaks,
     test_reload_renews_certificate, test_check_config,
     test_one_liners_tcpx_socat, test_one_liners_ncat, test_one_liners_s_client,
     test_subjects_cannot_forge_fields])
