# SPDX-License-Identifier: ISC
"""Crash durability (docs/RELIABILITY.md, check 1).  ROUNDS rounds (20;
TCPXD_STRESS_ROUNDS overrides): 100 concurrent uploads, half raw, half
framed, of random sizes from 0 B to 8 MiB (5 % exactly 0 B, 20 % uniform in
1 B-64 KiB, 75 % uniform in 0-8 MiB), all connected first and then sending
at once, then kill -9 of the daemon
at a random moment (uniform between the first upload's start and the time
100 uploads take without a crash, measured first), wait for
every client, restart the daemon on the same directory.  After each round,
over everything stored so far:

  - every upload whose client received OK is in output_dir under the
    receipt's name, with the receipt's size and sha256 (acknowledged =
    verified);
  - no partial file: every visible file is byte for byte one whole upload
    (a file may be durable with its receipt lost to the kill: counted as
    "stored, receipt lost");
  - no temporary file visible (nothing starting with a dot), none left
    after the restart;
  - nothing stored twice (each upload's content at most once).

Output directory on the real disk (fsync is real).  Prints one FIGURE line."""

import collections
import hashlib
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
from tcpxdtest import WAIT, parse_ok, read_all  # noqa: E402

ROUNDS = int(os.environ.get("TCPXD_STRESS_ROUNDS", "20" if stresslib.LONG else "3"))
CLIENTS = 100
SEED = int(os.environ.get("TCPXD_STRESS_SEED", "5"))
MAX = 8 << 20
FIGURES = []


def size_of(rnd):
    r = rnd.random()
    if r < 0.05:
        return 0
    if r < 0.25:   # small files too: 1 B .. 64 KiB
        return rnd.randrange(1, 1 << 16)
    return rnd.randrange(0, MAX + 1)


def one_upload(addr, payload, name, out, i, barrier):
    try:
        s = socket.create_connection(addr, timeout=WAIT)
        try:
            barrier.wait()
            s.sendall(framed(name, payload) if name else payload)
            s.shutdown(socket.SHUT_WR)
            out[i] = read_all(s).decode(errors="replace")
        finally:
            s.close()
    except OSError as e:
        out[i] = "error: %s" % e


def calibrate(d, rnd):
    """Seconds 100 such uploads take without a crash: the window for the kill."""
    d.start()
    # Raw uploads all: at least a byte each (a connection without one stores nothing).
    payloads = [rnd.randbytes(size_of(rnd) or 1) for _ in range(CLIENTS)]
    out = [None] * CLIENTS
    barrier = threading.Barrier(CLIENTS + 1)
    threads = [threading.Thread(target=one_upload,
                                args=(d.addr("inbox"), p, None, out, i, barrier))
               for i, p in enumerate(payloads)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    span = time.monotonic() - t0
    assert all(o.startswith("OK ") for o in out), [o for o in out if not o.startswith("OK ")][:3]
    d.stop()
    for n in os.listdir(os.path.join(d.dir, "inbox")):
        os.unlink(os.path.join(d.dir, "inbox", n))
    print("calibration: %d uploads take %.2f s without a crash; kills fall in 0..%.2f s"
          % (CLIENTS, span, span), flush=True)
    return span


def test_kill9_rounds():
    d = Daemon([], start=False)
    box = inbox(d)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": box, "max_file_size": "16M"}],
                   max_per_ip=1000, max_connections=1000, log_level="info")
    rnd = random.Random(SEED)
    acked = {}          # stored name -> (size, sha256)
    contents = collections.Counter()    # sha256 of every upload ever sent -> uploads
    checked = {}        # name -> (size, sha256) of files already hashed
    total = {"sent": 0, "acked": 0, "verified": 0, "partial": 0, "lost": 0, "temp": 0,
             "dup": 0, "durable-unacked": 0}
    span = calibrate(d, rnd)
    for rnd_no in range(ROUNDS):
        d.start()
        addr = d.addr("inbox")
        payloads, names = [], []
        for i in range(CLIENTS):
            body = rnd.randbytes(size_of(rnd))
            payloads.append(body)
            names.append("r%02d-c%03d" % (rnd_no, i) if i % 2 else None)
        hashes = [hashlib.sha256(p).hexdigest() for p in payloads]
        contents.update(hashes)   # tiny uploads may repeat content: counted
        out = [None] * CLIENTS
        barrier = threading.Barrier(CLIENTS + 1)
        threads = [threading.Thread(target=one_upload,
                                    args=(addr, payloads[i], names[i], out, i, barrier))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        barrier.wait()   # all connected: now they all send
        t0 = time.monotonic()
        time.sleep(rnd.uniform(0, span))  # the random moment of the crash
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        killed_after = time.monotonic() - t0
        for t in threads:
            t.join(WAIT * 2)
            assert not t.is_alive(), "a client hung after the kill"
        d.kill()
        round_acked = 0
        for i, receipt in enumerate(out):
            if receipt.startswith("OK "):
                size, digest, name = parse_ok(receipt)
                assert size == len(payloads[i]) and digest == hashes[i], \
                    "round %d client %d: receipt does not describe what was sent" % (rnd_no, i)
                if names[i]:
                    assert name == names[i], (name, names[i])
                acked[name] = (size, digest)
                round_acked += 1
        total["sent"] += CLIENTS
        total["acked"] += round_acked
        # What a crash leaves, before any start-up cleanup could hide it.
        visible = os.listdir(box)
        temp = [n for n in visible if n.startswith(".")]
        d.start()
        assert sorted(os.listdir(box)) == sorted(visible), "restart changed the directory"
        total["temp"] += len(temp)
        seen = {}
        seen_names = set(visible)
        verified = partial = 0
        for n in visible:
            if n.startswith("."):
                continue
            path = os.path.join(box, n)
            if n in checked and os.stat(path).st_size == checked[n][0]:
                size, digest = checked[n]      # hashed in an earlier round
            else:
                with open(path, "rb") as f:
                    data = f.read()
                size, digest = len(data), hashlib.sha256(data).hexdigest()
                checked[n] = (size, digest)
            if digest not in contents:
                partial += 1
                print("round %d: %s (%d bytes) is not any whole upload" % (rnd_no, n, size))
            seen.setdefault(digest, []).append(n)
            if n in acked and acked[n] == (size, digest):
                verified += 1
        lost = [n for n in acked if n not in seen_names]
        # Stored twice: more files with a content than uploads that sent it.
        dup = sum(max(0, len(v) - contents[k]) for k, v in seen.items())
        total["partial"] = max(total["partial"], partial)
        total["lost"] = max(total["lost"], len(lost))
        total["dup"] = max(total["dup"], dup)
        total["verified"] = verified
        total["durable-unacked"] = len(visible) - len(temp) - verified
        print("round %2d: killed after %.2f s; %3d acknowledged this round; on disk %d "
              "(%d acknowledged verified, %d stored with receipt lost), %d partial, "
              "%d temporary, %d lost, %d doubled"
              % (rnd_no, killed_after, round_acked, len(visible), verified,
                 len(visible) - len(temp) - verified, partial, len(temp), len(lost), dup),
              flush=True)
        assert not temp and not partial and not lost and not dup and verified == len(acked), \
            "round %d: durability broken" % rnd_no
        d.stop()
    FIGURES.append("crash durability: %d rounds x %d uploads (%d sent), kill -9 at random: "
                   "%d acknowledged / %d verified / %d partial; %d stored without receipt "
                   "(receipt lost to the kill, file whole); %d temporary files visible, "
                   "%d lost, %d stored twice"
                   % (ROUNDS, CLIENTS, total["sent"], total["acked"], total["verified"],
                      total["partial"], total["durable-unacked"], total["temp"],
                      total["lost"], total["dup"]))


stresslib.run_and_report([test_kill9_rounds], FIGURES)
