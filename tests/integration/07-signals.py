# SPDX-License-Identifier: ISC
"""Signals: SIGHUP with a good config applies new listeners and closes
removed ones while an upload in flight completes under its old settings;
SIGHUP with a bad config is reported with FILE:LINE and changes nothing;
a reload that cannot bind one listener changes nothing either (new
connections keep the old idle_timeout, a listener it opened before failing
is never announced); a good reload gives new connections the new
idle_timeout while one admitted before keeps its old one; a reload that
only respells an address ("::1", "[::1]", "0:0::1", "::ffff:127.0.0.1" for
127.0.0.1) or sets v6only on an IPv4 one keeps the socket it has, and
one that changes v6only on an IPv6 one says it needs a restart; a
configuration path holding " key=value" is escaped in reload messages;
SIGTERM waits for uploads in flight, refuses new connections at once and
exits 0; past shutdown_timeout unfinished uploads are discarded, leaving
nothing; SIGPIPE (a client gone before its echo) never kills the daemon."""

import os
import re
import signal
import socket
import struct
import tempfile
import time

from tcpxdtest import (SLOW, Daemon, check_ok, connect, echo, free_port, inbox, read_all, run,
                       upload)


def listeners(d, **inbox_extra):
    return [
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **inbox_extra},
    ]


def start(**inbox_extra):
    d = Daemon([], start=False)
    d.write_config(listeners(d, **inbox_extra), shutdown_timeout=30)
    d.start()
    return d


def test_reload_good_config_during_upload():
    d = start(max_file_size="4M")
    s = connect(d.addr("inbox"))
    first = os.urandom(3 << 20)
    s.sendall(first)
    # The new config lowers max_file_size and replaces the echo listener by another.
    new = listeners(d, max_file_size="1K")
    new[0] = {"name": "echo2", "mode": "echo", "address": "127.0.0.1", "port": 0}
    d.write_config(new, shutdown_timeout=30)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 2 listeners")
    # The upload in flight keeps its 4M limit: 3 MiB + 512 KiB completes.
    second = os.urandom(512 << 10)
    s.sendall(second)
    s.shutdown(socket.SHUT_WR)
    check_ok(d, read_all(s).decode(), first + second)
    s.close()
    # New connections get the new limit; the echo listener moved.
    assert upload(d.addr("inbox"), os.urandom(2048)) == "ERR 413 file exceeds max_file_size\n"
    d.wait_log(r"listener echo closed")
    port2 = int(d.wait_log(r"listener echo2 \(echo\) listening on 127\.0\.0\.1:(\d+)")[0])
    assert echo(("127.0.0.1", port2), b"new listener") == b"new listener"
    try:
        connect(d.addr("echo"), timeout=5).close()
        raise AssertionError("the removed listener still accepts")
    except ConnectionRefusedError:
        pass
    assert d.stop() == 0


def test_reload_bad_config_keeps_old():
    d = start()
    s = connect(d.addr("inbox"))
    first = os.urandom(1 << 20)
    s.sendall(first)
    with open(d.conf, "a") as f:
        f.write("max_connections = \"lots\";\n")
    bad_line = sum(1 for _ in open(d.conf))
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload failed: %s:%d: max_connections must be an integer.*keeping the current"
               % (d.conf, bad_line))
    s.sendall(b"end")
    s.shutdown(socket.SHUT_WR)
    check_ok(d, read_all(s).decode(), first + b"end")
    s.close()
    assert echo(d.addr("echo"), b"still here") == b"still here"
    check_ok(d, upload(d.addr("inbox"), b"still storing"), b"still storing")
    assert d.stop() == 0


OLD_IDLE, NEW_IDLE = 4, 1


def echo_l(name="echo", port=0):
    return {"name": name, "mode": "echo", "address": "127.0.0.1", "port": port}


def closed_after(s, since):
    """Seconds from since until the daemon closes s, a client that sends nothing more."""
    assert read_all(s) == b""
    return time.monotonic() - since


def check_idle(took, idle):
    assert idle - 0.5 <= took <= idle + 1.5 * SLOW, "closed after %.2f s, not %d" % (took, idle)


def test_failed_reload_changes_nothing():
    d = Daemon([echo_l()], idle_timeout=OLD_IDLE)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        # A new listener that binds, then one on a busy port, with a new idle_timeout.
        d.write_config([echo_l(), echo_l("opened"), echo_l("blocked", busy.getsockname()[1])],
                       idle_timeout=NEW_IDLE)
        d.send_signal(signal.SIGHUP)
        d.wait_log(r'reload failed: .*listener "blocked": cannot listen.*keeping the current')
    with connect(d.addr("echo")) as s:
        check_idle(closed_after(s, time.monotonic()), OLD_IDLE)
    assert "listener opened" not in d.log(), "a listener of the failed reload was announced"
    assert d.stop() == 0


def test_reload_applies_to_new_connections_only():
    d = Daemon([echo_l()], idle_timeout=OLD_IDLE)
    before = connect(d.addr("echo"))
    before.sendall(b"admitted")
    assert before.recv(100) == b"admitted"
    since = time.monotonic()
    d.write_config([echo_l()], idle_timeout=NEW_IDLE)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners")
    with connect(d.addr("echo")) as s:
        check_idle(closed_after(s, time.monotonic()), NEW_IDLE)
    check_idle(closed_after(before, since), OLD_IDLE)
    before.close()
    assert d.stop() == 0


def test_reload_respelled_address_keeps_socket():
    """The sockets stay (a second one could not bind the port the first holds): no
    failure, nothing moved or closed, a connection admitted before still served."""
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port6 = s.getsockname()[1]
    port4 = free_port()

    def config(six, four, v6only):
        return [{"name": "six", "mode": "echo", "address": six, "port": port6},
                {"name": "four", "mode": "echo", "address": four, "port": port4,
                 "v6only": v6only}]

    d = Daemon(config("::1", "127.0.0.1", False))
    held = connect(("::1", port6))
    respelled = [("[::1]", "127.0.0.1", True), ("0:0::1", "::ffff:127.0.0.1", False),
                 ("0:0:0:0:0:0:0:1", "127.0.0.1", False)]
    for n, spelling in enumerate(respelled, 1):
        d.write_config(config(*spelling))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload(ed: 2 listeners| failed)", count=n)
        assert "reload failed" not in d.log(), d.log()
        assert echo(("::1", port6), b"six") == b"six"
        assert echo(("127.0.0.1", port4), b"four") == b"four"
    assert not re.search(r"listener \S+ (moved|closed)", d.log()), d.log()
    # A bound IPv6 socket cannot take another v6only: said as such, not "in use".
    d.write_config([{**config("::1", "127.0.0.1", False)[0], "v6only": True},
                    config("::1", "127.0.0.1", False)[1]])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r'reload failed: .*listener "six": changing v6only needs a restart; keeping')
    held.sendall(b"held")
    assert held.recv(100) == b"held"
    held.close()
    assert d.stop() == 0


def test_reload_messages_escape_the_path():
    """A configuration path holding " key=value" and a non-ASCII byte reaches the
    "reloading" and "reload failed" messages escaped, so they stay in the log grammar."""
    d = Daemon([echo_l()], workdir=tempfile.mkdtemp(prefix="tcpxd-test- k=v\xe9"))
    with open(d.conf, "a") as f:
        f.write("max_connections = \"lots\";\n")
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload failed: \S+ k\\x3dv\\xc3\\xa9\S+/tcpxd.conf:\d+: max_connections must")
    assert re.search(r"reloading \S+ k\\x3dv\\xc3\\xa9\S+/tcpxd.conf$", d.log(), re.M), d.log()
    d.check_log()
    assert d.stop() == 0


def test_sigterm_waits_for_uploads_in_flight():
    d = start()
    s = connect(d.addr("inbox"))
    first = os.urandom(1 << 20)
    s.sendall(first)
    d.wait_log(r"conn listener=inbox .* state=started")
    d.send_signal(signal.SIGTERM)
    d.wait_log(r"stopping; 1 connections in flight")
    # Listeners are closed at once: a new client is refused.
    try:
        connect(d.addr("inbox"), timeout=5).close()
        raise AssertionError("accepted a connection after SIGTERM")
    except ConnectionRefusedError:
        pass
    s.sendall(b"tail")
    s.shutdown(socket.SHUT_WR)
    check_ok(d, read_all(s).decode(), first + b"tail")
    s.close()
    assert d.proc.wait(30) == 0
    d.check_sanitizer()


def test_sigterm_discards_unfinished_after_timeout():
    d = Daemon([], start=False)
    d.write_config(listeners(d), shutdown_timeout=1)
    d.start()
    s = connect(d.addr("inbox"))
    s.sendall(os.urandom(1 << 20))
    d.wait_log(r"conn listener=inbox .* state=started")
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(30) == 0
    d.check_sanitizer()
    assert "aborting 1 unfinished connections" in d.log()
    assert "result=aborted-shutdown" in d.log()
    assert d.stored_files() == [], "an unfinished upload was published at shutdown"
    s.close()


def test_sigterm_aborts_idle_receive_connections():
    """The shutdown that aborts a connection looks like EOF to a read: an idle
    connection, or one in the middle of a framed header, is aborted-shutdown,
    not an empty connection or a bad header."""
    d = Daemon([], start=False)
    d.write_config(listeners(d), shutdown_timeout=1)
    d.start()
    idle = connect(d.addr("inbox"))
    partial = connect(d.addr("inbox"))
    partial.sendall(b"\x89TCPX\r\n\x1a1 10")
    d.wait_log(r"conn listener=inbox .* state=started", count=2)
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(30) == 0
    d.check_sanitizer()
    results = re.findall(r"conn listener=inbox .* result=(\S+)", d.log())
    assert results == ["aborted-shutdown"] * 2, results
    idle.close()
    partial.close()


def test_client_gone_before_echo_no_sigpipe():
    d = start()
    for _ in range(20):
        s = connect(d.addr("echo"))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(os.urandom(200000))
        s.close()
    assert echo(d.addr("echo"), b"alive") == b"alive"
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_sigint_stops_cleanly():
    d = start()
    assert echo(d.addr("echo"), b"x") == b"x"
    assert d.stop(signal.SIGINT) == 0
    assert "stopped" in d.log()


run([test_reload_good_config_during_upload, test_reload_bad_config_keeps_old,
     test_failed_reload_changes_nothing, test_reload_applies_to_new_connections_only,
     test_reload_respelled_address_keeps_socket, test_reload_messages_escape_the_path,
     test_sigterm_waits_for_uploads_in_flight, test_sigterm_discards_unfinished_after_timeout,
     test_sigterm_aborts_idle_receive_connections, test_client_gone_before_echo_no_sigpipe,
     test_sigint_stops_cleanly])
