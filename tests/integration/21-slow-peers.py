# SPDX-License-Identifier: ISC
"""idle_timeout counts from the last byte that moved, in either direction,
on plain and TLS listeners side by side.  An echo client that keeps the
daemon's buffers full but reads only 16 KiB every 0.25 s is served for
10 x idle_timeout (the daemon waits to send); a client that sends 1 MiB at
once and reads its echo over 3 x idle_timeout is served (the daemon waits
to read while what it sent drains); an echo client that stops reading is
closed within idle_timeout + 1 s of its last read or echo arriving, and
learns it at once (a reset, not a FIN queued behind unread echo).
(ERR and OK replies go through the same send path; a one-line reply always
fits in the client's receive buffer, so no test can make one wait.)"""

import fcntl
import os
import re
import select
import socket
import ssl
import struct
import termios
import threading
import time

from tcpxdtest import SLOW, WAIT, Daemon, run
from tls_certs import make_test_certs, plain_and_tls_listeners

# Seconds: small, so that 10 x idle_timeout is a short test.  A slow reader's window
# opens every other read (2 x PACE); under sanitizers the daemon and this client run
# several times slower, and 1 s left too little margin over that (TSan, TLS echo).
IDLE = 1 if SLOW == 1 else 2
CHUNK = 16 << 10        # what the slow reader takes ...
PACE = 0.25             # ... this often
PATTERN = os.urandom(1 << 20)

CERTS = make_test_certs()


def daemon():
    d = Daemon([], start=False)
    d.write_config(plain_and_tls_listeners(d, CERTS, max_file_size="64K"), idle_timeout=IDLE)
    d.start()
    return d


class Cut(AssertionError):
    """The daemon ended the connection."""


WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
GONE = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


def piece(offset, n):
    """Bytes offset .. offset + n of an endless stream, so that the echo can be checked."""
    offset %= len(PATTERN)
    out = PATTERN[offset:offset + n]
    return out + PATTERN[:n - len(out)]


class Client:
    """A non-blocking echo client, TLS on the -tls listeners, with a small receive
    buffer, so that most of the echo in flight waits in the daemon's send buffer."""

    def __init__(self, d, listener):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
        s.settimeout(WAIT)
        s.connect(d.addr(listener))
        if listener.endswith("-tls"):
            s = ssl.create_default_context(cafile=CERTS.pem("ca")).wrap_socket(
                s, server_hostname="127.0.0.1")
        s.setblocking(False)
        self.s, self.sent, self.received, self.pending = s, 0, 0, None

    def pump(self, limit=None):
        """Sends what the socket takes now, up to limit bytes in all.  A TLS write
        that could not finish is repeated with the same bytes, as OpenSSL wants."""
        while self.pending or limit is None or self.sent < limit:
            n = self.pending or (CHUNK * 4 if limit is None else min(CHUNK * 4, limit - self.sent))
            try:
                self.sent += self.s.send(piece(self.sent, n))
                self.pending = None
            except WOULD_BLOCK:
                self.pending = n if isinstance(self.s, ssl.SSLSocket) else None
                return
            except GONE as e:
                raise Cut("the daemon cut the connection: %s" % e)

    def read(self, n, wait=True):
        """Reads up to n bytes of the echo (exactly n with wait) and checks them."""
        got = b""
        while len(got) < n:
            try:
                b = self.s.recv(n - len(got))
            except WOULD_BLOCK:
                if not wait:
                    break
                self.wait(True)
                continue
            except GONE as e:
                raise Cut("the daemon cut the connection: %s" % e)
            if not b:
                raise Cut("the daemon closed the connection")
            got += b
        assert got == piece(self.received, len(got)), "echo differs at byte %d" % self.received
        self.received += len(got)
        return len(got)

    def wait(self, readable, writable=False):
        if readable and isinstance(self.s, ssl.SSLSocket) and self.s.pending():
            return
        r, w, _ = select.select([self.s] if readable else [], [self.s] if writable else [], [],
                                WAIT)
        assert r or w, "socket not ready within %d s" % WAIT

    def drain(self, pace=0, limit=None):
        """Sends up to limit bytes in all (none: nothing new) and reads CHUNK every
        pace seconds until all that was sent came back."""
        limit = self.sent if limit is None else limit
        while self.pending or self.sent < limit or self.received < self.sent:
            self.pump(limit)
            if self.read(CHUNK, wait=False):
                time.sleep(pace)
            else:
                self.wait(True, self.pending is not None or self.sent < limit)

    def end(self):
        """Half-closes (close_notify first over TLS: a bare FIN could be a truncation)
        and expects the daemon's orderly end."""
        if isinstance(self.s, ssl.SSLSocket):
            try:
                self.s.unwrap()
            except WOULD_BLOCK:
                pass        # close_notify is out; the daemon's comes after
        socket.socket.shutdown(self.s, socket.SHUT_WR)
        while True:
            try:
                assert self.s.recv(1) == b"", "more echo than was sent"
                return
            except ssl.SSLZeroReturnError:
                return
            except WOULD_BLOCK:
                self.wait(True)

    def unread(self):
        """Bytes of echo that arrived and are not read yet (FIONREAD)."""
        return struct.unpack("i", fcntl.ioctl(self.s.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def served(d, listener, results, serve):
    """Runs serve(client) and records (seconds, bytes read) or why it was cut."""
    start = time.monotonic()
    c = Client(d, listener)
    try:
        serve(c)
        c.end()
        results[listener] = (time.monotonic() - start, c.received)
    except (Cut, OSError) as e:
        results[listener] = "%s after %.1f s, %d bytes read" % (e, time.monotonic() - start,
                                                               c.received)
    finally:
        c.s.close()


def side_by_side(serve, seconds):
    """serve on the plain and the TLS echo listener at once; each must be served to
    its end, for seconds at least."""
    d = daemon()
    results = {}
    threads = [threading.Thread(target=served, args=(d, name, results, serve))
               for name in ("echo", "echo-tls")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 4)
    for name in ("echo", "echo-tls"):
        r = results.get(name)
        assert isinstance(r, tuple), "%s: %s" % (name, r)
        assert r[0] >= seconds, (name, r)
        print("%s: served %.1f s with idle_timeout = %d, %d bytes" % (name, r[0], IDLE, r[1]))
        d.wait_log(r"conn listener=%s .*result=ok$" % name)
    assert d.stop() == 0


def test_slow_readers_served():
    """The daemon's buffers stay full, so it waits to send, for 10 x idle_timeout;
    then the client reads the rest at once."""
    def serve(c):
        start = time.monotonic()
        while time.monotonic() - start < 10 * IDLE:
            c.pump()
            c.read(CHUNK)
            time.sleep(PACE)
        c.drain()

    side_by_side(serve, 10 * IDLE)


def test_waiting_to_read_while_echo_drains():
    """1 MiB sent at once: the daemon takes it all and waits to read while its echo
    drains to a client that takes 3 x idle_timeout over it."""
    side_by_side(lambda c: c.drain(0.05 * IDLE, 1 << 20), 3 * IDLE)


def stopped_reader(d, listener):
    """Reads slowly for 2 x idle_timeout, then stops reading, sends until its socket
    takes nothing more for a while (the daemon then waits to send, and only what it
    sent can still move), and stops; returns the seconds from the last byte that moved
    (its last read, or echo arriving since) to the daemon's log line, and the result
    logged."""
    c = Client(d, listener)
    start = time.monotonic()
    while time.monotonic() - start < 2 * IDLE:
        c.pump()
        c.read(CHUNK)
        time.sleep(PACE)
    last, unread = time.monotonic(), c.unread()
    try:
        while select.select([], [c.s], [], 0.3)[1]:
            c.pump()
    except Cut:
        # The daemon, blocked sending to us, read nothing more either: on a slow
        # (sanitized, busy) machine its idle_timeout can end while we still fill
        # our socket.  That is the cut this test waits for; it is timed below.
        pass
    pattern = r"conn listener=%s .*result=(aborted-idle\S*)" % listener
    # The log line is written before the socket closes: look for it first.
    while not re.search(pattern, d.log(), re.M):
        if c.unread() != unread:
            last, unread = time.monotonic(), c.unread()
        assert time.monotonic() - last < WAIT, "not closed:\n" + d.log()
        time.sleep(0.02)    # polls the log and the socket: neither has a signal
    took = time.monotonic() - last
    c.s.close()
    return took, re.search(pattern, d.log(), re.M).group(1)


def test_stopped_readers_closed():
    d = daemon()
    for name in ("echo", "echo-tls"):
        took, result = stopped_reader(d, name)
        print("%s: %s %.2f s after its last read or echo arriving, with idle_timeout = %d"
              % (name, result, took, IDLE))
        # Sanitizer builds are slower (SLOW): allow them more.
        assert took <= IDLE + 1 + 0.5 * (SLOW - 1), (name, took)
    assert d.stop() == 0


def test_idle_cut_reaches_a_reader_that_stopped():
    """A client that sent 256 KiB and reads nothing: the daemon takes all of it, so its
    own receive queue is empty while its echo waits for a window that never opens.
    When idle_timeout cuts the connection the client must learn it at once (a reset),
    not from a FIN queued behind the echo it will never read."""
    d = daemon()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(d.addr("echo"))
    s.sendall(os.urandom(256 << 10))
    d.wait_log(r"conn listener=echo .*result=aborted-idle")
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLERR | select.POLLHUP)
    assert p.poll(2000 * SLOW), "the client never saw the cut connection end"
    try:
        while s.recv(1 << 16):
            pass
        ended = "closed"
    except ConnectionResetError:
        ended = "reset"
    assert ended == "reset", ended
    s.close()
    assert d.stop() == 0


run([test_slow_readers_served, test_waiting_to_read_while_echo_drains,
     test_stopped_readers_closed, test_idle_cut_reaches_a_reader_that_stopped])
