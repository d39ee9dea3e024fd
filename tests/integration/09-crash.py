# SPDX-License-Identifier: ISC
"""Crash safety: kill -9 in the middle of uploads leaves no partial or
temporary file visible; uploads acknowledged before the kill are intact;
leftover temporary files are removed at the next start-up, and the
restarted daemon stores uploads again."""

import os
import signal
import threading

from tcpxdtest import Daemon, check_ok, connect, inbox, run, upload


def test_kill9_mid_upload():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d)}])
    d.start()
    done = os.urandom(1 << 20)
    acked = check_ok(d, upload(d.addr("inbox"), done), done)
    clients = []
    for _ in range(5):
        s = connect(d.addr("inbox"))
        s.sendall(os.urandom(2 << 20))
        clients.append(s)
    d.wait_log(r"conn listener=inbox .* state=started", count=6)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    for s in clients:
        s.close()
    assert d.stored_files() == [acked], d.stored_files()

    # A temporary file as left by a crash on a filesystem without O_TMPFILE.
    stale = os.path.join(d.dir, "inbox", ".tcpxd-tmp.99999.1")
    with open(stale, "wb") as f:
        f.write(b"half an upload")
    d.kill()
    d.start()
    d.wait_log(r"listener inbox: removed 1 temporary files left by an earlier run")
    assert not os.path.exists(stale)
    with open(os.path.join(d.dir, "inbox", acked), "rb") as f:
        assert f.read() == done
    again = b"after the crash"
    name = check_ok(d, upload(d.addr("inbox"), again), again)
    assert sorted([acked, name]) == d.stored_files()
    assert d.stop() == 0


def test_kill9_under_concurrent_load():
    """Uploads racing a kill -9: every OK receipt names a complete file; every
    visible file is one whole upload, stored once."""
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d)}], max_per_ip=100)
    d.start()
    payloads = [os.urandom(50000 * (i + 1)) for i in range(30)]
    receipts = [None] * len(payloads)

    def one(i):
        try:
            receipts[i] = upload(d.addr("inbox"), payloads[i])
        except OSError:
            receipts[i] = ""

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    d.wait_log(r"result=ok", count=5)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    for t in threads:
        t.join(60)
    acked = [check_ok(d, r, payloads[i]) for i, r in enumerate(receipts) if r.startswith("OK")]
    assert len(acked) >= 5
    visible = d.stored_files()
    assert set(acked) <= set(visible)
    # A file may be durable with its receipt lost to the kill, but never partial or doubled.
    contents = [open(os.path.join(d.dir, "inbox", n), "rb").read() for n in visible]
    for c in contents:
        assert c in payloads, "a partial or unknown file is visible (%d bytes)" % len(c)
    assert len(set(contents)) == len(contents), "an upload was stored twice"


run([test_kill9_mid_upload, test_kill9_under_concurrent_load])
