"""Socket activation without systemd: sockets passed as LISTEN_FDS with
FileDescriptorName-style LISTEN_FDNAMES are used by the listener of the same
name (whatever address its config names), listeners not passed are bound as
usual, a passed socket that no listener claims is refused with a clear
error, and a reload keeps the passed socket."""

import os
import re
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
ACTIVATE = ("import os, sys\n"
            "fd = int(sys.argv[1])\n"
            "if fd != 3:\n"
            "    os.dup2(fd, 3)\n"
            "    os.close(fd)\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")


def launch(d, sock, name, expect_ready=True):
    d.start(expect_ready=expect_ready, env={"LISTEN_FDS": "1", "LISTEN_FDNAMES": name},
            launcher=(sys.executable, "-c", ACTIVATE, str(sock.fileno())),
            pass_fds=(sock.fileno(),))


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


run([test_passed_socket_is_used, test_unclaimed_socket_refused])
