#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Client identities (issue 14).  tcpxd --hash-token prints the SHA-256
line of a token read on stdin; tcpxd -t prints identities, makes no
subdirectory and refuses one that is a symbolic link.  Two token identities store their files in
their own subdirectories (tcpx --token-file and TCPX_TOKEN), and every log
line of their connections names them (client=); so does every record that
names a client's address that an identity holds: the debug line of a
connection as it starts, a failed token, a storage error, the identity's
max_connections, a refusal at accept (max_per_ip) and one by deny behind a
PROXY header.  A wrong, missing or
revoked token, a malformed AUTH line and a raw upload from an unknown
address all get ERR 401 before any file or partial exists: the directory
stays empty and, under strace, the daemon makes no openat, mkdirat or
linkat call at all for those connections, and each subdir was fsync'd
with its parent after mkdirat at start-up.  A wrong token is refused even
from an address that would identify the client.  Identities by a verified
client certificate (subject and SAN) and by source network, also the one
a PROXY header names.  One identity
can never resume another's upload.  SIGHUP: a connection in flight keeps
the identity it was admitted with; the revoked token's new connections are
refused.  An echo listener with require_identity closes unidentified
clients.  Repeated failures from one network are delayed and logged once
per interval, and a burst of bad tokens leaves the daemon's memory flat and
good clients served.  STATUS= names the top identities by bytes."""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from tcpxdtest import (LAUNCHER, SANITIZER, WAIT, Daemon, check_ok, connect, have_tool, inbox,
                       log_records, parse_log_line, read_all, read_line, run, run_tcpx, run_tcpxd, tcpx_target,
                       upload)

SIG = b"\x89TCPX\r\n\x1a"
ALICE, BOB, CAROL = (b"alice-token-0123456789abcdef", b"bob-token/0123456789+ABCDEF==",
                     b"carol-token-~0123456789.abc")


def digest(token):
    return hashlib.sha256(token).hexdigest()


def framed(data, name, token=None, version=1, upload_id="-"):
    auth = b"AUTH " + token + b"\n" if token is not None else b""
    if version == 1:
        header = b"1 %d %s\n" % (len(data), name.encode())
    else:
        header = b"2 %d - %s %s\n" % (len(data), upload_id.encode(), name.encode())
    return SIG + auth + header + data


def listener(d, name="inbox", **extra):
    return {"name": name, "mode": "receive", "address": "127.0.0.1", "port": 0,
            "output_dir": inbox(d), "min_free_space": 0, **extra}


def two_clients(**extra):
    alice = {"name": "alice", "token_sha256": digest(ALICE), "subdir": "alice"}
    bob = {"name": "bob", "token_sha256": [digest(b"old-bob-token-0123456789"), digest(BOB)],
           "subdir": "bob"}
    return [dict(alice, **extra.get("alice", {})), dict(bob, **extra.get("bob", {}))]


def daemon(clients, listeners, launcher=(), **globals_):
    d = Daemon([], start=False)
    d.write_config(listeners(d), clients=clients, **globals_)
    d.start(launcher=launcher)
    return d


def all_files(root):
    """Every file and directory under root, hidden ones too, as relative paths."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(out)


def refused(addr, data, source=None):
    answer = upload(addr, data, source)
    assert answer == "ERR 401 unauthorized\n", answer


# ---- tests ---------------------------------------------------------------------

def test_hash_token():
    p = subprocess.run([os.environ.get("TCPXD", "tcpxd"), "--hash-token"], input=ALICE + b"\n",
                       capture_output=True, timeout=WAIT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == 'token_sha256 = "%s";\n' % digest(ALICE), p.stdout
    for bad in (b"short\n", b"has space inside it!!\n", b"x" * 257 + b"\n", b""):
        p = subprocess.run([os.environ.get("TCPXD", "tcpxd"), "--hash-token"], input=bad,
                           capture_output=True, timeout=WAIT)
        assert p.returncode == 1 and b"16 to 256 characters" in p.stderr and not p.stdout, p


def test_check_config_prints_identities():
    d = Daemon([], start=False)
    d.write_config([listener(d, clients=["bob"], require_identity=True)],
                   clients=two_clients())
    rc, out, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 0, err
    # -t checks and makes nothing: the subdirs are made by the daemon that will write them.
    assert os.listdir(os.path.join(d.dir, "inbox")) == []
    assert 'token_sha256 = [ "%s" ];' % digest(ALICE) in out, out
    assert 'subdir = "bob";' in out and 'clients = [ "bob" ];' in out, out
    assert "require_identity = true;" in out, out
    # The printed settings read back the same.
    with open(d.conf + ".printed", "w") as f:
        f.write(out)
    rc, again, err = run_tcpxd("-t", "-c", d.conf + ".printed")
    assert rc == 0 and again.splitlines()[1:] == out.splitlines()[1:], err
    # A subdir is never reached through a symbolic link.
    elsewhere = os.path.join(d.dir, "elsewhere")
    os.mkdir(elsewhere)
    os.symlink(elsewhere, os.path.join(d.dir, "inbox", "bob"))
    rc, out, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1 and re.search(r'client "bob" on listener "inbox": "[^"]*/inbox/bob": is a '
                                 r'symbolic link, not a directory', err), err


def test_two_identities_own_directories():
    d = daemon(two_clients(), lambda d: [listener(d, require_identity=True)])
    root = os.path.join(d.dir, "inbox")
    # The subdirectories exist from the start, durable before any receipt names them.
    assert sorted(os.listdir(root)) == ["alice", "bob"], os.listdir(root)
    # Raw protocol bytes with the AUTH line; then tcpx with a token file and TCPX_TOKEN.
    data = os.urandom(5000)
    check_ok(d, upload(d.addr("inbox"), framed(data, "a.bin", ALICE)), data, "inbox/alice")
    with open(os.path.join(d.dir, "token"), "wb") as f:
        f.write(BOB + b"\n")
    src = os.path.join(d.dir, "b.txt")
    with open(src, "wb") as f:
        f.write(b"bob's file\n")
    rc, out, err = run_tcpx("send", "--token-file", os.path.join(d.dir, "token"), src,
                            tcpx_target(d.addr("inbox")))
    assert rc == 0, err
    rc, out, err = run_tcpx("send", "--name", "c.txt", "-", tcpx_target(d.addr("inbox")),
                            stdin=b"alice again", env=dict(os.environ, TCPX_TOKEN=ALICE.decode()))
    assert rc == 0, err
    # Bad tokens stop tcpx before it connects: unreadable file 6, invalid token or --raw 2.
    target = tcpx_target(d.addr("inbox"))
    assert run_tcpx("send", "--token-file", os.path.join(d.dir, "none"), src, target)[0] == 6
    with open(os.path.join(d.dir, "short"), "w") as f:
        f.write("short\n")
    rc, out, err = run_tcpx("send", "--token-file", os.path.join(d.dir, "short"), src, target)
    assert rc == 2 and "16 to 256 characters" in err, err
    rc, out, err = run_tcpx("send", "--raw", "--token-file", os.path.join(d.dir, "token"), src,
                            target)
    assert rc == 2 and "--raw sends none" in err, err
    assert sorted(os.listdir(os.path.join(root, "alice"))) == ["a.bin", "c.txt"]
    assert os.listdir(os.path.join(root, "bob")) == ["b.txt"]
    # Every record of these connections names its client.
    conns = log_records(d, "conn") + log_records(d, "upload")
    assert conns and all(r.get("client") in ("alice", "bob") for r in conns), conns
    assert {r["client"] for r in conns} == {"alice", "bob"}
    # The token never reaches the log.
    assert ALICE.decode() not in d.log() and BOB.decode() not in d.log()
    # Bytes are counted when a connection ends, which may be just after its receipt:
    # wait for the STATUS= that has both.
    status = d.wait_status(", bob ")
    assert re.search(r"top clients by bytes in: alice \d+, bob \d+$", status), status
    assert d.stop() == 0


def strace_launcher(d):
    if shutil.which("strace") is None or LAUNCHER or SANITIZER not in ("", "none"):
        print("no strace, or not a plain build: the system call check is skipped")
        return None
    trace = os.path.join(d.dir, "strace.txt")
    return trace, ("strace", "-f", "-qq", "-o", trace,
                   "-e", "trace=openat,open,creat,mkdirat,linkat,renameat2,unlinkat,fsync")


def test_refused_before_any_file():
    d = Daemon([], start=False)
    st = strace_launcher(d)
    d.write_config([listener(d, require_identity=True, max_partials=10),
                    listener(d, "open", output_dir=inbox(d, "open"))], clients=two_clients())
    d.start(launcher=st[1] if st else ())
    mark = os.path.getsize(st[0]) if st else 0
    addr = d.addr("inbox")
    data = b"must never be stored\n" * 100
    # Each from its own address: this test is not about the delay for repeated failures.
    cases = [framed(data, "wrong.bin", b"wrong-token-0123456789"),          # wrong
             framed(data, "missing.bin"),                                   # missing
             framed(data, "resumable.bin", b"wrong-token-0123456789", 2, "u1"),
             framed(data, "resumable2.bin", None, 2, "u2"),
             SIG + b"AUTH bad token\n1 3 x\nabc",                           # malformed
             data]                                                          # raw, unknown
    for i, payload in enumerate(cases):
        answer = upload(addr, payload, source="127.0.0.%d" % (10 + i))
        want = "ERR 400 " if b"bad token" in payload else "ERR 401 unauthorized\n"
        assert answer.startswith(want), (i, answer)
    # A listener without require_identity takes anonymous uploads, but not a wrong token.
    refused(d.addr("open"), framed(data, "w.bin", b"wrong-token-0123456789"), "127.0.0.30")
    assert all_files(os.path.join(d.dir, "inbox")) == ["alice", "bob"]
    assert all_files(os.path.join(d.dir, "open")) == ["alice", "bob"]
    d.wait_log(r"^tcpxd: \w+: conn listener=(inbox|open) .*result=refused-unauthorized$", count=6)
    if st:
        with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
            os.kill(int(f.read().split()[0]), signal.SIGTERM)
        assert d.proc.wait(WAIT) == 0
        with open(st[0]) as f:
            start = f.read(mark)
            f.seek(mark)
            calls = [line for line in f if re.search(r"\b(open|openat|creat|mkdirat|linkat|"
                                                     r"renameat2|unlinkat)\(", line)]
        assert calls == [], "file system calls for refused connections:\n" + "".join(calls)
        # Each subdir was made durable at start-up: the new directory and its parent fsync'd.
        made = 0
        for parent, name in re.findall(r'mkdirat\((\d+), "(alice|bob)", 0750\)\s*= 0', start):
            rest = start[start.index('mkdirat(%s, "%s"' % (parent, name)):]
            m = re.search(r'openat\(%s, "%s", [^)]*O_NOFOLLOW[^)]*\)\s*= (\d+)' % (parent, name),
                          rest)
            after = rest[m.end():]
            assert re.search(r"fsync\(%s\)\s*= 0" % m.group(1), after), (name, after[:500])
            assert re.search(r"fsync\(%s\)\s*= 0" % parent, after), (name, after[:500])
            made += 1
        assert made == 4, start      # alice and bob, in each of the two listeners' output_dirs
    else:
        assert d.stop() == 0


def test_revoked_token_and_reload_in_flight():
    d = daemon(two_clients(), lambda d: [listener(d, require_identity=True)])
    addr = d.addr("inbox")
    data = os.urandom(20000)
    # Bob's upload is admitted, then his token is revoked while it is in flight.
    s = connect(addr)
    s.sendall(framed(data, "inflight.bin", BOB)[:-1000])
    d.wait_log(r"conn listener=inbox .*state=started")
    d.write_config([listener(d, require_identity=True)], clients=two_clients()[:1])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: 1 listeners")
    s.sendall(data[-1000:])
    s.shutdown(socket.SHUT_WR)
    check_ok(d, read_all(s).decode(), data, "inbox/bob")
    s.close()
    d.wait_log(r"conn listener=inbox peer=127\.0\.0\.1 port=\d+ client=bob .*result=ok")
    # Revoked: its new connections are refused before anything is stored.
    refused(addr, framed(b"after", "after.bin", BOB))
    assert os.listdir(os.path.join(d.dir, "inbox", "bob")) == ["inflight.bin"]
    check_ok(d, upload(addr, framed(b"alice", "a.bin", ALICE)), b"alice", "inbox/alice")
    assert d.stop() == 0


def test_certificate_identities():
    if not have_tool("openssl", "the certificate identity test"):
        return
    from tls_certs import make_test_certs
    certs = make_test_certs()
    certs.make_cert("client2", "ca", "second client", server=False, san="DNS:client2.example")
    clients = [{"name": "carol", "certificate": "CN=tcpx test client", "subdir": "carol"},
               {"name": "dave", "certificate": ["client2.example"], "subdir": "dave"},
               {"name": "alice", "token_sha256": digest(ALICE)}]
    tls = {"certificate": certs.pem("server"), "key": certs.key("server"),
           "ca": certs.pem("ca"), "verify_client": True}
    d = daemon(clients, lambda d: [listener(d, tls=tls, require_identity=True)])
    src = os.path.join(d.dir, "f.txt")
    with open(src, "w") as f:
        f.write("by certificate\n")
    target = tcpx_target(d.addr("inbox"))

    def send(cert, env=None, *more):
        return run_tcpx("send", "--tls", "--ca", certs.pem("ca"), "--cert", certs.pem(cert),
                        "--key", certs.key(cert), *more, src, target,
                        env=dict(os.environ, **(env or {})))

    assert send("client")[0] == 0
    assert send("client2")[0] == 0
    root = os.path.join(d.dir, "inbox")
    assert os.listdir(os.path.join(root, "carol")) == ["f.txt"]
    assert os.listdir(os.path.join(root, "dave")) == ["f.txt"]
    # A token must not change who a certificate says the client is, nor may a wrong one pass.
    rc, out, err = send("client", {"TCPX_TOKEN": ALICE.decode()})
    assert rc == 3 and "ERR 401 unauthorized" in err, err
    rc, out, err = send("client", {"TCPX_TOKEN": "wrong-token-0123456789"})
    assert rc == 3 and "ERR 401 unauthorized" in err, err
    d.wait_log(r"conn .* client=carol .*subject=\"CN=tcpx test client\" .*result=ok")
    d.wait_log(r"conn .* client=dave .*result=ok")
    assert d.stop() == 0


def test_network_identities():
    clients = [{"name": "lan", "from": ["127.0.0.2/32"], "subdir": "lan"},
               {"name": "wide", "from": ["127.0.0.0/24"], "subdir": "wide"},
               {"name": "alice", "token_sha256": digest(ALICE), "subdir": "alice"}]
    d = daemon(clients, lambda d: [listener(d, require_identity=True),
                                   {"name": "echo", "mode": "echo", "address": "127.0.0.1",
                                    "port": 0, "require_identity": True,
                                    "clients": ["lan"]}])
    addr = d.addr("inbox")
    root = os.path.join(d.dir, "inbox")
    # Raw uploads are identified by their address alone, the longest prefix first.
    check_ok(d, upload(addr, b"from lan", "127.0.0.2"), b"from lan", "inbox/lan")
    check_ok(d, upload(addr, b"from wide", "127.0.0.3"), b"from wide", "inbox/wide")
    refused(addr, b"from nowhere", "127.0.1.1")
    # A token comes before the address; a wrong one is refused even where the address matches.
    check_ok(d, upload(addr, framed(b"t", "t.bin", ALICE), "127.0.0.2"), b"t", "inbox/alice")
    refused(addr, framed(b"w", "w.bin", b"wrong-token-0123456789"), "127.0.0.2")
    assert sorted(os.listdir(root)) == ["alice", "lan", "wide"]
    assert [len(os.listdir(os.path.join(root, n))) for n in ("alice", "lan", "wide")] == [1, 1, 1]
    # Echo: only lan; anyone else is closed, and the log says why.
    with connect(d.addr("echo"), "127.0.0.2") as s:
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"ping"
    with connect(d.addr("echo"), "127.0.0.3") as s:
        assert read_all(s) == b""
    d.wait_log(r"conn listener=echo peer=127\.0\.0\.3 .*result=refused-unauthorized")
    d.wait_log(r"conn listener=echo peer=127\.0\.0\.2 port=\d+ client=lan .*result=ok")
    assert d.stop() == 0


def test_network_identity_behind_proxy():
    """Behind a balancer, from matches the client the PROXY header names, not the balancer."""
    clients = [{"name": "branch", "from": ["10.0.0.0/8"], "subdir": "branch"},
               {"name": "balancer", "from": ["127.0.0.1/32"], "subdir": "balancer"}]
    d = daemon(clients, lambda d: [listener(d, require_identity=True, proxy_protocol=True,
                                            proxy_from=["127.0.0.1/32"], deny=["10.9.0.0/16"])])
    header = b"PROXY TCP4 10.1.2.3 192.0.2.1 40000 7008\r\n"
    check_ok(d, upload(d.addr("inbox"), header + b"via haproxy"), b"via haproxy", "inbox/branch")
    refused(d.addr("inbox"), b"PROXY TCP4 192.0.2.9 192.0.2.1 40000 7008\r\n" + b"unknown")
    assert os.listdir(os.path.join(d.dir, "inbox", "balancer")) == []
    d.wait_log(r"conn listener=inbox peer=10\.1\.2\.3 port=40000 client=branch via=127\.0\.0\.1 ")
    # Refused before it is identified, by the deny the header's address meets: the log
    # still names the client that address is.
    answer = upload(d.addr("inbox"), b"PROXY TCP4 10.9.1.1 192.0.2.1 40001 7008\r\nx")
    assert answer == "ERR 403 forbidden\n", answer
    d.wait_log(r"conn listener=inbox peer=10\.9\.1\.1 port=40001 client=branch via=127\.0\.0\.1 "
               r".*result=refused-denied")
    assert d.stop() == 0


def test_every_record_names_the_client():
    """Every record that names an identified client's address carries its client=: the
    debug line of a connection as it starts, upload and hash records, a failed token, a
    storage error (the store reports it, the service logs it), the identity's
    max_connections, and refusals at accept (max_per_ip) of a client its network names."""
    clients = [{"name": "lan", "from": ["127.0.0.2/32"], "subdir": "lan", "max_connections": 1},
               {"name": "lab", "from": ["127.0.0.3/32"], "subdir": "lab"},
               {"name": "alice", "token_sha256": digest(ALICE)}]
    d = daemon(clients, lambda d: [listener(d), listener(d, "other", output_dir=inbox(d, "other")),
                                   listener(d, "limited", output_dir=inbox(d, "limited"),
                                            max_per_ip=1, per_ip_prefix4=32)])
    addr, lan, lab = d.addr("inbox"), "127.0.0.2", "127.0.0.3"

    def ended(n):
        # lan has one connection: the next waits until the daemon ended the last (its slot
        # is free once its line is written), not only until its client read the answer.
        d.wait_log(r"conn listener=inbox peer=127\.0\.0\.2 .*result=", count=n)

    check_ok(d, upload(addr, b"raw", lan), b"raw", "inbox/lan")
    ended(1)
    big = os.urandom(5 << 20)       # hashed on a second thread: a hash record
    check_ok(d, upload(addr, framed(big, "big.bin", version=2), lan), big, "inbox/lan")
    ended(2)
    refused(addr, framed(b"w", "w.bin", b"wrong-token-0123456789"), lan)
    ended(3)
    # A storage error: the partial directory is a file.
    with open(os.path.join(d.dir, "inbox", "lan", ".tcpxd-partial"), "w"):
        pass
    answer = upload(addr, framed(b"resumable", "r.bin", version=2, upload_id="r1"), lan)
    assert answer == "ERR 500 storage error\n", answer
    ended(4)
    # lan's one connection, held on the other listener until it is answered ...
    held = connect(d.addr("other"), lan)
    held.sendall(framed(b"0123456789", "held.bin", version=2, upload_id="h1")[:-5])
    assert read_line(held) == "CONTINUE 0\n"
    # ... so one more is refused once it is identified,
    answer = upload(addr, b"one too many", lan)
    assert answer == "ERR 503 busy: max_connections\n", answer
    held.close()
    # and lab's second connection is refused at accept, by max_per_ip.
    with connect(d.addr("limited"), lab):
        d.wait_log(r"conn listener=limited peer=127\.0\.0\.3 .*state=started")
        answer = upload(d.addr("limited"), b"over max_per_ip", lab)
        assert answer == "ERR 503 busy: max_per_ip\n", answer
    d.wait_log(r"conn listener=limited peer=127\.0\.0\.3 .*result=empty")
    d.wait_log(r"conn listener=other peer=127\.0\.0\.2 .*result=")
    assert d.stop() == 0
    named = {lan: "lan", lab: "lab"}
    seen, wrong = set(), []
    for line in d.log().splitlines():
        event, fields = parse_log_line(line)
        f = dict(fields)
        if event is None or f.get("peer") not in named:
            continue
        if f.get("client") != named[f["peer"]]:
            wrong.append(line)
        seen.add((event, f.get("state") or f.get("reason") or ""))
    assert not wrong, "\n".join(wrong)
    missing = [w for w in (("conn", "started"), ("conn", ""), ("upload", ""), ("hash", ""),
                           ("unauthorized", ""), ("store-error", ""),
                           ("refused", "client-max_connections"), ("refused", "max_per_ip"))
               if w not in seen]
    assert not missing, (missing, sorted(seen))


def test_partials_keyed_by_identity():
    clients = [{"name": "alice", "token_sha256": digest(ALICE)},
               {"name": "bob", "token_sha256": digest(BOB)}]
    d = daemon(clients, lambda d: [listener(d)])
    addr = d.addr("inbox")
    data = os.urandom(100000)
    s = connect(addr)
    s.sendall(framed(data, "big.bin", ALICE, 2, "shared-id")[:-50000])
    assert read_line(s) == "CONTINUE 0\n"
    s.close()       # a broken upload: alice's partial stays
    d.wait_log(r"conn .* client=alice .*result=(?:aborted|refused)")
    # Bob names the same upload id from the same address: not his to resume.
    answer = upload(addr, framed(data, "big.bin", BOB, 2, "shared-id"))
    assert answer == "ERR 403 upload id belongs to another client\n", answer
    # Alice resumes it.
    s = connect(addr)
    s.sendall(SIG + b"AUTH " + ALICE + b"\n2 %d - shared-id big.bin\n" % len(data))
    m = re.fullmatch(r"CONTINUE (\d+)\n", read_line(s))
    assert m and 0 < int(m.group(1)) <= 50000, m
    s.sendall(data[int(m.group(1)):])
    check_ok(d, read_line(s), data)
    s.close()
    assert d.stop() == 0


def test_failures_delayed_and_logged_once():
    d = daemon(two_clients(), lambda d: [listener(d, require_identity=True)])
    addr = d.addr("inbox")
    times = []
    for _ in range(6):
        start = time.monotonic()
        refused(addr, framed(b"x", "x", b"wrong-token-0123456789"))
        times.append(time.monotonic() - start)
    # The documented schedule: three at once, then 250, 500 and 1000 ms (less a tolerance).
    assert times[4] >= 0.4 and times[5] >= 0.8, times
    lines = d.wait_log(r"warning: unauthorized listener=inbox peer=127\.0\.0\.1 "
                       r"prefix=127\.0\.0\.1/32 failures=1 delay_ms=0$")
    assert len(re.findall(r"warning: unauthorized ", d.log())) == 1, d.log()
    assert len(lines) == 1
    # Another network is not slowed by the first one's failures.
    start = time.monotonic()
    refused(addr, framed(b"x", "x", b"wrong-token-0123456789"), "127.0.0.9")
    assert time.monotonic() - start < 0.4
    d.wait_log(r"warning: unauthorized listener=inbox peer=127\.0\.0\.9 ")
    assert d.stop() == 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_bad_token_burst():
    """The short form of tests/stress/hostile-input.py's bad-token flood."""
    d = daemon(two_clients(), lambda d: [listener(d, require_identity=True, max_per_ip=8)],
               log_level="info")
    addr = d.addr("inbox")
    check_ok(d, upload(addr, framed(b"warm", "w0", ALICE)), b"warm", "inbox/alice")
    before = rss_kib(d.proc.pid)
    n = 400
    socks = []
    for i in range(n):
        # Sources spread over 127.0.0.0/24, as a botnet's would be; the answers are not awaited.
        try:
            s = connect(addr, source="127.0.0.%d" % (100 + i % 100), timeout=WAIT)
            s.sendall(framed(b"x" * 100, "bad%d" % i, b"bad-token-%016d" % i))
            socks.append(s)
        except OSError:
            pass
        if len(socks) >= 50:
            for s in socks:
                read_all(s)
                s.close()
            socks = []
    for s in socks:
        read_all(s)
        s.close()
    # The good clients are served all along, and memory is flat.
    data = os.urandom(10000)
    check_ok(d, upload(addr, framed(data, "after", BOB), "127.0.0.2"), data, "inbox/bob")
    d.wait_idle_resources()
    growth = rss_kib(d.proc.pid) - before
    # A sanitizer's quarantine, or valgrind, keeps freed memory: only a plain build is flat.
    if SANITIZER in ("", "none") and not LAUNCHER:
        assert growth < 8 * 1024, "RSS grew by %d KiB over %d bad tokens" % (growth, n)
    assert all_files(os.path.join(d.dir, "inbox")) == ["alice", "alice/w0", "bob", "bob/after"]
    assert d.stop() == 0


if __name__ == "__main__":
    run([test_hash_token, test_check_config_prints_identities, test_two_identities_own_directories,
         test_refused_before_any_file, test_revoked_token_and_reload_in_flight,
         test_certificate_identities, test_network_identities, test_network_identity_behind_proxy,
         test_every_record_names_the_client, test_partials_keyed_by_identity,
         test_failures_delayed_and_logged_once, test_bad_token_burst])
