#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue 14, items 4 and 5: quotas, bandwidth and connection limits.

- quota_bytes / quota_files of a client identity: what is in its subdir at
  start-up is counted (logged quota-scan); a quota filled exactly to the
  byte (STATUS= names the fullest quota), then a framed upload refused with "ERR 507 quota exceeded" before
  its data and a raw one as soon as it crosses; a file removed by a
  collector gives its room back.
- 50 concurrent framed uploads with a SIGHUP in the middle: exactly as many
  stored as fit, the rest refused, and the usage still exact afterwards;
  a reload that raises the quota lets exactly the difference in.
- max_rate of a client identity: one token bucket for all its connections
  on every listener; 4 uploads together at 1 MiB/s take 10 s within 10 %,
  slowed and never cut (idle_timeout = 1 s).  A listener's max_rate holds
  echo to its rate.
- max_connections of a listener (inside it) and of a client: refused with
  "ERR 503 busy: max_connections", reason=listener-max_connections or
  client-max_connections, while others are served; a reload raising a
  listener's limit counts the connections in flight.
"""

import hashlib
import os
import signal
import socket
import threading
import time

from tcpxdtest import (Daemon, WAIT, check_ok, connect, fmt_value, held_echo, inbox, inbox_daemon,
                       make_config, parse_ok, read_all, read_line, refused_echo, run, upload)

MiB = 1 << 20
SIG = b"\x89TCPX\r\n\x1a"


def framed_header(size, name):
    """A version 2 header: the upload ends by its declared size."""
    return SIG + b"2 %d - - %s\n" % (size, name)


def write_config(d, listeners, clients, **globals_):
    """The harness's config plus clients = ( ... ), a list of groups."""
    globals_.setdefault("log_level", "debug")
    text = make_config(listeners, **globals_)
    text += "clients = (\n" + ",\n".join(
        "  { " + " ".join("%s = %s;" % (k, fmt_value(v)) for k, v in c.items()) + " }"
        for c in clients) + "\n);\n"
    tmp = d.conf + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, d.conf)


def files_in(path):
    return {n: os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
            if not n.startswith(".")}


def framed_upload(addr, data, name):
    with connect(addr) as s:
        s.sendall(framed_header(len(data), name) + data)
        return read_line(s)


def test_client_max_rate():
    """1 MiB/s for one client over two listeners, 2 connections each: 10 MiB
    take 10 s (the first 0.1 s of the rate may pass at once)."""
    d = Daemon([], start=False)
    listeners = [{"name": n, "mode": "receive", "address": "127.0.0.1", "port": 0,
                  "output_dir": inbox(d, n), "idle_timeout": 1} for n in ("a", "b")]
    write_config(d, listeners, [{"name": "me", "from": ["127.0.0.1/32"], "max_rate": "1M"}])
    d.start()
    blobs = [bytes([i]) * (10 * MiB // 4) for i in range(4)]
    receipts = [None] * 4

    def one(i):
        receipts[i] = upload(d.addr("ab"[i % 2]), blobs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive(), "an upload did not finish"
    elapsed = time.monotonic() - start
    for i in range(4):
        check_ok(d, receipts[i], blobs[i], subdir="ab"[i % 2])
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


def quota_config(d, **limits):
    """One receive listener; client "q" (127.0.0.1) with subdir "q" and limits."""
    write_config(d, [{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                      "output_dir": inbox(d)}],
                 [{"name": "q", "from": ["127.0.0.1/32"], "subdir": "q", **limits}])


def quota_daemon(**limits):
    d = Daemon([], start=False)
    quota_config(d, **limits)
    return d


def test_quota_exact():
    d = quota_daemon(quota_bytes=1000, quota_files=5)
    qdir = os.path.join(inbox(d), "q")
    os.makedirs(qdir)
    with open(os.path.join(qdir, "before"), "wb") as f:
        f.write(b"b" * 100)
    d.start()
    d.wait_log(r"quota-scan client=q dir=\S+ files=1 bytes=100 ms=\d+")
    addr = d.addr("inbox")
    # Declared too large by one byte: refused before the data, nothing stored.
    with connect(addr) as s:
        s.sendall(framed_header(901, b"big"))
        assert read_line(s) == "ERR 507 quota exceeded\n"
    # Exactly what is left: stored.
    check_ok(d, framed_upload(addr, b"x" * 900, b"fill"), b"x" * 900, subdir="inbox/q")
    assert files_in(qdir) == {"before": 100, "fill": 900}
    d.wait_status("fullest quota: q 100%")
    # Full to the byte: a raw upload is refused at its first byte, a framed 0-byte one fits.
    assert upload(addr, b"y") == "ERR 507 quota exceeded\n"
    check_ok(d, framed_upload(addr, b"", b"empty"), b"", subdir="inbox/q")
    # A collector removes a file: its room comes back, exactly.
    os.unlink(os.path.join(qdir, "before"))
    d.wait_log(r"quota-update client=q file=before files=2 bytes=900")
    assert upload(addr, b"z" * 101) == "ERR 507 quota exceeded\n"   # raw: cut as it crosses
    check_ok(d, upload(addr, b"z" * 100), b"z" * 100, subdir="inbox/q")
    # quota_files = 5: two more files fit (0-byte ones), the next does not.
    check_ok(d, framed_upload(addr, b"", b"e1"), b"", subdir="inbox/q")
    check_ok(d, framed_upload(addr, b"", b"e2"), b"", subdir="inbox/q")
    assert framed_upload(addr, b"", b"e3") == "ERR 507 quota exceeded\n"
    assert len(files_in(qdir)) == 5 and sum(files_in(qdir).values()) == 1000
    # One conn line each (the framed ones have an upload record too).
    d.wait_log(r"conn listener=inbox .*result=refused-quota", count=4)
    assert d.stop() == 0


def test_quota_concurrent_reload():
    """50 framed uploads of 1000 bytes at once, 45000 bytes of quota, a
    reload while they are in flight: 45 stored, 5 refused before their data."""
    d = quota_daemon(quota_bytes=45000)
    d.start()
    addr = d.addr("inbox")
    data = [bytes([65 + i % 26]) * 1000 for i in range(50)]
    socks = [connect(addr) for _ in range(50)]
    for i, s in enumerate(socks):
        s.sendall(framed_header(1000, b"f%02d" % i) + data[i][:500])
    # Each header was read and reserved (or refused) before the reload.  A refused file has
    # an upload record and a conn line: count one of them, or 3 refusals would look like 5.
    d.wait_log(r"upload listener=inbox .*result=refused-quota", count=5)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners")
    answers = []
    for i, s in enumerate(socks):
        try:
            s.sendall(data[i][500:])
        except (BrokenPipeError, ConnectionResetError):
            pass
        answers.append(read_line(s))
        s.close()
    ok = [a for a in answers if a.startswith("OK ")]
    refused = [a for a in answers if a == "ERR 507 quota exceeded\n"]
    assert len(ok) == 45 and len(refused) == 5, answers
    qdir = os.path.join(inbox(d), "q")
    assert sum(files_in(qdir).values()) == 45000 and len(files_in(qdir)) == 45
    # Still exact after it all: not one byte more, and a removal frees exactly its size.
    assert upload(addr, b"1") == "ERR 507 quota exceeded\n"
    name = sorted(files_in(qdir))[0]
    os.unlink(os.path.join(qdir, name))
    d.wait_log(r"quota-update client=q file=%s files=44 bytes=44000" % name)
    assert framed_upload(addr, b"2" * 1001, b"over") == "ERR 507 quota exceeded\n"
    check_ok(d, framed_upload(addr, b"2" * 1000, b"again"), b"2" * 1000, subdir="inbox/q")
    # A reload changes the limit, not the usage: 10 bytes more fit, exactly.
    quota_config(d, quota_bytes=45010)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners", count=2)
    assert framed_upload(addr, b"3" * 11, b"eleven") == "ERR 507 quota exceeded\n"
    check_ok(d, framed_upload(addr, b"3" * 10, b"ten"), b"3" * 10, subdir="inbox/q")
    assert d.stop() == 0


def test_client_max_connections():
    d = Daemon([], start=False)
    listeners = [
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
    ]
    write_config(d, listeners, [{"name": "me", "from": ["127.0.0.1/32"], "max_connections": 2}],
                 max_connections=100, max_per_ip=100)
    d.start()
    held = [held_echo(d.addr("echo")), held_echo(d.addr("echo"))]
    # Over every listener together: the receive listener refuses it too.
    assert upload(d.addr("inbox"), b"data") == "ERR 503 busy: max_connections\n"
    assert refused_echo(d.addr("echo"))
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1 client=me reason=client-max_connections")
    held.pop().close()
    d.wait_log(r"conn listener=echo .*result=ok")
    check_ok(d, upload(d.addr("inbox"), b"room"), b"room")
    for s in held:
        s.close()
    assert d.stop() == 0


if __name__ == "__main__":
    run([test_listener_max_connections, test_client_max_connections, test_quota_exact,
         test_quota_concurrent_reload, test_echo_max_rate, test_client_max_rate])
