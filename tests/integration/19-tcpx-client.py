# SPDX-License-Identifier: ISC
"""tcpx never hangs and says exactly what happened: ping of the largest size
tcpx(1) allows reads while it sends (plain and TLS); a send that tcpx gives
up mid-file (the file shrank) or that is killed (SIGINT, SIGKILL) resets
the connection, so the daemon stores nothing in raw, framed and TLS modes
alike; an empty raw send says nothing was stored unless the listener has
store_empty = true; a send to an echo service exits
4 ("the answer is not a receipt") every time; options may come before the
command, an unknown command is one line and exit 2, and every numeric option
refuses what is not a plain number."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from tcpxdtest import TCPX, WAIT, Daemon, have_tool, inbox, run
from tcpxdtest import run_tcpx as tcpx, tcpx_target as target

HAVE_OPENSSL = have_tool("openssl", "the TLS cases")
CERTS = None
if HAVE_OPENSSL:
    from tls_certs import make_certs
    CERTS_DIR = tempfile.mkdtemp(prefix="tcpxd-tls-certs-")
    CERTS = make_certs(CERTS_DIR)


def tls_group():
    return {"certificate": CERTS.pem("server"), "key": CERTS.key("server")}


def daemon(**extra):
    d = Daemon([], start=False)
    listeners = [
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **extra},
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
    ]
    if CERTS:
        listeners += [
            {"name": "inbox-tls", "mode": "receive", "address": "127.0.0.1", "port": 0,
             "output_dir": inbox(d, "inbox-tls"), "tls": tls_group(), **extra},
            {"name": "echo-tls", "mode": "echo", "address": "127.0.0.1", "port": 0,
             "tls": tls_group()},
        ]
    d.write_config(listeners)
    d.start()
    return d


def tls_args():
    return ("--tls", "--ca", CERTS.pem("ca"))


def test_ping_largest_size():
    """Both sides' buffers hold less than 16 MiB: ping must read while it sends."""
    d = daemon()
    cases = [((), "echo")] + ([(tls_args(), "echo-tls")] if CERTS else [])
    for extra, listener in cases:
        rc, out, err = tcpx("ping", *extra, "-c", "2", "-i", "0", "-s", "16777216", "--timeout", "10",
                            target(d.addr(listener)))
        assert rc == 0, (listener, rc, err)
        assert re.search(r"^2 sent, 2 received$", out, re.M), out
        assert len(re.findall(r"^16777216 bytes from ", out, re.M)) == 2, out
    assert d.stop() == 0


def socket_open(pid):
    """True once the process holds a socket (tcpx opens and sizes the file before that)."""
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                return True
    except FileNotFoundError:
        pass
    return False


def queued_at_daemon(port):
    """Bytes waiting in the receive queues of established connections to port
    (/proc/net/tcp*: the stopped daemon has not read them yet)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":
                    total += int(fields[4].split(":")[1], 16)
    return total


def send_abandoned(d, listener, count, *args, kill=None):
    """tcpx sends a 32 MiB file that shrinks to 16 MiB during the send (or, with kill,
    gets that signal).  The daemon is stopped meanwhile, so tcpx cannot have sent more
    than its socket buffers (a few MiB) by then: it meets the short file (or dies)
    mid-upload, deterministically.  Returns the result the daemon logged."""
    path = os.path.join(d.dir, "shrinks.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(32 << 20))
    d.send_signal(signal.SIGSTOP)
    try:
        p = subprocess.Popen([TCPX, "send", "-q", *args, path, target(d.addr(listener))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + WAIT
        # Mid-upload: connected and some data sent (a reset before the first byte is
        # an empty connection, not an abandoned upload).
        while not socket_open(p.pid) or queued_at_daemon(d.addr(listener)[1]) == 0:
            if p.poll() is not None or time.monotonic() >= deadline:
                p.kill()
                raise AssertionError(p.communicate())
            time.sleep(0.01)  # no readiness signal for "the client has sent data"
        if kill:
            p.send_signal(kill)
            p.wait(timeout=WAIT)
        else:
            os.truncate(path, 16 << 20)
    finally:
        d.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=WAIT * 2)
    if kill:
        assert p.returncode == -kill, (p.returncode, out, err)
    else:
        assert p.returncode == 6 and b"file shrank while sending" in err, (p.returncode, out, err)
    return d.wait_log(r"conn listener=%s .*result=(\S+)" % re.escape(listener), count=count)[-1]


def test_abandoned_send_stores_nothing():
    d = daemon()
    count = 0
    for args in (("--raw",), ()):
        for kill in (None, signal.SIGINT, signal.SIGKILL):
            count += 1
            result = send_abandoned(d, "inbox", count, *args, kill=kill)
            assert result == "aborted-reset", (args, kill, result)
            assert d.stored_files() == [], (args, kill, d.stored_files())
    if CERTS:
        for count, args in enumerate((("--raw",), ()), 1):
            result = send_abandoned(d, "inbox-tls", count, *(args + tls_args()))
            assert result.startswith("aborted-"), (args, result)
            assert d.stored_files("inbox-tls") == [], d.stored_files("inbox-tls")
    assert d.stop() == 0


def test_send_to_echo_is_not_a_receipt():
    d = daemon()
    path = os.path.join(d.dir, "300k.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(300 * 1000))
    cases = [((), "echo")] + ([(tls_args(), "echo-tls")] if CERTS else [])
    for extra, listener in cases:
        for mode in ((), ("--raw",)):
            for _ in range(5):
                rc, _, err = tcpx("send", "-q", *mode, *extra, path, target(d.addr(listener)))
                assert rc == 4 and "the answer is not a receipt" in err, (listener, mode, rc, err)
    assert d.stop() == 0


def test_empty_raw_send():
    """A raw upload of 0 bytes is an empty connection: stored only with store_empty = true,
    and tcpx says so (exit 3) instead of reporting a network error."""
    for store_empty in (False, True):
        d = daemon(store_empty=store_empty)
        path = os.path.join(d.dir, "empty")
        open(path, "wb").close()
        rc, _, err = tcpx("send", "-q", "--raw", path, target(d.addr("inbox")))
        if store_empty:
            assert rc == 0, (rc, err)
            assert len(d.stored_files()) == 1, d.stored_files()
        else:
            assert rc == 3 and "nothing stored" in err and "store_empty" in err, (rc, err)
            assert d.stored_files() == [], d.stored_files()
        rc, _, err = tcpx("send", "-q", path, target(d.addr("inbox")))
        assert rc == 0, (rc, err)
        assert "empty" in d.stored_files(), d.stored_files()
        assert d.stop() == 0


def test_option_order_and_commands():
    d = daemon()
    path = os.path.join(d.dir, "f.txt")
    with open(path, "wb") as f:
        f.write(b"content")
    box = target(d.addr("inbox"))
    for argv in (("-q", "send", path, box), ("--timeout", "5", "-q", "send", path, box),
                 ("send", path, "-q", box), ("--name", "g.txt", "send", path, box)):
        rc, out, err = tcpx(*argv)
        assert rc == 0 and " -> " in out, (argv, rc, err)
    # Options after operands count even where POSIXLY_CORRECT would stop at the first.
    env = dict(os.environ, POSIXLY_CORRECT="1")
    rc, out, err = tcpx("send", path, box, "--name", "h.txt", env=env)
    assert rc == 0 and " -> h.txt (7 bytes, " in out, (rc, out, err)
    # "--" ends the options: a message that starts with a dash.
    rc, out, err = tcpx("-q", "echo", target(d.addr("echo")), "--", "-n")
    assert (rc, out) == (0, "-n"), (rc, out, err)
    for argv, want in ((("bogus",), 'tcpx: unknown command "bogus" (try tcpx --help)\n'),
                       (("-q", "bogus", "x"), 'tcpx: unknown command "bogus" (try tcpx --help)\n'),
                       (("--bogus", "send"), "tcpx: unknown option --bogus (try tcpx --help)\n"),
                       (("send", "-zq", "f", "h:1"), "tcpx: unknown option -z (try tcpx --help)\n"),
                       (("--version", "send"),
                        "tcpx: --version takes no command or argument (try tcpx --help)\n"),
                       (("ping", "-c"), "tcpx: option -c needs a value (try tcpx --help)\n")):
        rc, out, err = tcpx(*argv)
        assert (rc, out, err) == (2, "", want), (argv, rc, out, err)
    rc, out, err = tcpx("--version")
    assert rc == 0 and out.startswith("tcpx ") and err == "", (rc, out, err)
    rc, out, err = tcpx("send", "--help")
    assert rc == 0 and out.startswith("usage: ") and err == "", (rc, out, err)
    assert d.stop() == 0


def test_numbers_exactly():
    """Every numeric option: a plain decimal number in range, or exit 2 before anything
    is sent (the target is a closed port: a try to connect would exit 5)."""
    closed = "127.0.0.1:1"
    bad = {
        "--timeout": ["1.5", "0", "86401", "1e1", "+5", "-1", " 5", "5 ", "0x10", "", "inf",
                      "nan", "5s", "99999999999999999999999"],
        "-c": ["2.9", "1e1", "0", "10000001", "+1", "-1", " 1", "0x2", "", "inf", "nan", "1,5"],
        "--count": ["2.9"],
        "-s": ["0", "16777217", "1.5", "1e3", "+64", "64K", "", "nan", " 64"],
        "--size": ["1e3"],
        "-i": ["1e1", "-1", "3600.1", "3601", "inf", "nan", "0x1", ".5", "1.", "1.2.3",
               "0.1234567891", " 1", "", "+1"],
        "--interval": ["1e-1"],
    }
    for option, values in bad.items():
        for value in values:
            rc, out, err = tcpx("ping", option, value, closed)
            assert rc == 2 and err.startswith("tcpx: ") and err.count("\n") == 1, (
                option, value, rc, err)
    d = daemon()
    echo = target(d.addr("echo"))
    for option, value in (("--timeout", "86400"), ("--timeout", "007"), ("-c", "3"),
                          ("-s", "16"), ("-i", "0.05"), ("-i", "0.000000001"), ("-i", "0")):
        rc, out, err = tcpx("ping", "-c", "3", option, value, echo)
        assert rc == 0 and "received" in out, (option, value, rc, err)
    # Three pings 1.5 s apart take 3 s at least: a fraction is honoured, not cut.
    start = time.monotonic()
    rc, out, err = tcpx("ping", "-c", "3", "-i", "1.5", echo)
    assert rc == 0 and time.monotonic() - start >= 3.0, (rc, err)
    assert d.stop() == 0


try:
    run([test_ping_largest_size, test_abandoned_send_stores_nothing,
         test_send_to_echo_is_not_a_receipt, test_empty_raw_send, test_option_order_and_commands,
         test_numbers_exactly])
finally:
    if CERTS and not os.environ.get("TCPXD_KEEP_TEST_DIRS"):
        shutil.rmtree(CERTS_DIR, True)
