# SPDX-License-Identifier: ISC
"""Admission limits: connection N+1 over max_connections and over max_per_ip
is refused ("ERR 503 busy" on receive listeners, a close on echo ones) while
other peers and later connections are still served; allow/deny rules refuse
with "ERR 403 forbidden", deny winning over allow; IPv4 peers reaching an
IPv6 dual-stack listener are matched by IPv4 rules."""

import socket

from tcpxdtest import Daemon, check_ok, connect, inbox, read_all, run, upload


def held_echo(addr, source=None):
    """An echo connection proven to be admitted: a byte makes the round trip."""
    s = connect(addr, source)
    s.sendall(b"!")
    assert s.recv(1) == b"!"
    return s


def refused_echo(addr, source=None):
    """True if the echo listener closed the connection without serving it."""
    s = connect(addr, source)
    try:
        s.sendall(b"?")
        return read_all(s) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def test_max_connections():
    d = Daemon([], start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
    ], max_connections=5, max_per_ip=100)
    d.start()
    held = [held_echo(d.addr("echo")) for _ in range(5)]
    assert refused_echo(d.addr("echo"))
    assert upload(d.addr("inbox"), b"data") == "ERR 503 busy\n"
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1: max_connections reached")
    assert d.stored_files() == []
    held.pop().close()
    d.wait_log(r"conn listener=echo .*result=ok")
    check_ok(d, upload(d.addr("inbox"), b"room again"), b"room again")
    for s in held:
        s.close()
    assert d.stop() == 0


def test_max_per_ip():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                 "max_per_ip": 3}], max_connections=100)
    held = [held_echo(d.addr("echo"), "127.0.0.1") for _ in range(3)]
    assert refused_echo(d.addr("echo"), "127.0.0.1")
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1: max_per_ip reached")
    # Another address is not affected by 127.0.0.1's count.
    other = held_echo(d.addr("echo"), "127.0.0.2")
    other.close()
    held.pop().close()
    d.wait_log(r"conn listener=echo peer=127\.0\.0\.1 .*result=ok")
    held.append(held_echo(d.addr("echo"), "127.0.0.1"))
    for s in held:
        s.close()
    assert d.stop() == 0


def test_v4_mapped_counts_as_v4():
    """On a dual-stack "::" listener an IPv4 client arrives v4-mapped; the
    per-address count and IPv4 rules still apply to it."""
    d = Daemon([{"name": "echo", "mode": "echo", "address": "::", "port": 0,
                 "max_per_ip": 2, "deny": ["127.0.0.3/32"]}])
    port = d.addr("echo")[1]
    held = [held_echo(("127.0.0.1", port)) for _ in range(2)]
    assert refused_echo(("127.0.0.1", port))
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1: max_per_ip reached")
    assert refused_echo(("127.0.0.1", port), "127.0.0.3")
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.3: denied")
    for s in held:
        s.close()
    assert d.stop() == 0


def test_allow_and_deny():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "allow": ["127.0.0.0/8"],
                     "deny": ["127.0.0.2/32"]}])
    d.start()
    assert upload(d.addr("inbox"), b"x", source="127.0.0.2") == "ERR 403 forbidden\n"
    d.wait_log(r"refused listener=inbox peer=127\.0\.0\.2: denied by allow/deny rules")
    check_ok(d, upload(d.addr("inbox"), b"ok", source="127.0.0.1"), b"ok")
    assert len(d.stored_files()) == 1
    assert d.stop() == 0


def test_allow_list_excludes_others():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                 "allow": ["127.0.0.5/32"]}])
    assert refused_echo(d.addr("echo"), "127.0.0.1")
    held_echo(d.addr("echo"), "127.0.0.5").close()
    assert d.stop() == 0


run([test_max_connections, test_max_per_ip, test_v4_mapped_counts_as_v4, test_allow_and_deny,
     test_allow_list_excludes_others])
