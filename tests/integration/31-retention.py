#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue 15, item 3: retention = { max_age; max_total; min_keep; }.

Files get their ages from os.utime.  Exactly the files beyond max_age, and
the oldest beyond max_total, are removed, each logged; never a file younger
than min_keep, a file whose hook is pending (xattr mark or record file), a
temporary, a partial upload or anything in a subdirectory that is no
identity's.  tcpxd --prune --dry-run prints the same list and changes
nothing; tcpxd --prune removes it; the running daemon prunes at start-up and
after uploads.  An identity's quota counts the removals: its usage stays
exact."""

import os
import re
import subprocess
import time
import urllib.request

from tcpxdtest import TCPXD, WAIT, Daemon, check_ok, inbox, run, upload

DAY = 86400
MARK = b"inbox\n" + b"0" * 64 + b"\n127.0.0.1\n\n"


def make(path, size, age, now):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    os.utime(path, (now - age, now - age))


# retention.c RECENT_S: a file changed (here: made, its mtime set) this recently is never removed.
RECENT_S = 2


def past_recent():
    """Lets files just made here age past RECENT_S: the rule is by time, so only time ends it."""
    time.sleep(RECENT_S + 1)


def snapshot(top):
    """Every file below top with its size and mtime."""
    out = {}
    for root, _, files in os.walk(top):
        for n in files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            out[os.path.relpath(p, top)] = (st.st_size, st.st_mtime_ns)
    return out


def populate(d, now):
    """A directory of every kind of entry; returns (dir, the names max_age = 30d removes)."""
    top = inbox(d)
    make(os.path.join(top, "old-40d.bin"), 1000, 40 * DAY, now)
    make(os.path.join(top, "old-31d.bin"), 1000, 31 * DAY, now)
    make(os.path.join(top, "young-29d.bin"), 1000, 29 * DAY, now)
    make(os.path.join(top, "new.bin"), 1000, 0, now)
    # Old, but its hook has not run: an xattr mark, and a record file's.
    make(os.path.join(top, "hook-pending-xattr.bin"), 1000, 50 * DAY, now)
    os.setxattr(os.path.join(top, "hook-pending-xattr.bin"), "user.tcpxd.hook", MARK)
    make(os.path.join(top, "hook-pending-record.bin"), 1000, 50 * DAY, now)
    make(os.path.join(top, ".tcpxd-hook.00000000000000aa"), 0, 50 * DAY, now)
    with open(os.path.join(top, ".tcpxd-hook.00000000000000aa"), "wb") as f:
        f.write(b"hook-pending-record.bin\n" + MARK)
    os.utime(os.path.join(top, ".tcpxd-hook.00000000000000aa"), (now - 50 * DAY,) * 2)
    # Never stored files: a temporary, a partial upload, an unrelated subdirectory.
    make(os.path.join(top, ".tcpxd-tmp.1234.5"), 1000, 60 * DAY, now)
    os.makedirs(os.path.join(top, ".tcpxd-partial"))
    make(os.path.join(top, ".tcpxd-partial", "up.data"), 1000, 60 * DAY, now)
    os.makedirs(os.path.join(top, "elsewhere"))
    make(os.path.join(top, "elsewhere", "old.bin"), 1000, 60 * DAY, now)
    os.symlink("/etc/passwd", os.path.join(top, "old-link"))
    return top, {"old-40d.bin", "old-31d.bin"}


def retention_config(d, **retention):
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "retention": retention}])


def prune(d, *extra):
    p = subprocess.run([TCPXD, "--prune", *extra, "-c", d.conf], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def would_remove(out):
    return {os.path.basename(m) for m in re.findall(r"^would remove (\S+) ", out, re.M)}


def test_max_age_dry_run_then_prune():
    d = Daemon([], start=False)
    now = time.time()
    top, expected = populate(d, now)
    retention_config(d, max_age="30d", min_keep="1h")
    past_recent()
    before = snapshot(top)
    rc, out, err = prune(d, "--dry-run")
    assert rc == 0, err
    assert would_remove(out) == expected, out
    assert "reason=max_age" in out and "listener=inbox" in out, out
    assert snapshot(top) == before, "a dry run changed the directory"
    rc, out, err = prune(d)
    assert rc == 0, err
    after = snapshot(top)
    assert set(before) - set(after) == expected, set(before) - set(after)
    assert {k: v for k, v in before.items() if k not in expected} == after
    removed = re.findall(r"retention listener=inbox file=(\S+) reason=max_age bytes=1000 ", err)
    assert {os.path.basename(f) for f in removed} == expected, err


def test_max_total_oldest_first():
    d = Daemon([], start=False)
    now = time.time()
    top = inbox(d)
    # Ten files of 1000 bytes, 10 h ... 1 h 10 min old, and one just stored (min_keep).
    for i in range(10):
        make(os.path.join(top, "f%d.bin" % i), 1000, (10 - i) * 3600, now)
    make(os.path.join(top, "fresh.bin"), 1000, 0, now)
    make(os.path.join(top, "pending.bin"), 1000, 20 * 3600, now)
    os.setxattr(os.path.join(top, "pending.bin"), "user.tcpxd.hook", MARK)
    retention_config(d, max_total=5500, min_keep="1h")
    past_recent()
    # 12000 bytes; the pending and fresh files stay, so f0..f6 must go for 5000 <= 5500.
    rc, out, err = prune(d, "--dry-run")
    assert rc == 0, err
    assert would_remove(out) == {"f%d.bin" % i for i in range(7)}, out
    rc, out, err = prune(d)
    assert rc == 0, err
    assert sorted(os.listdir(top)) == ["f7.bin", "f8.bin", "f9.bin", "fresh.bin", "pending.bin"]
    order = re.findall(r"file=\S*/(f\d)\.bin reason=max_total", err)
    assert order == ["f%d" % i for i in range(7)], order     # oldest first


def scrape(d):
    """{'name{labels}': value} of the daemon's /metrics (its config has a metrics group)."""
    port = int(d.wait_log(r"metrics endpoint listening on 127\.0\.0\.1:(\d+)$")[-1])
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=WAIT) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_recent_file_kept_whatever_min_keep():
    """min_keep = 0 still keeps a file linked in a moment ago: its client may not have
    its OK yet (store.c syncs the directory after the link)."""
    d = Daemon([], start=False)
    top = inbox(d)
    make(os.path.join(top, "old.bin"), 1000, 10 * DAY, time.time())
    retention_config(d, max_total=1, min_keep=0)
    rc, out, err = prune(d, "--dry-run")
    assert rc == 0, err
    assert would_remove(out) == set(), out       # 10 days by mtime, but changed just now
    past_recent()
    rc, out, err = prune(d, "--dry-run")
    assert rc == 0, err
    assert would_remove(out) == {"old.bin"}, out


def test_daemon_prunes_at_start_and_after_uploads():
    d = Daemon([], start=False)
    now = time.time()
    top, expected = populate(d, now)
    # The daemon's own start-up cleanup takes the stale temporary; retention never does.
    os.unlink(os.path.join(top, ".tcpxd-tmp.1234.5"))
    retention_config(d, max_age="30d", max_total="7000", min_keep=0)
    with open(d.conf, "a") as f:
        f.write('metrics = { address = "127.0.0.1"; port = 0; };\n')
    past_recent()
    d.start()
    d.wait_log(r"retention-pass listener=inbox ")
    for name in expected:
        assert not os.path.exists(os.path.join(top, name)), name
    assert len(re.findall(r"retention listener=inbox .*reason=max_age", d.log())) == 2
    # Left: young-29d, new, the two pending (2000 of 4000 bytes can never go); 7000 allowed.
    # Uploads of 1000 bytes push the total over: the oldest removable files go, in order.
    for i in range(4):
        data = os.urandom(1000)
        check_ok(d, upload(d.addr("inbox"), data), data)
    d.wait_log(r"retention listener=inbox .*reason=max_total", 1)
    assert not os.path.exists(os.path.join(top, "young-29d.bin"))
    assert os.path.exists(os.path.join(top, "hook-pending-xattr.bin"))
    assert os.path.exists(os.path.join(top, "hook-pending-record.bin"))
    assert os.path.exists(os.path.join(top, ".tcpxd-partial", "up.data"))
    assert os.path.exists(os.path.join(top, "elsewhere", "old.bin"))
    m = scrape(d)
    assert m['tcpxd_retention_removed_files_total{reason="max_age"}'] == 2, m
    assert m['tcpxd_retention_removed_files_total{reason="max_total"}'] == 1, m
    assert m["tcpxd_retention_removed_bytes_total"] == 3000, m
    assert m["tcpxd_retention_errors_total"] == 0, m
    d.stop()


def test_quota_counts_removals():
    d = Daemon([], start=False)
    lab = {"name": "lab", "from": ["127.0.0.2/32"], "subdir": "lab", "quota_bytes": 3000}
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "retention": {"max_total": 2000, "min_keep": 0}}],
                   clients=[lab])
    d.start()
    for i in range(3):
        receipt = upload(d.addr("inbox"), os.urandom(1000), source="127.0.0.2")
        assert receipt.startswith("OK 1000 "), receipt
    # 3000 bytes in lab/, beyond max_total: the oldest goes, and the quota sees it go.
    gone = d.wait_log(r"retention listener=inbox file=\S*/lab/(\S+) reason=max_total")[0]
    # That file's own update: an upload stored by a rename (where O_TMPFILE is missing) is
    # an event too, and its line can say files=2 as well.
    d.wait_log(r"quota-update client=lab file=%s files=2 bytes=2000$" % re.escape(gone))
    receipt = upload(d.addr("inbox"), os.urandom(1000), source="127.0.0.2")
    assert receipt.startswith("OK 1000 "), receipt      # fits the quota only after the removal
    assert len(os.listdir(os.path.join(d.dir, "inbox", "lab"))) >= 2
    d.stop()


def test_bad_usage():
    d = Daemon([], start=False)
    retention_config(d, max_age="30d")
    p = subprocess.run([TCPXD, "--dry-run", "-c", d.conf], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "--dry-run only goes with --prune" in p.stderr, p.stderr


run([test_max_age_dry_run_then_prune, test_max_total_oldest_first, test_recent_file_kept_whatever_min_keep,
     test_daemon_prunes_at_start_and_after_uploads, test_quota_counts_removals, test_bad_usage])
