# SPDX-License-Identifier: ISC
"""sd_notify: the daemon sends READY=1 once every listener is bound, STATUS=
with live counters, RELOADING=1 with MONOTONIC_USEC and then READY=1 around
a reload, and STOPPING=1 on SIGTERM; read from a NOTIFY_SOCKET the test binds."""

import os
import re
import signal
import time

from tcpxdtest import Daemon, echo, run


def test_notify_sequence():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}])
    # READY=1 came before the ports were logged as listening (Daemon.start waits for it).
    ready = [n for n in d.notes if n.get("READY") == "1"]
    assert ready, d.notes
    assert echo(d.addr("echo"), b"count me") == b"count me"
    want = (r"^0 active, 1 accepted, 0 refused; uploads 0 stored, 0 failed, 0 empty; "
            r"8 bytes in, 8 bytes out$")
    seen = []
    # STATUS= follows the counters once a second; wait for the finished connection.
    while not seen or not re.search(want, seen[-1]):
        assert len(seen) < 60, seen
        seen.append(d.wait_notify("STATUS")["STATUS"])

    before = time.clock_gettime(time.CLOCK_MONOTONIC)
    d.send_signal(signal.SIGHUP)
    msg = d.wait_notify("RELOADING=1")
    usec = int(msg["MONOTONIC_USEC"])
    after = time.clock_gettime(time.CLOCK_MONOTONIC)
    assert before * 1e6 - 1e6 <= usec <= after * 1e6 + 1e6, (before, usec, after)
    d.wait_notify("READY=1")

    d.send_signal(signal.SIGTERM)
    d.wait_notify("STOPPING=1")
    assert d.proc.wait(30) == 0
    d.check_sanitizer()


def test_failed_reload_still_ends_with_ready():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}])
    with open(d.conf, "a") as f:
        f.write("bogus_key = 1;\n")
    d.send_signal(signal.SIGHUP)
    d.wait_notify("RELOADING=1")
    d.wait_notify("READY=1")
    d.wait_log(r"reload failed: .*unknown key \"bogus_key\"")
    assert d.stop() == 0


def test_no_ready_when_start_fails():
    """A listener that cannot bind: exit 1, FILE:LINE in the log, no READY=1."""
    first = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}])
    port = first.addr("echo")[1]
    d = Daemon([{"name": "clash", "mode": "echo", "address": "127.0.0.1", "port": port}],
               start=False)
    d.start(expect_ready=False)
    assert d.proc.wait(30) == 1
    assert re.search(r"%s:\d+: listener \"clash\": cannot listen on 127\.0\.0\.1 port %d: "
                     r"Address already in use" % (re.escape(d.conf), port), d.log()), d.log()
    assert all(n.get("READY") != "1" for n in list(d.notify_queue.queue) + d.notes)
    assert first.stop() == 0


def test_journal_prefixes():
    """When JOURNAL_STREAM names stderr and the journal's native socket is missing, lines
    carry <N> priorities instead of level words (with the socket, they go there with their
    fields: tests/systemd/check-systemd.sh)."""
    if os.path.exists("/run/systemd/journal/socket"):
        print("a journal runs here: test_journal_prefixes skipped")
        return
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}],
               start=False)
    open(d.logpath, "ab").close()
    st = os.stat(d.logpath)
    d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    assert echo(d.addr("echo"), b"j") == b"j"
    d.wait_log(r"^<6>conn listener=echo ")
    assert re.search(r"^<6>listener echo \(echo\) listening on", d.log(), re.M), d.log()
    assert "tcpxd: info:" not in d.log()
    assert d.stop() == 0


run([test_journal_prefixes, test_notify_sequence, test_failed_reload_still_ends_with_ready, test_no_ready_when_start_fails])
