# SPDX-License-Identifier: ISC
"""Resource exhaustion never becomes an outage: with RLIMIT_NOFILE = 64 the
start-up warns in one line, running out of descriptors (the budget for
admitted connections, or accept() failing with EMFILE) pauses the
listeners instead of spinning a core (one log line per episode), and
service resumes when connections end; when threads cannot be created (a
pids cgroup), clients are refused with "ERR 503 busy", counted and logged,
and served again once load drops.  The descriptor budget counts what the
drain holds: with RLIMIT_NOFILE at the old "2 per connection + 32", a flood
of refusals draining never costs an admitted upload its file (no
"ERR 500"); they all complete."""

import os
import resource
import socket
import time

from tcpxdtest import (Daemon, SANITIZER, SLOW, check_ok, connect, echo, inbox, pids_cgroup,
                       read_all, run, upload)


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_emfile_pauses_without_spinning():
    if SANITIZER == "valgrind":
        print("valgrind needs descriptors of its own under RLIMIT_NOFILE 64: not tested")
        return
    d = Daemon([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0}],
               start=False, max_connections=1000, max_per_ip=1000)
    d.start(preexec_fn=low_nofile)
    d.wait_log(r"max_connections = 1000 needs 2162 file descriptors \(2 per connection, 128 for "
               r"refusals draining, 34 for listeners, directories and the daemon\) but "
               r"RLIMIT_NOFILE is 64: about 15 connections can be served at once, refusals drain 0")
    clients = []
    for _ in range(100):
        clients.append(connect(d.addr("echo")))   # the kernel completes these handshakes
    # The descriptor budget runs out before accept() could fail: the line says so, no errno.
    d.wait_log(r"accept: the descriptor budget for admitted connections is spent \(max_connections, "
               r"RLIMIT_NOFILE\), pausing listeners until a connection ends$")
    cpu0 = d.cpu_seconds()
    time.sleep(2)  # measuring CPU use over an interval: there is no event to wait for
    used = d.cpu_seconds() - cpu0
    assert used < 0.5 * SLOW, "daemon used %.2f s of CPU in 2 s while out of descriptors" % used
    assert len(d.wait_log(r"pausing listeners")) == 1, "more than one log line per episode"
    for s in clients:
        s.close()
    assert echo(d.addr("echo"), b"back in service") == b"back in service"
    assert d.stop() == 0


def test_thread_exhaustion_refuses_then_recovers():
    cg = pids_cgroup()
    if cg is None:
        print("no writable pids cgroup: thread exhaustion not tested")
        return
    d = Daemon([], start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d)},
    ], max_connections=1000, max_per_ip=1000)
    try:
        d.start()
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write("12")
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(d.proc.pid))
        held = []
        refused = 0
        for _ in range(30):
            s = connect(d.addr("echo"))
            s.sendall(b"!")
            try:
                got = s.recv(1)
            except ConnectionResetError:
                got = b""
            if got == b"!":
                held.append(s)
            else:
                refused += 1
                s.close()
        assert refused > 0 and held, (refused, len(held))
        assert upload(d.addr("inbox"), b"x") == "ERR 503 busy: no thread\n"
        d.wait_log(r"refused listener=\w+ peer=127\.0\.0\.1 reason=no-thread")
        for s in held:
            s.close()
        d.wait_log(r"conn listener=echo .*result=ok", count=len(held))
        check_ok(d, upload(d.addr("inbox"), b"served again"), b"served again")
        assert d.stop() == 0
    finally:
        d.kill()
        try:
            os.rmdir(cg)
        except OSError:
            pass


def test_refusals_draining_never_starve_admitted_uploads():
    if SANITIZER == "valgrind":
        print("valgrind needs descriptors of its own under a low RLIMIT_NOFILE: not tested")
        return
    conns = 20
    limit = 2 * conns + 32      # what the budget used to think enough

    def nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d)}], max_connections=conns, max_per_ip=1000)
    d.start(preexec_fn=nofile)
    # Admitted, each waiting for its first bytes before it opens its file.
    held = [connect(d.addr("inbox")) for _ in range(conns)]
    # The budget keeps 38 of the 72 for the daemon (its output and partial directories among
    # them): 17 are admitted.
    d.wait_log(r"conn listener=inbox .* state=started", count=conns - 3)
    # Refused at max_connections, answered, and left to drain as long as they stay open;
    # the daemon takes them until it runs out of room ("pausing listeners").
    flood = [connect(d.addr("inbox")) for _ in range(100)]
    d.wait_log(r"accept: .*pausing listeners until a connection ends")
    answers = []
    for i, s in enumerate(held):
        s.sendall(b"upload %d" % i)
        s.shutdown(socket.SHUT_WR)
    for i, s in enumerate(held):
        answers.append(read_all(s).decode())
        s.close()
    for s in flood:
        s.close()
    for i, answer in enumerate(answers):
        check_ok(d, answer, b"upload %d" % i)
    assert "ERR 500" not in d.log()
    assert d.stop() == 0


run([test_emfile_pauses_without_spinning, test_thread_exhaustion_refuses_then_recovers,
     test_refusals_draining_never_starve_admitted_uploads])
