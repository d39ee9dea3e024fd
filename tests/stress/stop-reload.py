# SPDX-License-Identifier: ISC
"""Stop and reload under load (docs/RELIABILITY.md, check 5).

SIGTERM during 50 uploads (shutdown_timeout = 3): all 50 are connected and
half sent when SIGTERM arrives.  25 "finishing" uploads send the rest and
half-close 1 s later: each must get OK and be stored byte-exact.  25
"unfinished" ones keep trickling a byte every 0.5 s past the timeout: none
may get OK and none may leave anything.  STOPPING=1 must be sent, a new
connection right after it must be refused at once, and the daemon must
exit 0 within shutdown_timeout + 1 s of the signal.

SIGTERM with 5,000 parked connections (park_after, shutdown_timeout = 0):
echo connections idle past park_after hold no thread; the stop must still
reach every one (the waiting room ends them), each with its
result=aborted-shutdown line and its client's EOF, and the daemon must exit
0 promptly.

SIGHUP storm: 100 SIGHUPs, alternating a good configuration (a different
max_file_size and idle_timeout each time) and a bad one (a type error), one
every ~100 ms (each waits for the daemon's READY=1 that ends the reload),
while 4 clients run echo on long-lived connections (a round trip every few
ms, the connection kept across every reload), 2 clients open new echo
connections, and 2 clients upload (raw and framed) continuously: no
connection dropped, no echo byte wrong, no upload lost (every upload gets OK
and is stored byte-exact), and the daemon is still serving at the end."""

import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib  # noqa: E402
from stresslib import Daemon, framed, inbox  # noqa: E402
from tcpxdtest import WAIT, check_ok, connect, echo, read_all, upload  # noqa

FIGURES = []
SHUTDOWN_TIMEOUT = 3


def listeners(d, **extra):
    return [
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **extra},
    ]


def test_sigterm_during_50_uploads():
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-stop-"), start=False)
    d.write_config(listeners(d), shutdown_timeout=SHUTDOWN_TIMEOUT, max_per_ip=200)
    d.start()
    rnd = random.Random(11)
    n = 50
    payloads = [rnd.randbytes(rnd.randrange(2, 1 << 20)) for _ in range(n)]
    socks = []
    for i, p in enumerate(payloads):
        s = connect(d.addr("inbox"))
        if i % 2 == 0:
            s.sendall(framed("up%02d" % i, p)[:8 + 20 + len(p) // 2])
        else:
            s.sendall(p[:len(p) // 2])
        socks.append(s)
    d.wait_log(r"conn listener=inbox .* state=started", count=n)
    t_sig = time.monotonic()
    d.send_signal(signal.SIGTERM)
    d.wait_notify("STOPPING=1", timeout=5)
    t_stopping = time.monotonic() - t_sig
    t1 = time.monotonic()
    try:
        connect(d.addr("inbox"), timeout=5).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    t_refused = time.monotonic() - t1
    assert refused, "a new connection was accepted after SIGTERM"
    # even = framed, odd = raw: both kinds finish, both kinds stay unfinished
    finishing = [i for i in range(n) if i % 4 in (0, 1)]
    unfinished = [i for i in range(n) if i not in finishing]
    out = [None] * n

    def finish(i):
        s, p = socks[i], payloads[i]
        time.sleep(1)
        whole = framed("up%02d" % i, p) if i % 2 == 0 else p
        sent = 8 + 20 + len(p) // 2 if i % 2 == 0 else len(p) // 2
        s.sendall(whole[sent:])
        s.shutdown(socket.SHUT_WR)
        out[i] = read_all(s).decode(errors="replace")

    def trickle(i):
        s = socks[i]
        try:
            end = time.monotonic() + SHUTDOWN_TIMEOUT + 3
            while time.monotonic() < end:
                s.sendall(b"z")
                time.sleep(0.5)
            s.shutdown(socket.SHUT_WR)
            out[i] = read_all(s).decode(errors="replace")
        except OSError as e:
            out[i] = "error: %s" % e

    threads = [threading.Thread(target=finish if i in finishing else trickle, args=(i,))
               for i in range(n)]
    for t in threads:
        t.start()
    rc = d.proc.wait(SHUTDOWN_TIMEOUT + 10)
    t_exit = time.monotonic() - t_sig
    for t in threads:
        t.join(WAIT)
    names = set()
    for i in finishing:
        name = check_ok(d, out[i], payloads[i])
        if i % 2 == 0:
            assert name == "up%02d" % i
        names.add(name)
    bad = [i for i in unfinished if out[i].startswith("OK")]
    assert not bad, "unfinished uploads acknowledged: %s" % bad
    assert set(d.stored_files()) == names, "unfinished uploads left files"
    assert not [x for x in os.listdir(os.path.join(d.dir, "inbox")) if x.startswith(".")]
    assert rc == 0, rc
    d.check_sanitizer()
    FIGURES.append("SIGTERM during %d uploads: STOPPING=1 after %.3f s, new connection refused "
                   "in %.3f s, %d/%d finishing uploads acknowledged and byte-exact, %d/%d "
                   "unfinished left nothing (0 acknowledged), exit %d after %.2f s "
                   "(shutdown_timeout = %d)"
                   % (n, t_stopping, t_refused, len(names), len(finishing), len(unfinished),
                      len(unfinished), rc, t_exit, SHUTDOWN_TIMEOUT))
    assert t_exit <= SHUTDOWN_TIMEOUT + 1, "exit took %.2f s" % t_exit


def test_sigterm_with_5000_parked():
    n = 5000
    stresslib.raise_nofile(n + 200)
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-park-"), start=False)
    d.write_config([{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0,
                     "park_after": 100}], shutdown_timeout=0, max_connections=n + 100,
                   max_per_ip=n + 100, log_level="info")
    d.start()
    socks = []
    for _ in range(n):
        s = connect(d.addr("echo"))
        s.sendall(b"!")
        assert s.recv(1) == b"!"
        socks.append(s)
    d.wait_status("(%d parked)" % n)
    _, threads, rss = stresslib.proc_counts(stresslib.daemon_pid(d))
    t_sig = time.monotonic()
    d.send_signal(signal.SIGTERM)
    rc = d.proc.wait(WAIT)
    t_exit = time.monotonic() - t_sig
    assert rc == 0, rc
    d.check_sanitizer()
    assert "stopped with" not in d.log(), "connections left unwinding"
    results = stresslib.conn_results(d)
    assert len(results) == n and set(results) == {"aborted-shutdown"}, stresslib.results_text(d)
    for s in socks:
        s.settimeout(WAIT)
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
        s.close()
    FIGURES.append("SIGTERM with %d parked connections (%d daemon threads, RSS %d KiB): "
                   "%d result=aborted-shutdown lines, every client saw its end, exit %d "
                   "after %.2f s" % (n, threads, rss, len(results), rc, t_exit))
    assert t_exit <= 10, "exit took %.2f s" % t_exit


def test_sighup_storm_under_traffic():
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-hup-"), start=False)
    d.write_config(listeners(d), max_per_ip=200, log_level="info")
    d.start()
    stop = threading.Event()
    errors = []
    counts = {"echo_rt": 0, "echo_conns": 0, "uploads": 0}
    lock = threading.Lock()

    def guard(fn):
        def body(*a):
            try:
                fn(*a)
            except Exception as e:  # reported by the main thread
                errors.append("%s: %r" % (fn.__name__, e))
                stop.set()
        return body

    @guard
    def long_echo(k):
        r = random.Random(k)
        with connect(d.addr("echo")) as s:
            while not stop.is_set():
                data = r.randbytes(r.randrange(1, 2000))
                s.sendall(data)
                got = b""
                while len(got) < len(data):
                    b = s.recv(len(data) - len(got))
                    assert b, "long-lived echo connection dropped"
                    got += b
                assert got == data, "echo bytes differ"
                with lock:
                    counts["echo_rt"] += 1
                time.sleep(0.002)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""

    @guard
    def short_echo(k):
        r = random.Random(k)
        while not stop.is_set():
            data = r.randbytes(r.randrange(1, 5000))
            assert echo(d.addr("echo"), data) == data
            with lock:
                counts["echo_conns"] += 1

    @guard
    def uploads(k):
        r = random.Random(k)
        i = 0
        while not stop.is_set():
            # under every max_file_size used; a raw upload without a byte stores nothing
            data = r.randbytes(r.randrange(1, 200000))
            if i % 2:
                name = check_ok(d, upload(d.addr("inbox"), framed("w%d-%06d" % (k, i), data)),
                                data)
                assert name == "w%d-%06d" % (k, i)
            else:
                check_ok(d, upload(d.addr("inbox"), data), data)
            with lock:
                counts["uploads"] += 1
            i += 1

    workers = [threading.Thread(target=long_echo, args=(k,)) for k in range(4)]
    workers += [threading.Thread(target=short_echo, args=(10 + k,)) for k in range(2)]
    workers += [threading.Thread(target=uploads, args=(20 + k,)) for k in range(2)]
    for t in workers:
        t.start()
    good = bad = 0
    t0 = time.monotonic()
    try:
        for h in range(100):
            if stop.is_set():
                break
            if h % 2 == 0:
                d.write_config(listeners(d, max_file_size="%dK" % (256 + h)),
                               max_per_ip=200, idle_timeout=30 + h, log_level="info")
                good += 1
            else:
                with open(d.conf, "a") as f:
                    f.write("max_connections = \"lots\";\n")
                bad += 1
            d.send_signal(signal.SIGHUP)
            d.wait_notify("RELOADING=1", timeout=10)
            d.wait_notify("READY=1", timeout=10)
            time.sleep(0.1)
    finally:
        stop.set()
        for t in workers:
            t.join(WAIT)
    elapsed = time.monotonic() - t0
    assert not errors, errors
    reloaded = len(d.wait_log(r"reloaded: 2 listeners", count=good))
    failed = len(d.wait_log(r"reload failed: .*max_connections must be an integer", count=bad))
    assert counts["uploads"] == len(d.stored_files()), "uploads lost"
    dropped = [r for r in stresslib.conn_results(d) if r != "ok"]
    assert not dropped, "connections not ending ok: %s" % dropped[:5]
    assert echo(d.addr("echo"), b"still here") == b"still here"
    FIGURES.append("SIGHUP storm: %d reloads in %.0f s (%d good applied, %d bad rejected), "
                   "during %d echo round trips on 4 long-lived connections, %d short echo "
                   "connections and %d uploads: 0 connections dropped, 0 uploads lost, "
                   "0 bytes wrong"
                   % (good + bad, elapsed, reloaded, failed, counts["echo_rt"],
                      counts["echo_conns"], counts["uploads"]))
    assert d.stop() == 0


stresslib.run_and_report([test_sigterm_during_50_uploads, test_sigterm_with_5000_parked,
                          test_sighup_storm_under_traffic], FIGURES)
