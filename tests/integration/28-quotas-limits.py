#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue 14, items 4 and 5: quotas, bandwidth and connection limits.

- max_rate of a listener: one token bucket for all its connections; 4
  uploads together at 1 MiB/s take 10 s within 10 %, are slowed and never
  cut (idle_timeout = 1 s); echo is held to the rate too.
- max_connections inside a listener: that listener's own limit, refused
  with "ERR 503 busy: max_connections" and reason=listener-max_connections
  while other listeners are served; a reload raises it for connections
  already counted.
"""

import os
import signal
import socket
import threading
import time

from tcpxdtest import (Daemon, WAIT, check_ok, connect, inbox, inbox_daemon, parse_ok, read_all,
                       run, upload)

MiB = 1 << 20


def held_echo(addr):
    s = connect(addr)
    s.sendall(b"!")
    assert s.recv(1) == b"!"
    return s


def refused_echo(addr):
    s = connect(addr)
    try:
        s.sendall(b"?")
        return read_all(s) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def parallel_uploads(addr, blobs):
    """Uploads every blob on its own connection at once; the receipts, in order."""
    receipts = [None] * len(blobs)

    def one(i):
        receipts[i] = upload(addr, blobs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(blobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive(), "an upload did not finish"
    return receipts


def test_listener_max_rate():
    """1 MiB/s shared by 4 connections: 10 MiB take 10 s (the first 0.1 s
    of the rate may pass at once), however the 4 share it."""
    d = inbox_daemon(max_rate="1M", idle_timeout=1)
    blobs = [bytes([i]) * (10 * MiB // 4) for i in range(4)]
    start = time.monotonic()
    receipts = parallel_uploads(d.addr("inbox"), blobs)
    elapsed = time.monotonic() - start
    for r, b in zip(receipts, blobs):
        check_ok(d, r, b)
    expected = (10 * MiB - MiB / 10) / MiB
    print("10 MiB at 1 MiB/s over 4 connections: %.2f s (expected %.2f s)" % (elapsed, expected))
    assert expected * 0.9 <= elapsed <= expected * 1.1, \
        "10 MiB at 1 MiB/s took %.2f s, not %.2f s +-10 %%" % (elapsed, expected)
    assert "result=aborted" not in d.log()
    assert d.stop() == 0


def test_echo_max_rate():
    """Echo is charged too: 768 KiB at 256 KiB/s come back in 3 s, not at once."""
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                 "max_rate": "256K", "idle_timeout": 1}])
    data = os.urandom(768 * 1024)
    s = connect(d.addr("echo"))
    got = []
    reader = threading.Thread(target=lambda: got.append(read_all(s)))
    start = time.monotonic()
    reader.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reader.join(WAIT)
    elapsed = time.monotonic() - start
    s.close()
    assert got and got[0] == data
    assert elapsed >= 2.9 * 0.9, "echo at 256 KiB/s took only %.2f s" % elapsed
    assert d.stop() == 0


def test_listener_max_connections():
    d = Daemon([], start=False)
    listeners = [
        {"name": "small", "mode": "echo", "address": "127.0.0.1", "port": 0,
         "max_connections": 2},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "max_connections": 1},
        {"name": "other", "mode": "echo", "address": "127.0.0.1", "port": 0},
    ]
    d.write_config(listeners, max_connections=100, max_per_ip=100)
    d.start()
    held = [held_echo(d.addr("small")) for _ in range(2)]
    assert refused_echo(d.addr("small"))
    d.wait_log(r"refused listener=small peer=127\.0\.0\.1 reason=listener-max_connections")
    # The other listeners are not affected; a receive listener answers the refusal.
    held.append(held_echo(d.addr("other")))
    busy = connect(d.addr("inbox"))
    busy.sendall(b"x")
    assert upload(d.addr("inbox"), b"data") == "ERR 503 busy: max_connections\n"
    busy.shutdown(socket.SHUT_WR)
    parse_ok(read_all(busy).decode())
    busy.close()
    # A reload raising the limit counts the connections in flight: one more, not three.
    listeners[0]["max_connections"] = 3
    d.write_config(listeners, max_connections=100, max_per_ip=100)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 3 listeners")
    held.append(held_echo(d.addr("small")))
    assert refused_echo(d.addr("small"))
    d.wait_log(r"reason=listener-max_connections", count=2)
    for s in held:
        s.close()
    assert d.stop() == 0


if __name__ == "__main__":
    run([test_listener_max_connections, test_echo_max_rate, test_listener_max_rate])
