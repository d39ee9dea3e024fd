# SPDX-License-Identifier: ISC
"""Slow clients (docs/RELIABILITY.md, check 4), with idle_timeout = 5 s:

  - 500 slowloris uploaders: each sends 1 byte, then would send the next
    10 s later (1 byte per 10 s);
  - 500 echo clients that never read: each sends until its send would
    block (its receive buffer, the daemon's send and receive buffers all
    full), then nothing;

are all closed by the daemon idle_timeout +- 1 s after the last byte the
daemon moved on them (slowloris: the last byte it received; non-readers:
the last byte of echo it could send, seen as growth of the client's
receive queue, FIONREAD), while a normal client keeps being served (an echo round trip and a
small upload every 50 ms, none slower than 1 s).  The test raises its own
RLIMIT_NOFILE (the daemon raises its own to 2 x max_connections + 32).
A close is seen as EOF, a reset, or POLLRDHUP (the non-readers never read,
so their receive queue is never empty).  Prints one FIGURE line with the
spread of close times."""

import fcntl
import os
import select
import socket
import struct
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib  # noqa: E402
from stresslib import Daemon, inbox  # noqa: E402
from tcpxdtest import check_ok, connect, echo, upload  # noqa: E402

IDLE = 5
N = int(os.environ.get("TCPXD_STRESS_SLOW", "500" if stresslib.LONG else "100"))
FIGURES = []


def test_slow_clients_closed_at_idle_timeout():
    stresslib.raise_nofile(4 * N + 200)
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-slow-"), start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
    ], idle_timeout=IDLE, max_connections=2 * N + 100, max_per_ip=2 * N + 100,
        log_level="info")
    d.start()
    last = {}      # fd -> time of the last byte the daemon moved
    inq = {}       # non-reader fd -> bytes waiting in its receive queue
    kind = {}      # fd -> "slowloris" | "non-reader"
    socks = {}
    stop = threading.Event()
    normal = {"rounds": 0, "worst": 0.0, "errors": []}
    # How late this process sees what happens (a loaded machine, 2 x N sockets to watch):
    # the close times it measures are off by up to as much, either way.
    lag = {"wake": 0.0, "pass": 0.0}

    def normal_client():
        i = 0
        while not stop.is_set():
            t = time.monotonic()
            try:
                assert echo(d.addr("echo"), b"ping %d" % i) == b"ping %d" % i
                data = b"normal upload %d" % i
                check_ok(d, upload(d.addr("inbox"), data), data)
            except Exception as e:  # reported below
                normal["errors"].append(repr(e))
            normal["worst"] = max(normal["worst"], time.monotonic() - t)
            normal["rounds"] += 1
            i += 1
            time.sleep(0.05)

    nt = threading.Thread(target=normal_client)
    nt.start()
    p = select.poll()
    closed = {}
    next_byte = {}
    chunk = b"e" * 65536
    try:
        # Open everything, and watch for closes from the first moment.
        for _ in range(N):
            s = connect(d.addr("inbox"))
            s.sendall(b"a")
            fd = s.fileno()
            last[fd], kind[fd], socks[fd] = time.monotonic(), "slowloris", s
            next_byte[fd] = last[fd] + 10
            p.register(fd, select.POLLIN | select.POLLRDHUP)
        for _ in range(N):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            s.connect(d.addr("echo"))
            s.setblocking(False)
            fd = s.fileno()
            last[fd], kind[fd], socks[fd] = time.monotonic(), "non-reader", s
            # Writable: send more (never read); RDHUP/HUP/ERR: the daemon closed it.
            p.register(fd, select.POLLOUT | select.POLLRDHUP)
        deadline = time.monotonic() + IDLE + 60
        while len(closed) < len(socks) and time.monotonic() < deadline:
            polled = time.monotonic()
            events = p.poll(50)
            woke = time.monotonic()
            if not events:      # late past its 50 ms: this process waited for a CPU
                lag["wake"] = max(lag["wake"], woke - polled - 0.05)
            for fd, ev in events:
                now = time.monotonic()
                if kind[fd] == "non-reader" and ev == select.POLLOUT:
                    try:
                        socks[fd].send(chunk)
                        continue
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                closed[fd] = now
                p.unregister(fd)
            now = time.monotonic()
            for fd in socks:
                # The daemon's last progress on a non-reader: its echo still arriving.
                if kind[fd] == "non-reader" and fd not in closed:
                    queued = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
                    if queued > inq.get(fd, -1):
                        inq[fd], last[fd] = queued, now
            for fd, t in list(next_byte.items()):     # 1 byte per 10 s, while open
                if fd in closed:
                    del next_byte[fd]
                elif now >= t:
                    socks[fd].send(b"a")
                    last[fd] = now
                    next_byte[fd] = now + 10
            # A close (or a non-reader's progress) is seen up to one pass late.
            lag["pass"] = max(lag["pass"], time.monotonic() - woke)
    finally:
        stop.set()
        nt.join()
    # Slowloris clients must get the 408 (or a reset once the drain thread is full).
    got408 = 0
    for fd, s in socks.items():
        if kind[fd] == "slowloris":
            try:
                s.setblocking(True)
                s.settimeout(5)
                if s.recv(100).startswith(b"ERR 408 idle timeout"):
                    got408 += 1
            except OSError:
                pass
        s.close()
    late = lag["wake"] + lag["pass"]
    stats = {}
    for k in ("slowloris", "non-reader"):
        deltas = [closed[fd] - last[fd] for fd in socks if kind[fd] == k and fd in closed]
        never = sum(1 for fd in socks if kind[fd] == k and fd not in closed)
        stats[k] = (len(deltas), never, min(deltas), max(deltas))
    FIGURES.append("slow clients (idle_timeout = %d s): %d slowloris closed %.2f-%.2f s after "
                   "their last byte (%d of them read ERR 408 idle timeout), %d non-readers closed %.2f-%.2f s after their last byte; "
                   "normal client: %d echo+upload rounds, slowest %.3f s, %d errors; "
                   "the watch loop up to %.3f s late"
                   % (IDLE, stats["slowloris"][0], stats["slowloris"][2], stats["slowloris"][3],
                      got408, stats["non-reader"][0], stats["non-reader"][2],
                      stats["non-reader"][3], normal["rounds"], normal["worst"],
                      len(normal["errors"]), late))
    for k, (n, never, lo, hi) in stats.items():
        assert never == 0, "%d %s clients never closed" % (never, k)
        # A non-reader sees the daemon's progress only through its receive queue,
        # which TCP may still top up (zero-window probes) after the daemon's last
        # send: one more second of slack on that side.
        slack = 2 if k == "non-reader" else 1
        assert IDLE - 1 - late <= lo and hi <= IDLE + slack + late, \
            "%s closed %.2f-%.2f s (the watch loop up to %.3f s late)" % (k, lo, hi, late)
    assert not normal["errors"], normal["errors"][:3]
    # The normal client shares this process (and its lateness) with the watch loop.
    assert normal["worst"] < 1.0 + late, (normal["worst"], late)
    results = stresslib.conn_results(d)
    assert results.count("aborted-idle") >= N, results.count("aborted-idle")
    assert results.count("aborted-idle-not-reading") == N, \
        results.count("aborted-idle-not-reading")
    assert d.stored_files() == sorted(x for x in d.stored_files() if x.endswith(".bin")) and \
        len(d.stored_files()) == normal["rounds"], "a slowloris upload left a file"
    assert d.stop() == 0


stresslib.run_and_report([test_slow_clients_closed_at_idle_timeout], FIGURES)
