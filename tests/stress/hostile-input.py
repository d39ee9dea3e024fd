# SPDX-License-Identifier: ISC
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
the uploads that got OK or one of the receipt-lost ones the log names.

A second daemon takes the same kind of garbage on TLS listeners and behind
PROXY headers, ROUNDS rounds of:

  - random bytes, and a cut-off real ClientHello, to TLS echo and drop box:
    closed without a plain-text byte (a TLS alert at most), nothing stored;
  - random bytes, a v2 signature with random bytes, and a v1 line of junk
    to a PROXY listener: no echo, nothing stored;
  - a valid PROXY header followed by random bytes: echoed exactly;
  - a real TLS echo and a TLS upload behind a PROXY header: byte-exact.

Then the daemon serves, has no more threads or descriptors than after its
first round, and exits 0.

A third daemon requires client identities (issue 14) and takes BAD_TOKENS
(10,000; 1,000 outside check-stress) connections with bad tokens from
2,048 addresses, 32 at a time, while two identities keep uploading: every
bad token gets ERR 401 and creates nothing, every good upload is stored in
its identity's directory, and the daemon's memory (RSS) and CPU per
connection are flat: the second half of the flood costs no more than the
first."""

import concurrent.futures
import hashlib
import os
import random
import re
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib  # noqa: E402
from stresslib import SIG, Daemon, framed, inbox  # noqa: E402
from tcpxdtest import check_ok, connect, echo, read_all, stored_names, upload  # noqa: E402
from tls_client import TLSConn  # noqa: E402

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
    d.wait_idle_resources()     # the last connections have ended and logged
    log = d.log()
    logged = set(stored_names(log))
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
    results = stresslib.results_text(d)
    assert d.stop() == 0      # includes the sanitizer check of the log
    FIGURES.append("hostile input: %d connections of garbage, half-open and 0-byte clients: "
                   "0 crashes; replies: %d OK (byte-exact), %d ERR 400, %d other ERR, "
                   "%d with no reply possible (reset, closed, not reading; %d of these stored "
                   "whole, receipt unread); results logged: %s"
                   % (c["cases"], c["ok"], c["err400"], c["err_other"], c["no_reply"], unread,
                      results))


def quiet_reply(addr, payload):
    """Sends payload, half-closes, returns what came back (b"" if reset)."""
    s = connect(addr)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return read_all(s)
    except OSError:     # reset, or already closed by the daemon (ENOTCONN)
        return b""
    finally:
        s.close()


def client_hello(ctx):
    """The first flight of a real TLS client, from memory BIOs."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def tls_upload(addr, header, data, ctx):
    """A raw upload over TLS behind a PROXY header, ended by close_notify and FIN."""
    c = TLSConn(addr, ctx, hostname="localhost", preamble=header)
    try:
        c.send(data)
        c.close_notify()
        c.fin()
        return c.recv_all()[0].decode()
    finally:
        c.close()


def test_tls_and_proxy_garbage():
    from tls_certs import CertDir
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-hostile-tls-"), start=False)
    certs = CertDir(os.path.join(d.dir, "certs"))
    os.mkdir(certs.path)
    certs.make_ca("ca", "hostile input CA")
    certs.make_cert("server", "ca", "localhost", san="IP:127.0.0.1")
    tls = {"certificate": certs.pem("server"), "key": certs.key("server")}
    proxy = {"proxy_protocol": True, "proxy_from": ["127.0.0.1"]}
    d.write_config([
        {"name": "tls-echo", "mode": "echo", "address": "127.0.0.1", "port": 0, "tls": tls},
        {"name": "tls-inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "tls": tls},
        {"name": "proxy-echo", "mode": "echo", "address": "127.0.0.1", "port": 0, **proxy},
        {"name": "proxy-tls-inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), "tls": tls, **proxy},
    ], log_level="info", max_per_ip=500, idle_timeout=5)
    d.start()
    ctx = ssl.create_default_context(cafile=certs.pem("ca"))
    hello = client_hello(ctx)
    rnd = random.Random(4)
    cases, alerts, acked = 0, 0, set()
    for i in range(ROUNDS):
        for name in ("tls-echo", "tls-inbox"):
            for garbage in (rnd.randbytes(rnd.randrange(1, 20000)),
                            hello[:rnd.randrange(1, len(hello))]):
                reply = quiet_reply(d.addr(name), garbage)
                # Nothing, or a TLS alert record: never plain text.
                assert reply == b"" or reply[:2] == b"\x15\x03", reply[:40]
                alerts += reply != b""
        junk_v1 = b"PROXY " + bytes(rnd.choice(b"TCP46 .:0123456789abcdef") for _ in range(
            rnd.randrange(1, 120))) + b"\r\n"
        for garbage in (rnd.randbytes(rnd.randrange(1, 2000)),
                        b"\r\n\r\n\x00\r\nQUIT\n" + rnd.randbytes(rnd.randrange(0, 2000)),
                        junk_v1):
            # junk_v1 is one line: refused, or (if it happens to be a valid header) followed
            # by nothing to echo.
            assert quiet_reply(d.addr("proxy-echo"), garbage) == b"", garbage[:40]
        data = rnd.randbytes(rnd.randrange(1, 50000))
        header = b"PROXY TCP4 198.51.100.%d 192.0.2.1 %d 7007\r\n" % (i % 250 + 1, 1000 + i)
        assert quiet_reply(d.addr("proxy-echo"), header + data) == data
        with ctx.wrap_socket(connect(d.addr("tls-echo")), server_hostname="localhost") as s:
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                got += s.recv(65536)
            assert got == data
        acked.add(check_ok(d, tls_upload(d.addr("proxy-tls-inbox"), header, data, ctx), data))
        cases += 11
    assert d.proc.poll() is None, "tcpxd died"
    d.wait_idle_resources()
    threads, fds = d.resources()
    assert set(d.stored_files()) == acked, sorted(set(d.stored_files()) - acked)[:5]
    results = stresslib.results_text(d)
    assert d.stop() == 0
    FIGURES.append("hostile TLS and PROXY input: %d connections (random bytes and cut-off "
                   "ClientHellos to TLS listeners, junk and bad PROXY headers): 0 crashes, "
                   "0 plain-text replies on TLS ports (%d TLS alerts), %d TLS uploads behind PROXY headers "
                   "byte-exact and nothing else stored, descriptors %d and threads %d at the "
                   "end (%d and %d when ready); results logged: %s"
                   % (cases, alerts, len(acked), fds, threads, d.idle[1], d.idle[0], results))


BAD_TOKENS = int(os.environ.get("TCPXD_STRESS_BAD_TOKENS", "10000" if stresslib.LONG else "1000"))
GOOD = {"alice": b"alice-token-0123456789abcdef", "bob": b"bob-token-0123456789abcdefgh"}


def bad_token(i):
    """One attacker's connection: a framed upload with a wrong token, from one of 2,048
    loopback addresses.  Its answer."""
    src = "127.1.%d.%d" % (i // 256 % 8, i % 256)
    payload = SIG + b"AUTH guess-%016d\n1 100 f%d\n" % (i, i) + b"x" * 100
    with connect(("127.0.0.1", bad_token.port), source=src) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass        # refused and drained before all of it was sent
        return read_all(s)


def test_bad_token_flood():
    d = Daemon([], workdir=stresslib.fast_dir("tcpxd-hostile-ident-"), start=False)
    clients = [{"name": name, "token_sha256": hashlib.sha256(tok).hexdigest(), "subdir": name}
               for name, tok in GOOD.items()]
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "require_identity": True, "min_free_space": 0}],
                   clients=clients, log_level="info")
    d.start()
    bad_token.port = d.addr("inbox")[1]
    pid = stresslib.daemon_pid(d)
    good = 0
    answers = {}
    marks = []          # (connections so far, CPU seconds, RSS KiB) at each tenth
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        step = BAD_TOKENS // 10
        for tenth in range(10):
            for a in pool.map(bad_token, range(tenth * step, (tenth + 1) * step)):
                answers[a] = answers.get(a, 0) + 1
            # The right clients are served all along.
            for name, tok in GOOD.items():
                data = os.urandom(2000)
                r = upload(d.addr("inbox"), SIG + b"AUTH " + tok + b"\n1 %d g%d\n" %
                           (len(data), good) + data)
                check_ok(d, r, data, os.path.join("inbox", name))
                good += 1
            marks.append(((tenth + 1) * step, d.cpu_seconds(), stresslib.proc_counts(pid)[2]))
    assert answers == {b"ERR 401 unauthorized\n": 10 * step}, answers
    assert sorted(os.listdir(os.path.join(d.dir, "inbox"))) == ["alice", "bob"]
    assert sum(len(os.listdir(os.path.join(d.dir, "inbox", n))) for n in GOOD) == good
    d.wait_idle_resources()
    # Flat: the second half costs no more CPU than the first (with room for noise), and
    # memory after the whole flood is what it was after its first tenth.
    first = marks[4][1] - marks[0][1]
    second = marks[9][1] - marks[5][1]
    if not stresslib.sanitized():      # a sanitizer's quarantine keeps freed memory
        assert second <= 2 * first + 0.5, marks
        assert marks[9][2] - marks[0][2] < 4096, marks
    assert d.stop() == 0
    FIGURES.append("bad-token flood: %d connections with wrong tokens from 2048 addresses, 32 at "
                   "a time: all ERR 401, nothing created; %d good uploads of 2 identities stored "
                   "in their directories meanwhile; daemon CPU %.2f s (%.0f us a connection; "
                   "tenths 2-5 %.2f s, 6-9 %.2f s), RSS %d KiB after the first tenth, %d KiB "
                   "at the end" % (10 * step, good, marks[9][1], 1e6 * marks[9][1] / (10 * step),
                                   first, second, marks[0][2], marks[9][2]))


stresslib.run_and_report([test_garbage_never_crashes, test_tls_and_proxy_garbage,
                          test_bad_token_flood], FIGURES)
