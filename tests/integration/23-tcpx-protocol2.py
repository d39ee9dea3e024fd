# SPDX-License-Identifier: ISC
"""tcpx send speaks framed protocol 2: 1,000 files of a directory and the
files A B C each go over one connection (one conn line, files=N), with TLS
too; after an ERR the rest goes over a new connection; the header declares
the SHA-256, standard input's too; a resumable upload whose daemon is
killed (kill -9) mid-file and restarted on the same port completes through
tcpx's retries, resumed (the restarted daemon receives less than the file),
byte-exact and with no partial left; a tcpx killed mid-file resumes when
run again, from the id its state file kept, which is gone after the
receipt; broken connections and ERR 503 busy are retried with back-off,
other ERRs not."""

import hashlib
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from tcpxdtest import STATE_HOME, TCPX, WAIT, Daemon, have_tool, inbox, log_records, run
from tcpxdtest import run_tcpx as tcpx, tcpx_target as target

SIG = b"\x89TCPX\r\n\x1a"


def daemon(port=0, workdir=None, **extra):
    d = Daemon([], start=False, workdir=workdir)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": port,
                     "output_dir": inbox(d), **extra}])
    d.start()
    return d


def conns(d):
    return [c for c in log_records(d, "conn") if c.get("listener") == "inbox"]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def stored(d, name):
    with open(os.path.join(d.dir, "inbox", name), "rb") as f:
        return f.read()


def partials(d):
    """Sizes of the daemon's partial uploads (output_dir/.tcpxd-partial/)."""
    where = os.path.join(d.dir, "inbox", ".tcpxd-partial")
    try:
        return [os.path.getsize(os.path.join(where, n)) for n in os.listdir(where)]
    except FileNotFoundError:
        return []


def state_files():
    where = os.path.join(STATE_HOME, "tcpx")
    return sorted(os.listdir(where)) if os.path.isdir(where) else []


def clear_state():
    shutil.rmtree(os.path.join(STATE_HOME, "tcpx"), ignore_errors=True)


def receipt_lines(out):
    return re.findall(r"^(.*) -> (.*) \((\d+) bytes, sha256:([0-9a-f]{64})\)$", out, re.M)


class FakeServer:
    """A version 2 server that records each header and answers as told: answers[i]
    is what the i-th connection gets (None: a correct receipt per file; bytes: that
    line after the header, then the connection closes)."""

    def __init__(self, answers=()):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.answers = list(answers)
        self.headers, self.connections = [], 0
        self.target = "127.0.0.1:%d" % self.srv.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            answer = self.answers[self.connections] if self.connections < len(self.answers) else None
            self.connections += 1
            threading.Thread(target=self.serve, args=(c, answer), daemon=True).start()

    def serve(self, c, answer):
        f = c.makefile("rb")
        try:
            while True:
                if f.read(8) != SIG:
                    return
                header = f.readline()
                self.headers.append(header)
                _, size, _, upload_id, name = header[:-1].split(b" ", 4)
                if answer is not None:
                    c.sendall(answer)
                    return
                if upload_id != b"-":
                    c.sendall(b"CONTINUE 0\n")
                data = f.read(int(size))
                c.sendall(b"OK %d sha256:%s %s\n" % (len(data),
                                                     hashlib.sha256(data).hexdigest().encode(), name))
        finally:
            f.close()
            c.close()

    def close(self):
        self.srv.close()


def test_directory_over_one_connection():
    """1,000 small files of a directory: one connection, files=1000, every receipt checked."""
    d = daemon()
    src = os.path.join(d.dir, "src")
    os.mkdir(src)
    files = {"f%04d.txt" % i: os.urandom(i % 97) for i in range(1000)}
    for name, data in files.items():
        write(os.path.join(src, name), data)
    os.mkdir(os.path.join(src, "subdir"))          # skipped, as are hidden files
    write(os.path.join(src, ".hidden"), b"x")
    rc, out, err = tcpx("send", "-q", src, target(d.addr("inbox")))
    assert rc == 0, (rc, err)
    lines = receipt_lines(out)
    assert [os.path.basename(l[0]) for l in lines] == sorted(files), out[:500]
    for label, name, size, _ in lines:
        assert stored(d, name) == files[os.path.basename(label)]
    d.wait_log(r"conn listener=inbox .*files=1000")
    assert len(conns(d)) == 1, conns(d)
    assert d.stop() == 0


def test_files_over_one_connection_and_after_an_err():
    """A B C go over one connection; a file refused (ERR 413) ends it, and the rest
    goes over a new one."""
    d = daemon(max_file_size="1K")
    paths = []
    for name, size in (("a.bin", 100), ("b.bin", 200), ("c.bin", 300)):
        paths.append(os.path.join(d.dir, name))
        write(paths[-1], os.urandom(size))
    rc, out, err = tcpx("send", "-q", *paths, target(d.addr("inbox")))
    assert rc == 0 and len(receipt_lines(out)) == 3, (rc, out, err)
    d.wait_log(r"conn listener=inbox .*files=3")
    assert len(conns(d)) == 1, conns(d)
    write(paths[1], os.urandom(2000))
    rc, out, err = tcpx("send", "-q", *paths, target(d.addr("inbox")))
    assert rc == 3 and "b.bin: refused: ERR 413" in err, (rc, out, err)
    assert [l[1] for l in receipt_lines(out)] == ["a.bin.1", "c.bin.1"], out
    d.wait_log(r"conn listener=inbox .*result=", count=3)
    assert len(conns(d)) == 3, conns(d)
    assert d.stop() == 0


def test_tls_one_connection():
    """Over TLS too, A B C go over one connection, which ends with close_notify (result=ok)."""
    if not have_tool("openssl", "the TLS case"):
        return
    from tls_certs import make_certs
    certs = make_certs(tempfile.mkdtemp(prefix="tcpxd-tls-certs-"))
    d = daemon(tls={"certificate": certs.pem("server"), "key": certs.key("server")})
    paths = []
    for name in ("a.bin", "b.bin", "c.bin"):
        paths.append(os.path.join(d.dir, name))
        write(paths[-1], os.urandom(5000))
    rc, out, err = tcpx("send", "-q", "--tls", "--ca", certs.pem("ca"), *paths,
                        target(d.addr("inbox")))
    assert rc == 0 and len(receipt_lines(out)) == 3, (rc, out, err)
    d.wait_log(r"conn listener=inbox .*tls=TLSv1\.\d .*result=ok files=3$")
    assert len(conns(d)) == 1, conns(d)
    for path in paths:
        with open(path, "rb") as f:
            assert stored(d, os.path.basename(path)) == f.read()
    assert d.stop() == 0
    shutil.rmtree(certs.path, ignore_errors=True)


def test_digest_declared():
    """The header is version 2 and declares the SHA-256, of a file and of standard input."""
    fake = FakeServer()
    data = os.urandom(70000)
    rc, out, err = tcpx("send", "-q", "--name", "piped", "-", fake.target, stdin=data)
    assert rc == 0, (rc, err)
    d = Daemon([], start=False)
    path = os.path.join(d.dir, "file")
    write(path, data)
    rc, out, err = tcpx("send", "-q", path, fake.target)
    assert rc == 0, (rc, err)
    rc, out, err = tcpx("send", "-q", "--resume", path, fake.target)
    assert rc == 0, (rc, err)
    digest = b"sha256:" + hashlib.sha256(data).hexdigest().encode()
    assert fake.headers[0] == b"2 70000 %s - piped\n" % digest, fake.headers
    # Below 1 MiB a file is resumable only when asked.
    assert fake.headers[1] == b"2 70000 %s - file\n" % digest, fake.headers
    assert re.fullmatch(rb"2 70000 %s [0-9a-f]{32} file\n" % digest, fake.headers[2]), fake.headers
    fake.close()
    # The daemon checks it, and stores what came from standard input.
    d = daemon(workdir=d.dir)
    rc, out, err = tcpx("send", "-q", "--name", "piped", "-", target(d.addr("inbox")), stdin=data)
    assert rc == 0 and stored(d, "piped") == data, (rc, err)
    assert d.stop() == 0


def test_retries():
    """Connection refused and ERR 503 busy are retried with back-off; ERR 400 is not.
    The state file stays after a network error or busy, and goes after an answer."""
    clear_state()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    d = Daemon([], start=False)
    path = os.path.join(d.dir, "f")
    write(path, b"content")
    rc, _, err = tcpx("send", "-q", "--resume", "--retries", "2", path, "127.0.0.1:%d" % port)
    assert rc == 5, (rc, err)
    assert "retrying in 0.5 s (1 of 2)" in err and "retrying in 1.0 s (2 of 2)" in err, err
    assert "(3 of" not in err, err
    kept = state_files()        # a network error keeps the upload id, for the next run
    assert len(kept) == 1, kept
    fake = FakeServer([b"ERR 503 busy: max_partials\n", b"ERR 503 busy: max_connections\n"])
    rc, out, err = tcpx("send", "-q", "--resume", path, fake.target)
    assert rc == 0 and " -> f (7 bytes" in out, (rc, out, err)
    assert "f: ERR 503 busy: max_partials; retrying in 0.5 s (1 of 5)" in err, err
    assert "f: ERR 503 busy: max_connections; retrying in 1.0 s (2 of 5)" in err, err
    assert fake.connections == 3, err
    fake = FakeServer([b"ERR 503 busy: max_partials\n"] * 2)
    rc, out, err = tcpx("send", "-q", "--resume", "--retries", "1", path, fake.target)
    assert rc == 3 and err.endswith("f: refused: ERR 503 busy: max_partials\n"), (rc, err)
    fake.close()
    kept = state_files()        # busy: the daemon may hold part of it, so kept too
    assert len(kept) == 2, kept
    fake.close()
    fake = FakeServer([b"ERR 400 digest mismatch\n"])
    rc, out, err = tcpx("send", "-q", path, fake.target)
    assert rc == 3 and "refused: ERR 400 digest mismatch" in err and fake.connections == 1, err
    assert "retrying" not in err, err
    fake.close()
    assert state_files() == kept, state_files()     # an answer for good forgets it


def stop_mid_file(d, proc, at_least):
    """Stops d (SIGSTOP) once its partial upload holds at_least bytes: the daemon is
    stopped and started again in short steps, so it never gets far past that mark.
    No readiness signal exists for "the daemon has written N bytes"."""
    deadline = time.monotonic() + WAIT
    while True:
        d.send_signal(signal.SIGSTOP)
        if sum(partials(d)) >= at_least:
            return
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the partial never grew"
        d.send_signal(signal.SIGCONT)
        time.sleep(0.002)


class Terminal:
    """A pseudo-terminal for a child's standard error, so that tcpx draws its progress
    bar; what it writes is collected until the child closes it."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        self.text = bytearray()
        self.reader = threading.Thread(target=self.read, daemon=True)

    def read(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:         # EIO: the child closed its side
                break
            if not chunk:
                break
            self.text += chunk
        os.close(self.master)

    def started(self):
        os.close(self.slave)
        self.reader.start()

    def collected(self):
        self.reader.join(WAIT)
        return bytes(self.text)


def test_resume_after_daemon_killed():
    """kill -9 of the daemon mid-file; restarted on the same port, tcpx's retry resumes:
    the new daemon receives less than the file, which is stored byte-exact, no partial
    left; the progress bar goes on from where the daemon stood, not from 0 %."""
    clear_state()
    d = daemon()
    port = d.addr("inbox")[1]
    path = os.path.join(d.dir, "big.bin")
    data = os.urandom(64 << 20)
    write(path, data)
    tty = Terminal()
    p = subprocess.Popen([TCPX, "send", "--retries", "10", path, "127.0.0.1:%d" % port],
                         stdout=subprocess.PIPE, stderr=tty.slave)
    tty.started()
    try:
        stop_mid_file(d, p, 16 << 20)
        held = sum(partials(d))
        assert held < len(data), held
        d.kill()
        d2 = daemon(port=port, workdir=d.dir)
        out = p.communicate(timeout=WAIT * 4)[0]
    finally:
        if p.poll() is None:
            p.kill()
    err = tty.collected()
    assert p.returncode == 0, (out, err)
    assert b"retrying" in err, err
    # The first bar drawn after the retry starts at the offset (25 % at least).
    after = re.split(rb"[\r\n]", err.split(b"retrying", 1)[1])
    first = [int(m.group(1)) for m in (re.search(rb" (\d+)% ", t) for t in after) if m][0]
    assert 25 <= first <= 100, (first, err)
    assert receipt_lines(out.decode())[0][1:3] == ("big.bin", str(len(data))), out
    assert stored(d2, "big.bin") == data
    received = sum(int(c["in"]) for c in conns(d2))
    assert received < len(data), (received, conns(d2))
    assert partials(d2) == [], partials(d2)
    assert state_files() == [], state_files()
    assert d2.stop() == 0


def test_resume_on_second_run():
    """tcpx killed mid-file keeps the upload id in its state file; the same command run
    again resumes from what the daemon holds, and removes the state file after the receipt."""
    clear_state()
    d = daemon()
    path = os.path.join(d.dir, "big.bin")
    data = os.urandom(32 << 20)
    write(path, data)
    argv = [TCPX, "send", "-q", path, target(d.addr("inbox"))]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stop_mid_file(d, p, 1 << 20)
        assert len(state_files()) == 1, state_files()
        p.kill()
        p.wait()
    finally:
        d.send_signal(signal.SIGCONT)
    d.wait_log(r"conn listener=inbox .*result=aborted")
    first = int(conns(d)[0]["in"])
    rc, out, err = tcpx("send", "-q", path, target(d.addr("inbox")))
    assert rc == 0 and "retrying" not in err, (rc, err)
    assert stored(d, "big.bin") == data
    d.wait_log(r"conn listener=inbox .*result=", count=2)
    second = int(conns(d)[1]["in"])
    assert second < len(data) and first + second < len(data) + 1024, (first, second)
    assert partials(d) == [] and state_files() == [], (partials(d), state_files())
    # --no-resume sends the whole file, with no upload id and no state.
    rc, out, err = tcpx("send", "-q", "--no-resume", path, target(d.addr("inbox")))
    assert rc == 0 and state_files() == [], (rc, err)
    assert d.stop() == 0


if __name__ == "__main__":
    run([test_directory_over_one_connection, test_files_over_one_connection_and_after_an_err,
         test_tls_one_connection, test_digest_declared, test_retries, test_resume_after_daemon_killed,
         test_resume_on_second_run])
