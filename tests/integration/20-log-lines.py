# SPDX-License-Identifier: ISC
"""Log lines cannot be forged: a stored name such as "x result=ok
peer=10.0.0.1", or one holding quotes, backslashes and non-ASCII bytes,
comes out as one escaped value of a line that parses as key=value pairs
(tcpxd(8), LOGGING), and decodes back to the name that was stored.  The
harness parses every line of every daemon of the suite the same way
(tcpxdtest.Daemon.check_log); here its parser is shown to reject the
forgeries it exists to catch.  A reload that moves a listener says from
where to where; one that removes it says closed.  With log_format = "json"
every line is one strict JSON object carrying the same fields (counts as
numbers, hostile names escaped), and a reload switches the form."""

import json
import os
import signal
import socket

from tcpxdtest import (Daemon, connect, free_port, inbox, log_value_bytes, parse_json_line,
                       parse_log_line, read_all, run)

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


def strict_json(raw):
    def pairs(kv):
        keys = [k for k, _ in kv]
        assert len(set(keys)) == len(keys), raw
        return dict(kv)

    def constant(name):
        raise AssertionError("%s in %r" % (name, raw))
    return json.loads(raw.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)


def test_json_lines():
    d = Daemon([], start=False)
    listeners = [{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                  "output_dir": inbox(d), "protocol": "framed"}]
    d.write_config(listeners, log_format="json")
    d.start()
    names = [b"x result=ok peer=10.0.0.1", b'q" result=ok x="', b"back\\slash",
             "caf\u00e9 \U0001f600".encode()]
    for name in names:
        assert framed(d.addr("inbox"), name, b"data").startswith("OK 4 "), name
    d.wait_log(r"^tcpxd: info: conn listener=inbox .*result=ok ", count=len(names))
    with open(d.logpath, "rb") as f:
        raw = f.read().splitlines()
    objs = [strict_json(line) for line in raw]
    conns = [o for o in objs if o.get("event") == "conn" and "state" not in o]
    assert sorted(o["stored"].encode() for o in conns) == sorted(names), conns
    for o in conns:
        assert list(o)[:3] == ["ts", "level", "event"] and o["level"] == "info", o
        assert o["in"] > 4 and isinstance(o["out"], int) and isinstance(o["port"], int), o
        assert o["listener"] == "inbox" and o["peer"] == "127.0.0.1" and o["result"] == "ok", o
    assert any(o.get("msg", "").startswith("ready: 1 listeners") for o in objs), objs
    # What the harness sees is the logfmt those objects stand for.
    assert 'stored="caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80"' in d.log(), d.log()
    # A byte that is not UTF-8 stays valid JSON, as the text \xHH.
    assert parse_json_line(b'{"ts":"2026-12-03T03:10:54.894884Z","level":"info","event":"x",'
                           b'"name":"a\\\\xff\\u0001"}') == 'tcpxd: info: x name="a\\xff\\x01"'
    for bad in (b'{"ts":"2026-12-03T03:10:54.894884Z","level":"info","msg":"a","msg":"b"}',
                b'{"ts":"2026-12-03T03:10:54.894884Z","level":"info","event":"x","ms":NaN}',
                b'{"ts":"2026-12-03T03:10:54.894884Z","level":"info","event":"x","peer":1}',
                b'tcpxd: info: stopped'):
        try:
            parse_json_line(bad)
        except ValueError:
            continue
        raise AssertionError("accepted: %r" % bad)
    # A reload to logfmt applies from its own "reloaded" line on.
    d.check_log()
    d.write_config(listeners, log_format="logfmt")
    d.send_signal(signal.SIGHUP)
    d.json = False
    d.wait_notify("READY=1")    # after its "reloaded" line
    with open(d.logpath, "rb") as f:
        f.seek(d.log_checked)
        tail = f.read().splitlines()
    cut = tail.index(b"tcpxd: info: reloaded: 1 listeners")
    for line in tail[:cut]:
        strict_json(line)
    d.log_checked += sum(len(line) + 1 for line in tail[:cut])
    assert framed(d.addr("inbox"), b"after", b"data").startswith("OK 4 ")
    d.wait_log(r"^tcpxd: info: conn listener=inbox .* stored=after$")
    assert d.stop() == 0


run([test_stored_names_cannot_forge_fields, test_parser_rejects_forgeries,
     test_reload_says_a_listener_moved, test_json_lines])
