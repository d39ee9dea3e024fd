# SPDX-License-Identifier: ISC
"""Socket activation without systemd: sockets passed as LISTEN_FDS with
FileDescriptorName-style LISTEN_FDNAMES are used by the listener of the same
name (whatever address its config names), listeners not passed are bound as
usual, a passed socket that no listener claims is refused with a clear
error, and a reload keeps the passed socket; the descriptor budget counts
every passed socket, not two per listener."""

import os
import re
import resource
import signal
import socket
import sys

from tcpxdtest import Daemon, echo, run


def passed_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


# Puts the passed socket on fd 3 and sets LISTEN_PID to the pid that then execs tcpxd.
# (The given descriptors are first moved above 100 so that placing them never clobbers one.)
ACTIVATE = ("import os, sys\n"
            "fds = [int(x) for x in sys.argv[1].split(',')]\n"
            "high = [os.dup2(fd, 100 + i) for i, fd in enumerate(fds)]\n"
            "for i, fd in enumerate(high):\n"
            "    os.dup2(fd, 3 + i)\n"
            "    os.close(fd)\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execvp(sys.argv[2], sys.argv[2:])\n")


def launch(d, socks, names, expect_ready=True, preexec_fn=None):
    if not isinstance(socks, (list, tuple)):
        socks, names = [socks], [names]
    fds = [s.fileno() for s in socks]
    d.start(expect_ready=expect_ready,
            env={"LISTEN_FDS": str(len(fds)), "LISTEN_FDNAMES": ":".join(names)},
            launcher=(sys.executable, "-c", ACTIVATE, ",".join(map(str, fds))),
            pass_fds=tuple(fds), preexec_fn=preexec_fn)


def test_passed_socket_is_used():
    sock = passed_socket()
    port = sock.getsockname()[1]
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 1},
                {"name": "other", "mode": "echo", "address": "127.0.0.1", "port": 0}],
               start=False)
    launch(d, sock, "echo")
    sock.close()   # the daemon holds its own copy now
    assert re.search(r"listener echo \(echo\) listening on 127\.0\.0\.1:%d, passed by the "
                     r"service manager" % port, d.log()), d.log()
    assert echo(("127.0.0.1", port), b"activated") == b"activated"
    assert echo(d.addr("other"), b"bound") == b"bound"
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded")
    assert echo(("127.0.0.1", port), b"after reload") == b"after reload"
    assert d.stop() == 0


def test_unclaimed_socket_refused():
    sock = passed_socket()
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}],
               start=False)
    launch(d, sock, "tcpxd.socket", expect_ready=False)
    assert d.proc.wait(30) == 1
    assert re.search(r"socket \"tcpxd\.socket\" passed by the service manager matches no "
                     r"listener", d.log()), d.log()
    sock.close()


def test_one_name_several_sockets():
    """A socket unit may listen on IPv4 and IPv6 under one FileDescriptorName=."""
    v4 = passed_socket()
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    v6.bind(("::1", 0))
    v6.listen(16)
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 1}], start=False)
    launch(d, [v4, v6], ["echo", "echo"])
    ports = (v4.getsockname()[1], v6.getsockname()[1])
    v4.close()
    v6.close()
    assert echo(("127.0.0.1", ports[0]), b"four") == b"four"
    assert echo(("::1", ports[1]), b"six") == b"six"
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded")
    assert echo(("::1", ports[1]), b"six again") == b"six again"
    assert d.stop() == 0


def test_budget_counts_every_passed_socket():
    """Six sockets under one name take six descriptors: the RLIMIT_NOFILE line says
    32 fixed + 6 sockets + 1 a reload may open = 39, not 32 + 2 per listener."""
    socks = [passed_socket() for _ in range(6)]
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 1}],
               start=False, max_connections=1000, max_per_ip=1000)
    launch(d, socks, ["echo"] * 6,
           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128)))
    for s in socks:
        s.close()
    d.wait_log(r"max_connections = 1000 needs \d+ file descriptors \(2 per connection, 128 for "
               r"refusals draining, 39 for listeners, directories and the daemon\)")
    assert d.stop() == 0


run([test_passed_socket_is_used, test_unclaimed_socket_refused, test_one_name_several_sockets,
     test_budget_counts_every_passed_socket])
