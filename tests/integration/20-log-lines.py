# SPDX-License-Identifier: ISC
"""Log lines cannot be forged: a stored name such as "x result=ok
peer=10.0.0.1", or one holding quotes, backslashes and non-ASCII bytes,
comes out as one escaped value of a line that parses as key=value pairs
(tcpxd(8), LOGGING), and decodes back to the name that was stored.  The
harness parses every line of every daemon of the suite the same way
(tcpxdtest.Daemon.check_log); here its parser is shown to reject the
forgeries it exists to catch.  A reload that moves a listener says from
where to where; one that removes it says closed."""

import signal
import socket

from tcpxdtest import (Daemon, connect, free_port, inbox, log_value_bytes, parse_log_line,
                       read_all, run)

SIG = b"\x89TCPX\r\n\x1a"


def framed(addr, name, data):
    with connect(addr) as s:
        s.sendall(SIG + b"1 %d " % len(data) + name + b"\n" + data)
        s.shutdown(socket.SHUT_WR)
        return read_all(s).decode("utf-8", errors="replace")


def test_stored_names_cannot_forge_fields():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "protocol": "framed"}])
    d.start()
    names = [b"x result=ok peer=10.0.0.1", b'q" result=ok x="', b"back\\slash",
             "caf\u00e9 na\u00efve".encode()]
    for name in names:
        assert framed(d.addr("inbox"), name, b"data").startswith("OK 4 "), name
    lines = d.wait_log(r"^tcpxd: info: conn listener=inbox .*result=ok .*$", count=len(names))
    stored = []
    for line in lines:
        event, fields = parse_log_line(line)
        keys = [k for k, _ in fields]
        assert event == "conn" and keys.count("result") == 1 and keys.count("peer") == 1, line
        assert dict(fields)["peer"] == "127.0.0.1" and dict(fields)["result"] == "ok", line
        stored.append(log_value_bytes(dict(fields)["stored"]))
    assert sorted(stored) == sorted(names), stored
    assert 'stored="caf\\xc3\\xa9 na\\xc3\\xafve"' in d.log()
    assert d.stop() == 0


def test_parser_rejects_forgeries():
    for line in ("tcpxd: info: conn listener=a peer=1.2.3.4 result=ok stored=x result=ok",
                 "tcpxd: info: conn listener=a stored=x y",
                 'tcpxd: info: conn listener=a stored="open',
                 'tcpxd: info: conn listener=a stored="\x1b[31m"',
                 "tcpxd: info: a message with result=ok inside",
                 "conn listener=a result=ok"):
        try:
            parse_log_line(line)
        except ValueError:
            continue
        raise AssertionError("accepted: %r" % line)
    assert parse_log_line('tcpxd: warning: conn a="\\x00\\"\\\\" b=c') == \
        ("conn", [("a", '"\\x00\\"\\\\"'), ("b", "c")])
    assert parse_log_line("tcpxd: info: ready: 1 listeners, max_connections 9") == (None, [])


def test_reload_says_a_listener_moved():
    old, new = free_port(), free_port()
    d = Daemon([], start=False)
    listeners = [{"name": "inbox4", "mode": "receive", "address": "127.0.0.1", "port": old,
                  "output_dir": inbox(d)},
                 {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}]
    d.write_config(listeners)
    d.start()
    listeners[0]["port"] = new
    d.write_config(listeners[:1])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners")
    d.wait_log(r"^tcpxd: info: listener inbox4 moved from 127\.0\.0\.1:%d to 127\.0\.0\.1:%d$"
               % (old, new))
    d.wait_log(r"^tcpxd: info: listener echo closed$")
    assert "listener inbox4 closed" not in d.log()
    assert d.stop() == 0


run([test_stored_names_cannot_forge_fields, test_parser_rejects_forgeries,
     test_reload_says_a_listener_moved])
