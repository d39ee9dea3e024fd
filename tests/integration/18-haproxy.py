# SPDX-License-Identifier: ISC
"""A real HAProxy, run from the example configuration docs/haproxy.cfg (only
its addresses and ports replaced), in front of two tcpxd daemons that share
one output directory, with send-proxy-v2: echo and uploads (raw and framed,
tcpx send included) pass through it byte-exact with verified receipts; both
daemons serve; their logs name the real client (a client bound to
127.0.0.2) as peer and the balancer as via=; raw names carry the client's
address; names never collide across the two daemons; a deny rule on the
client's address is enforced through the balancer; after kill -9 of one
daemon the other keeps the service going, the killed upload leaves nothing,
and the restarted daemon is taken back.  docs/SCALING.md quotes the example
verbatim.

Skipped (77) when haproxy is not installed, unless CI is set: then a
missing haproxy is a failure.  TCPXD_HAPROXY=PATH picks the haproxy binary."""

import atexit
import functools
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from tcpxdtest import WAIT, Daemon, connect, free_port, in_ci, parse_ok, read_all, run


def find_haproxy():
    """TCPXD_HAPROXY names the binary to use; otherwise the PATH's or /usr/sbin's."""
    if "TCPXD_HAPROXY" in os.environ:
        path = os.environ["TCPXD_HAPROXY"]
        return path if path and os.access(path, os.X_OK) else None
    for path in (shutil.which("haproxy"), "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"):
        if path and os.access(path, os.X_OK):
            return path
    return None


HAPROXY = find_haproxy()
if HAPROXY is None:
    if in_ci():
        print("haproxy is not installed, and CI=%s: this test must run in CI "
              "(apt-get install haproxy)" % os.environ["CI"])
        sys.exit(1)
    print("haproxy is not installed: skipping (apt-get install haproxy to run it)")
    sys.exit(77)

SRCDIR = os.environ.get("TCPXD_SRCDIR") or os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", "..")
EXAMPLE = os.path.join(SRCDIR, "docs", "haproxy.cfg")
SCALING = os.path.join(SRCDIR, "docs", "SCALING.md")
TCPX = os.path.join(os.path.dirname(os.environ.get("TCPXD", "tcpxd")), "tcpx")
SIG = b"\x89TCPX\r\n\x1a"
CLIENT = "127.0.0.2"        # the test's client: not the balancer's 127.0.0.1
DENIED = "127.0.0.3"

_haproxies = []


class HAProxy:
    """haproxy -db (foreground) on the example configuration, stopped at the end."""

    def __init__(self, workdir, replacements):
        assert os.path.exists(EXAMPLE), "%s is missing (not in EXTRA_DIST?)" % EXAMPLE
        with open(EXAMPLE) as f:
            text = f.read()
        for old, new in replacements:
            assert text.count(old) == 1, "docs/haproxy.cfg no longer has exactly one %r" % old
            text = text.replace(old, new)
        self.cfg = os.path.join(workdir, "haproxy.cfg")
        self.logpath = os.path.join(workdir, "haproxy.log")
        with open(self.cfg, "w") as f:
            f.write(text)
        p = subprocess.run([HAPROXY, "-c", "-f", self.cfg], capture_output=True, text=True,
                           timeout=WAIT)
        assert p.returncode == 0, "haproxy -c refuses the example:\n" + p.stdout + p.stderr
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        _haproxies.append(self)

    def wait_ready(self, addr):
        """Polls a connection to a frontend until haproxy accepts it."""
        deadline = time.monotonic() + WAIT
        while True:
            assert self.proc.poll() is None, "haproxy exited:\n" + self.log()
            try:
                socket.create_connection(addr, timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("haproxy never accepted on %s:%d:\n%s"
                                         % (addr + (self.log(),)))
                time.sleep(0.05)   # nothing to wait on: the port is not bound yet

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.log(), re.M))

    def wait_log(self, pattern, count=1):
        deadline = time.monotonic() + WAIT
        while self.count(pattern) < count:
            assert time.monotonic() < deadline, "haproxy never logged %r:\n%s" % (pattern,
                                                                                  self.log())
            assert self.proc.poll() is None, "haproxy exited:\n" + self.log()
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


@atexit.register
def _stop_haproxies():
    while _haproxies:
        _haproxies.pop().stop()


class Cluster:
    """Two tcpxd daemons sharing one output_dir, HAProxy in front of them."""

    def __init__(self):
        self.d = [Daemon([], start=False), Daemon([], start=False)]
        self.shared = os.path.join(self.d[0].dir, "shared-inbox")
        os.mkdir(self.shared)
        for d in self.d:
            self.configure(d, 0, 0)
            d.start()
        self.ports = [(d.addr("echo")[1], d.addr("inbox")[1]) for d in self.d]
        self.echo = ("127.0.0.1", free_port())
        self.inbox = ("127.0.0.1", free_port())
        replacements = [("bind :7007", "bind %s:%d" % self.echo),
                        ("bind :7008", "bind %s:%d" % self.inbox)]
        for d, host in zip(self.d, ("192.0.2.11", "192.0.2.12")):
            replacements += [("%s:7007" % host, "%s:%d" % d.addr("echo")),
                             ("%s:7008" % host, "%s:%d" % d.addr("inbox"))]
        self.haproxy = HAProxy(self.d[0].dir, replacements)
        self.haproxy.wait_ready(self.echo)
        self.receipts = {}      # stored name -> content

    def configure(self, d, echo_port, inbox_port):
        d.write_config([
            {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": echo_port},
            {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": inbox_port,
             "output_dir": self.shared, "deny": [DENIED + "/32"]},
        ], proxy_protocol=True, proxy_from=["127.0.0.1/32"])

    def upload(self, data, source=CLIENT):
        """Raw upload through HAProxy; returns the answer line ("" if none came)."""
        with connect(self.inbox, source) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            return read_all(s).decode(errors="replace")

    def logs(self):
        return "".join("\n--- %s:\n%s" % (name, text[-6000:]) for name, text in
                       [("haproxy", self.haproxy.log())] + [("tcpxd%d" % i, d.log())
                                                            for i, d in enumerate(self.d, 1)])

    def check_ok(self, answer, data):
        assert answer.startswith("OK "), "%r for %d bytes%s" % (answer, len(data), self.logs())
        size, digest, name = parse_ok(answer)
        assert size == len(data) and digest == hashlib.sha256(data).hexdigest(), answer
        with open(os.path.join(self.shared, name), "rb") as f:
            assert f.read() == data, "stored file %s differs from what was sent" % name
        assert name not in self.receipts, "name %s given out twice" % name
        self.receipts[name] = data
        return name

    def check_stored(self):
        """The shared directory holds exactly the acknowledged files, intact."""
        files = sorted(n for n in os.listdir(self.shared) if not n.startswith("."))
        assert files == sorted(self.receipts), (files, sorted(self.receipts))
        for name, data in self.receipts.items():
            with open(os.path.join(self.shared, name), "rb") as f:
                assert f.read() == data, name

    def served(self, d, listener, peer=CLIENT, result="ok"):
        return re.findall(r"^tcpxd: info: conn listener=%s peer=%s port=(\d+) via=127\.0\.0\.1 "
                          r"in=\d+ out=\d+ ms=\d+ result=%s(?: stored=(.*?))?(?: files=\d+)?$"
                          % (listener, re.escape(peer), result), d.log(), re.M)

    def wait_served(self, listener, count, peer=CLIENT, result="ok"):
        """Waits until both daemons together logged count such connections."""
        deadline = time.monotonic() + WAIT
        while True:
            found = [self.served(d, listener, peer, result) for d in self.d]
            if sum(map(len, found)) >= count:
                return found
            assert time.monotonic() < deadline, (listener, count, found)
            time.sleep(0.02)   # log lines have no readiness signal

    def stop(self):
        self.haproxy.stop()
        for d in self.d:
            if d.proc.poll() is None:
                assert d.stop() == 0


def with_cluster(test):
    @functools.wraps(test)
    def wrapper():
        c = Cluster()
        try:
            test(c)
            c.stop()
        finally:
            c.haproxy.stop()
    return wrapper


def echo_from(addr, data, source=CLIENT):
    """Echo through HAProxy, reading while sending; returns (reply, client port)."""
    with connect(addr, source) as s:
        port = s.getsockname()[1]
        got = []
        reader = threading.Thread(target=lambda: got.append(read_all(s)))
        reader.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reader.join(WAIT)
        assert not reader.is_alive(), "echo reader did not finish"
        return got[0], port


def tcpx_send(*args):
    p = subprocess.run([TCPX, "send", "-q", *args], capture_output=True, timeout=WAIT * 2)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def tmpfiles(d, shared):
    """Temporary files in shared that daemon d has open: uploads in progress (unnamed
    O_TMPFILE ones, or hidden names where the file system has no O_TMPFILE)."""
    n = 0
    fds = "/proc/%d/fd" % d.proc.pid
    for fd in os.listdir(fds):
        try:
            target = os.readlink(os.path.join(fds, fd))
        except OSError:
            continue
        n += target.startswith(shared + "/") and (target.endswith(" (deleted)") or
                                                 target.startswith(shared + "/.tcpxd-tmp."))
    return n


@with_cluster
def test_echo_through_haproxy(c):
    ports = []
    for _ in range(4):
        data = os.urandom(1 << 20)
        reply, port = echo_from(c.echo, data)
        assert reply == data
        ports.append(port)
    found = c.wait_served("echo", 4)
    assert all(found), "a daemon served no echo connection: %r" % found
    # The client's own port comes through too.
    assert sorted(int(port) for f in found for port, _ in f) == sorted(ports)


@with_cluster
def test_uploads_through_haproxy(c):
    # No empty raw upload: HAProxy drops a client that half-closes before
    # sending anything if that comes before its connection to the server is
    # up (termination state CC; docs/SCALING.md).
    sizes = [1, 1000, 65536, (1 << 20) + 3, 3 << 20, 77, 5, 2]
    for size in sizes:
        data = os.urandom(size)
        name = c.check_ok(c.upload(data), data)
        assert re.fullmatch(r"\d{8}T\d{6}Z_127\.0\.0\.2_\d{6}\.bin", name), name
    # Framed, by hand, from the client address; an empty file goes framed.
    data = os.urandom(200000)
    name = c.check_ok(c.upload(SIG + b"1 %d framed.bin\n" % len(data) + data), data)
    assert name == "framed.bin"
    assert c.check_ok(c.upload(SIG + b"1 0 empty\n"), b"") == "empty"
    found = c.wait_served("inbox", len(sizes) + 2)
    assert all(found), "a daemon served no upload: %r" % found
    logged = sorted(stored for f in found for _, stored in f)
    assert logged == sorted(c.receipts), (logged, sorted(c.receipts))
    # tcpx send (from 127.0.0.1) verifies each receipt; one name four times:
    # the daemons take turns, and never reuse each other's names.
    path = os.path.join(c.d[0].dir, "same.bin")
    data = os.urandom(2 << 20)
    with open(path, "wb") as f:
        f.write(data)
    target = "%s:%d" % c.inbox
    for n in range(4):
        rc, out, err = tcpx_send(path, target)
        assert rc == 0, (rc, out, err)
        stored = out.split(" -> ")[1].split(" (")[0]
        assert stored == ("same.bin" if n == 0 else "same.bin.%d" % n), out
        c.receipts[stored] = data
    turns = c.wait_served("inbox", 4, peer="127.0.0.1")
    assert all(turns), turns
    c.check_stored()


@with_cluster
def test_deny_through_haproxy(c):
    for _ in range(2):
        assert c.upload(b"not welcome", source=DENIED) == "ERR 403 forbidden\n"
    c.wait_served("inbox", 2, peer=DENIED, result="refused-denied")
    data = b"welcome"
    c.check_ok(c.upload(data), data)
    c.check_stored()


@with_cluster
def test_failover_after_kill(c):
    data = os.urandom(4096)
    c.check_ok(c.upload(data), data)
    # Two uploads in progress.  leastconn usually gives one to each daemon, but a
    # connection HAProxy still counts can send both to one: the victim is a daemon
    # that holds one, and the survivor's are the uploads that must complete.
    held = [connect(c.inbox, CLIENT) for _ in range(2)]
    first = os.urandom(1 << 20)
    for s in held:
        s.sendall(first)
    deadline = time.monotonic() + WAIT
    while sum(counts := [tmpfiles(d, c.shared) for d in c.d]) != 2:
        assert time.monotonic() < deadline, counts
        time.sleep(0.02)   # watching /proc: no readiness signal
    v = 0 if counts[0] > 0 else 1
    victim = c.d[v]
    name = "tcpxd%d" % (v + 1)      # the server's name in docs/haproxy.cfg
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    answers = []
    for s in held:
        try:
            s.sendall(b"tail")
            s.shutdown(socket.SHUT_WR)
            answers.append(read_all(s).decode(errors="replace"))
        except OSError:
            answers.append("")     # reset: the daemon behind it is gone
        s.close()
    oks = [a for a in answers if a.startswith("OK ")]
    assert len(oks) == counts[1 - v], (answers, counts)
    assert not [a for a in answers if a and not a.startswith("OK ")], answers
    for ok in oks:
        c.check_ok(ok, first + b"tail")
    # The service goes on through the survivor.  HAProxy retries a refused
    # connection on the other server; poll until that works, within a bound.
    deadline = time.monotonic() + WAIT
    while True:
        data = os.urandom(1000)
        answer = c.upload(data)
        if answer.startswith("OK "):
            break
        assert answer == "" and time.monotonic() < deadline, answer
    c.check_ok(answer, data)
    for _ in range(10):
        data = os.urandom(10000)
        c.check_ok(c.upload(data), data)
        reply, _ = echo_from(c.echo, data)
        assert reply == data
    c.haproxy.wait_log(r"Server tcpxd_inbox/%s is DOWN" % name)
    # The killed upload left nothing behind: only acknowledged files are there.
    c.check_stored()
    # Restarted on its ports, the daemon is taken back once its checks pass.
    victim.kill()
    c.configure(victim, *c.ports[v])
    before = len(c.served(victim, "inbox"))
    ups = c.haproxy.count(r"Server tcpxd_inbox/%s is UP" % name)
    victim.start()
    c.haproxy.wait_log(r"Server tcpxd_inbox/%s is UP" % name, ups + 1)
    for _ in range(4):
        data = os.urandom(1000)
        c.check_ok(c.upload(data), data)
    assert len(c.served(victim, "inbox")) > before, victim.log()
    c.check_stored()


def test_scaling_doc_quotes_the_example():
    """docs/SCALING.md shows the tested file, not an older copy of it."""
    with open(SCALING) as f:
        blocks = re.findall(r"^```haproxy\n(.*?)^```$", f.read(), re.M | re.S)
    with open(EXAMPLE) as f:
        assert blocks == [f.read()], "docs/SCALING.md must quote docs/haproxy.cfg verbatim"


run([test_scaling_doc_quotes_the_example, test_echo_through_haproxy, test_uploads_through_haproxy, test_deny_through_haproxy,
     test_failover_after_kill])
