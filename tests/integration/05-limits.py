# SPDX-License-Identifier: ISC
"""Admission limits: connection N+1 over max_connections and over max_per_ip
is refused ("ERR 503 busy" on receive listeners, a close on echo ones) while
other peers and later connections are still served; allow/deny rules refuse
with "ERR 403 forbidden", deny winning over allow; IPv4 peers reaching an
IPv6 dual-stack listener are matched by IPv4 rules.  max_per_ip counts per
network: per_ip_prefix4 / per_ip_prefix6 (default one IPv6 /64), global or
per listener, the refusal naming the limit ("ERR 503 busy: max_per_ip") and
logging the network; each listener's refusals are logged on their own.
A connection's places are free once its line is logged: with every write
the daemon makes slowed (strace), a client that sees the line is served."""

import os
import shutil
import signal
import socket
import subprocess

from tcpxdtest import (LAUNCHER, SANITIZER, WAIT, Daemon, check_ok, connect, have_tool,
                       held_echo, inbox, read_line, refused_echo, run, run_tcpxd, upload)


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
    assert upload(d.addr("inbox"), b"data") == "ERR 503 busy: max_connections\n"
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1 reason=max_connections")
    assert d.stored_files() == []
    held.pop().close()
    d.wait_log(r"conn listener=echo .*result=ok")
    check_ok(d, upload(d.addr("inbox"), b"room again"), b"room again")
    for s in held:
        s.close()
    assert d.stop() == 0


def test_places_free_when_the_line_is_written():
    """max_connections and max_per_ip places are given back before the conn line: strace
    holds every write(2) of the daemon, its log lines' too, for 300 ms after it is made,
    so a place given back after the line would still be taken when the next client comes.
    The client reads its receipt, not the end of the stream: the socket is closed last."""
    if shutil.which("strace") is None or LAUNCHER or SANITIZER not in ("", "none"):
        print("no strace, or not a plain build: skipped")
        return
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "max_per_ip": 1}], max_connections=1)
    d.start(launcher=("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=write",
                      "-e", "inject=write:delay_exit=300000"))
    try:
        with connect(d.addr("inbox")) as held:
            held.sendall(b"held")
            d.wait_log(r"conn listener=inbox .*state=started")
            assert upload(d.addr("inbox"), b"data") == "ERR 503 busy: max_connections\n"
            held.shutdown(socket.SHUT_WR)
            check_ok(d, read_line(held), b"held")
            d.wait_log(r"conn listener=inbox .*result=ok")
            check_ok(d, upload(d.addr("inbox"), b"at once"), b"at once")
    finally:
        # A stop, each of its writes held, takes too long: the daemon is killed, and
        # strace, whose child it is, then ends (killing strace would leave it running).
        with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGKILL)
        d.proc.wait(WAIT)


def test_max_per_ip():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                 "max_per_ip": 3}], max_connections=100)
    held = [held_echo(d.addr("echo"), "127.0.0.1") for _ in range(3)]
    assert refused_echo(d.addr("echo"), "127.0.0.1")
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1 prefix=127\.0\.0\.1/32 reason=max_per_ip")
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
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.1 prefix=127\.0\.0\.1/32 reason=max_per_ip")
    assert refused_echo(("127.0.0.1", port), "127.0.0.3")
    d.wait_log(r"refused listener=echo peer=127\.0\.0\.3 reason=denied")
    for s in held:
        s.close()
    assert d.stop() == 0


def test_ipv4_prefix_and_per_listener_logs():
    """per_ip_prefix4 = 24 counts 127.0.0.1 and 127.0.0.2 as one client; a
    listener that overrides it with 32 counts addresses.  A refusal on one
    listener does not silence the next one's on another."""
    d = Daemon([], start=False)
    d.write_config([
        {"name": "net24", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox24", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
        {"name": "host32", "mode": "echo", "address": "127.0.0.1", "port": 0,
         "per_ip_prefix4": 32},
    ], max_connections=100, max_per_ip=2, per_ip_prefix4=24)
    d.start()
    held = [held_echo(d.addr("net24"), "127.0.0.1"), held_echo(d.addr("net24"), "127.0.0.2")]
    assert refused_echo(d.addr("net24"), "127.0.0.3")
    # Listeners with the same prefix lengths share the count of a network.
    assert upload(d.addr("inbox24"), b"x", "127.0.0.4") == "ERR 503 busy: max_per_ip\n"
    held.append(held_echo(d.addr("net24"), "127.0.1.1"))      # another /24
    held += [held_echo(d.addr("host32"), "127.0.0.3"), held_echo(d.addr("host32"), "127.0.0.3")]
    assert refused_echo(d.addr("host32"), "127.0.0.3")
    d.wait_log(r"^tcpxd: warning: refused listener=net24 peer=127\.0\.0\.3 "
               r"prefix=127\.0\.0\.0/24 reason=max_per_ip$")
    d.wait_log(r"^tcpxd: warning: refused listener=inbox24 peer=127\.0\.0\.4 "
               r"prefix=127\.0\.0\.0/24 reason=max_per_ip$")
    d.wait_log(r"^tcpxd: warning: refused listener=host32 peer=127\.0\.0\.3 "
               r"prefix=127\.0\.0\.3/32 reason=max_per_ip$")
    for s in held:
        s.close()
    rc, out, _ = run_tcpxd("-t", "-c", d.conf)
    assert rc == 0 and "per_ip_prefix4 = 24;" in out and "per_ip_prefix4 = 32;" in out and \
        "per_ip_prefix6 = 64;" in out, out
    assert d.stop() == 0


V6_NET = "2001:db8:7c::"
V6_ADDRS = [V6_NET + "1", V6_NET + "2", V6_NET + "3", "2001:db8:7c:1::1"]


def ip(*args):
    return subprocess.run(["ip", "-6", "addr", *args, "dev", "lo"], capture_output=True).returncode


def test_ipv6_counts_a_64():
    """By default an IPv6 client is its /64: three addresses of one /64 hold
    one count.  Several addresses need root (ip addr add on lo)."""
    if os.geteuid() != 0 or not have_tool("ip", "IPv6 per_ip_prefix6 test"):
        print("not root: IPv6 prefix test skipped")
        return
    added = []
    try:
        for a in V6_ADDRS:
            assert ip("add", a + "/128", "nodad") == 0, a
            added.append(a)
        d = Daemon([], start=False)
        d.write_config([
            {"name": "echo", "mode": "echo", "address": V6_ADDRS[0], "port": 0},
            {"name": "inbox", "mode": "receive", "address": V6_ADDRS[0], "port": 0,
             "output_dir": inbox(d)},
            {"name": "host128", "mode": "echo", "address": V6_ADDRS[0], "port": 0,
             "per_ip_prefix6": 128},
        ], max_connections=100, max_per_ip=2)
        d.start()
        held = [held_echo(d.addr("echo"), V6_ADDRS[1]), held_echo(d.addr("echo"), V6_ADDRS[2])]
        assert refused_echo(d.addr("echo"), V6_ADDRS[0])
        assert upload(d.addr("inbox"), b"x", V6_ADDRS[0]) == "ERR 503 busy: max_per_ip\n"
        held.append(held_echo(d.addr("echo"), V6_ADDRS[3]))    # another /64
        held.append(held_echo(d.addr("host128"), V6_ADDRS[0]))
        d.wait_log(r"^tcpxd: warning: refused listener=echo peer=2001:db8:7c::1 "
                   r"prefix=2001:db8:7c::/64 reason=max_per_ip$")
        d.wait_log(r"^tcpxd: warning: refused listener=inbox peer=2001:db8:7c::1 "
                   r"prefix=2001:db8:7c::/64 reason=max_per_ip$")
        for s in held:
            s.close()
        assert d.stop() == 0
    finally:
        for a in added:
            ip("del", a + "/128")


def test_allow_and_deny():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "allow": ["127.0.0.0/8"],
                     "deny": ["127.0.0.2/32"]}])
    d.start()
    assert upload(d.addr("inbox"), b"x", source="127.0.0.2") == "ERR 403 forbidden\n"
    d.wait_log(r"refused listener=inbox peer=127\.0\.0\.2 reason=denied")
    check_ok(d, upload(d.addr("inbox"), b"ok", source="127.0.0.1"), b"ok")
    assert len(d.stored_files()) == 1
    assert d.stop() == 0


def test_allow_list_excludes_others():
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                 "allow": ["127.0.0.5/32"]}])
    assert refused_echo(d.addr("echo"), "127.0.0.1")
    held_echo(d.addr("echo"), "127.0.0.5").close()
    assert d.stop() == 0


run([test_max_connections, test_places_free_when_the_line_is_written, test_max_per_ip,
     test_v4_mapped_counts_as_v4, test_ipv4_prefix_and_per_listener_logs, test_ipv6_counts_a_64, test_allow_and_deny,
     test_allow_list_excludes_others])
