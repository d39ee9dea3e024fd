"""Hostile network input (docs/RELIABILITY.md, check 6b).  Against one
daemon (protocol auto), ROUNDS rounds (200; 40 outside check-stress) of:

  - random bytes to echo: echoed back exactly;
  - random bytes to the drop box: stored raw, OK, byte-exact;
  - the framed signature followed by random bytes (a garbage header):
    ERR 400 bad header, or OK if the garbage happens to be a valid header
    and the data matches; nothing stored on ERR;
  - a huge header: signature + 100 KiB without a newline: ERR 400;
  - a framed upload sent one byte at a time: OK, byte-exact;
  - half-open: upload half sent, then a reset (SO_LINGER 0): no receipt
    possible, nothing stored;
  - half-open the other way: the client shuts down its reading side and
    sends an upload: stored, the receipt is lost, no crash;
  - a connection that sends nothing and closes at once (0 bytes), to echo
    and to the drop box (which stores an empty raw upload; receipt lost);
  - a partial signature then a reset.

After all that the daemon is alive, serves a normal upload, has no
sanitizer report and exits 0 on SIGTERM; every file in output_dir is one of
the uploads that got OK or one of the receipt-lost ones the log names."""

import os
import random
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib  # noqa: E402
from stresslib import SIG, Daemon, framed, inbox  # noqa: E402
from tcpxdtest import check_ok, connect, echo, read_all, run, upload  # noqa: E402

ROUNDS = int(os.environ.get("TCPXD_STRESS_ROUNDS", "200" if stresslib.LONG else "40"))
FIGURES = []


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_garbage_never_crashes():
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-hostile-"), start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "idle_timeout": 5},
    ], max_per_ip=500, log_level="info")
    d.start()
    rnd = random.Random(3)
    c = {"cases": 0, "ok": 0, "err400": 0, "err_other": 0, "no_reply": 0}
    acked = set()

    def note_reply(r, data=None):
        c["cases"] += 1
        if r.startswith("OK "):
            c["ok"] += 1
            if data is not None:
                acked.add(check_ok(d, r, data))
        elif r.startswith("ERR 400 "):
            c["err400"] += 1
        elif r.startswith("ERR "):
            c["err_other"] += 1
        else:
            c["no_reply"] += 1

    for i in range(ROUNDS):
        data = rnd.randbytes(rnd.randrange(1, 100000))
        assert echo(d.addr("echo"), data) == data
        c["cases"] += 1
        raw = rnd.randbytes(rnd.randrange(1, 100000))
        if raw.startswith(SIG[:1]):
            raw = b"\0" + raw
        note_reply(upload(d.addr("inbox"), raw), raw)
        # garbage header
        before = set(d.stored_files())
        garbage = SIG + rnd.randbytes(rnd.randrange(0, 600))
        r = upload(d.addr("inbox"), garbage)
        assert r.startswith("ERR 400 ") or r.startswith("OK "), r
        note_reply(r)
        if r.startswith("OK "):
            acked.add(r.split()[3])
        else:
            assert set(d.stored_files()) == before
        # garbage header line of printable junk
        junk = SIG + bytes(rnd.choice(b"0123456789 \t\r-+abc/.\xff") for _ in range(
            rnd.randrange(1, 80))) + b"\n" + rnd.randbytes(rnd.randrange(0, 100))
        r = upload(d.addr("inbox"), junk)
        assert r.startswith("ERR ") or r.startswith("OK "), r
        note_reply(r)
        if r.startswith("OK "):
            acked.add(r.split()[3])
        if i % 10 == 0:
            # huge header
            r = upload(d.addr("inbox"), SIG + b"1 5 " + b"n" * (100 << 10))
            assert r.startswith("ERR 400 bad header"), r
            note_reply(r)
            # framed upload, one byte at a time
            body = rnd.randbytes(rnd.randrange(0, 50))
            msg = framed("bytewise-%d" % i, body)
            with connect(d.addr("inbox")) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for b in msg:
                    s.send(bytes([b]))
                    time.sleep(0.001)
                s.shutdown(socket.SHUT_WR)
                note_reply(read_all(s).decode(), body)
        # half-open: reset mid upload, and mid signature
        s = connect(d.addr("inbox"))
        s.sendall(rnd.randbytes(rnd.randrange(1, 200000)))
        reset(s)
        s = connect(d.addr("inbox"))
        s.sendall(SIG[:rnd.randrange(1, 8)])
        reset(s)
        # the client stops reading before the receipt
        s = connect(d.addr("inbox"))
        s.shutdown(socket.SHUT_RD)
        s.sendall(b"no reader %d" % i)
        s.shutdown(socket.SHUT_WR)
        s.close()
        # 0-byte connections
        connect(d.addr("echo")).close()
        connect(d.addr("inbox")).close()
        c["cases"] += 5
        c["no_reply"] += 5
    assert d.proc.poll() is None, "tcpxd died"
    final = b"after the garbage"
    acked.add(check_ok(d, upload(d.addr("inbox"), final), final))
    time.sleep(3)   # let the drain thread and the last connections finish
    log = d.log()
    logged = set(re.findall(r"result=ok(?:-receipt-lost)? stored=(\S+)", log))
    stored = set(d.stored_files())
    assert acked <= stored and stored <= logged, sorted(stored - logged)[:5]
    # The rest are the uploads of clients that never read their receipt (the
    # daemon's send succeeds into the socket buffer): an empty file from the
    # 0-byte connections, "no reader N" from the ones that shut down reading.
    for name in stored - acked:
        with open(os.path.join(d.dir, "inbox", name), "rb") as f:
            body = f.read()
        assert body == b"" or re.fullmatch(rb"no reader \d+", body), (name, body[:40])
    unread = len(stored - acked)
    results = stresslib.conn_results(d)
    assert d.stop() == 0      # includes the sanitizer check of the log
    FIGURES.append("hostile input: %d connections of garbage, half-open and 0-byte clients: "
                   "0 crashes; replies: %d OK (byte-exact), %d ERR 400, %d other ERR, "
                   "%d with no reply possible (reset, closed, not reading; %d of these stored "
                   "whole, receipt unread); results logged: %s"
                   % (c["cases"], c["ok"], c["err400"], c["err_other"], c["no_reply"], unread,
                      ", ".join("%s %d" % (k, results.count(k)) for k in sorted(set(results)))))


t0 = time.monotonic()
try:
    run([test_garbage_never_crashes])
finally:
    for line in FIGURES:
        print("FIGURE " + line)
    print("elapsed %.1f s" % (time.monotonic() - t0))
