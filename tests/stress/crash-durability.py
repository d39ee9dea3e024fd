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

Then resumed uploads: RESUMERS (20) clients each resume one file (random
size up to 32 MiB, framed version 2 with an upload id and its SHA-256) round after
round, every round ended by kill -9 at a random moment, until every file is
stored.  Checked: the offset each CONTINUE answers is never beyond what the
client sent and never below an offset answered before (an answered offset
is durable); nothing partial is ever visible in output_dir; every receipt
and stored file is the whole file; no partial is left at the end.

Output directory on the real disk (fsync is real).  Prints FIGURE lines."""

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
from tcpxdtest import WAIT, parse_ok, read_all, read_line  # noqa: E402

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


RESUMERS = 20
RESUME_MAX = 32 << 20


def resume_once(addr, c, out, barrier, answered):
    """One connection of resumer c: header, CONTINUE, the rest; out[c['i']] = answer."""
    header = b"\x89TCPX\r\n\x1a2 %d sha256:%s %s %s\n" % (
        len(c["data"]), c["sha"].encode(), c["id"], c["name"])
    try:
        s = socket.create_connection(addr, timeout=WAIT)
        try:
            barrier.wait()
            s.sendall(header)
            line = read_line(s)
            answered.release()
            if not line.startswith("CONTINUE "):
                out[c["i"]] = "no CONTINUE: %r" % line
                return
            off = int(line.split()[1])
            c["offsets"].append(off)
            c["connections"] += 1
            c["resumed"] += off > 0
            s.sendall(c["data"][off:])
            c["sent"] = len(c["data"])
            out[c["i"]] = read_all(s).decode(errors="replace")
        finally:
            s.close()
    except (OSError, threading.BrokenBarrierError) as e:
        out[c["i"]] = "error: %s" % e
        answered.release()


def test_kill9_resumed_rounds():
    d = Daemon([], start=False)
    box = inbox(d)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": box, "max_file_size": "64M"}],
                   max_per_ip=1000, max_connections=1000, log_level="info")
    rnd = random.Random(SEED + 1)
    clients = []
    for i in range(RESUMERS):
        data = rnd.randbytes(rnd.randrange(1, RESUME_MAX + 1))
        clients.append({"i": i, "data": data, "sha": hashlib.sha256(data).hexdigest(),
                        "id": b"resume-%02d" % i, "name": b"resumed-%02d" % i,
                        "offsets": [], "sent": 0, "done": None,
                        "connections": 0, "resumed": 0})
    rounds = crashes = 0
    while any(c["done"] is None for c in clients):
        rounds += 1
        assert rounds <= 200, "resumed uploads never finished"
        d.start()
        todo = [c for c in clients if c["done"] is None]
        out = [None] * RESUMERS
        barrier = threading.Barrier(len(todo) + 1)
        answered = threading.Semaphore(0)
        threads = [threading.Thread(target=resume_once,
                                    args=(d.addr("inbox"), c, out, barrier, answered))
                   for c in todo]
        for t in threads:
            t.start()
        barrier.wait()
        # One round in five crashes while the held parts are read back and hashed again;
        # the others once every client was told its offset, while the rest arrives.
        if rnd.random() < 0.8:
            for _ in todo:
                answered.acquire(timeout=WAIT)
        time.sleep(rnd.uniform(0, 0.03))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        crashes += 1
        for t in threads:
            t.join(WAIT * 2)
            assert not t.is_alive(), "a client hung after the kill"
        d.kill()
        visible = [n for n in os.listdir(box) if not n.startswith(".")]
        for c in todo:
            answer = out[c["i"]] or ""
            offs = c["offsets"]
            base = c["name"].decode()
            # Stored with its receipt lost to the kill: the client starts over (at-least-once).
            stored_unacked = any(n == base or n.startswith(base + ".") for n in visible)
            assert all(o <= len(c["data"]) for o in offs)
            assert offs == sorted(offs) or stored_unacked, \
                "client %d: an answered offset went back: %s" % (c["i"], offs)
            if stored_unacked and offs != sorted(offs):
                c["offsets"] = [offs[-1]]
            if answer.startswith("OK "):
                size, digest, name = parse_ok(answer)
                assert (size, digest) == (len(c["data"]), c["sha"])
                assert name == base or name.startswith(base + "."), name
                c["done"] = name
        for n in visible:
            owner = [c for c in clients
                     if n == c["name"].decode() or n.startswith(c["name"].decode() + ".")]
            assert owner, "unknown file %s" % n
            with open(os.path.join(box, n), "rb") as f:
                assert f.read() == owner[0]["data"], "%s is not the whole file" % n
        print("resume round %2d: %d of %d stored" % (
            rounds, sum(c["done"] is not None for c in clients), RESUMERS), flush=True)
    d.start()
    # A file stored with its receipt lost to the kill is sent again (a new upload).
    leftover = os.listdir(os.path.join(box, ".tcpxd-partial")) \
        if os.path.isdir(os.path.join(box, ".tcpxd-partial")) else []
    d.stop()
    resumes = sum(c["connections"] for c in clients)
    resumed_from = sum(c["resumed"] for c in clients)
    assert leftover == [], leftover
    FIGURES.append("resumed uploads: %d files of up to 32 MiB, %d rounds each ended by kill -9: "
                   "%d connections, %d resumed from a durable offset > 0, 0 offsets beyond "
                   "what was sent or below one answered before, every file whole, 0 partials "
                   "left" % (RESUMERS, crashes, resumes, resumed_from))


stresslib.run_and_report([test_kill9_rounds, test_kill9_resumed_rounds], FIGURES)
