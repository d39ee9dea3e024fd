# SPDX-License-Identifier: ISC
"""Order of operations, from the system calls themselves: under strace -f,
every OK receipt the daemon sends is preceded, in the same thread, by
fsync of the uploaded file, then the link that names it, then fsync of the
directory, and the receipt names the file that was linked.  Counts
violations over raw and framed uploads (must be 0).  And across threads,
for 40 uploads at once: every receipt comes after a successful fsync of the
directory of its file that began after its link ended, whichever thread
issued it, so the rule holds as well for commits grouped across uploads.
With on_stored, the hook mark comes first: the xattr set on the file before
its fsync, or, where there are no user xattrs (TCPXD_TEST_NO_XATTR), the
record file written and fsync'd after the link and before the directory
fsync - so the mark is durable before the receipt.  Skipped without strace."""

import os
import re
import shutil
import signal
import sys
import threading

from tcpxdtest import LAUNCHER, SANITIZER, Daemon, check_ok, inbox, run, upload

if shutil.which("strace") is None or LAUNCHER or SANITIZER not in ("", "none"):
    # LeakSanitizer's exit-time check needs ptrace, which strace already holds.
    print("needs strace, a plain build and no other launcher: skipping")
    sys.exit(77)

SIG = b"\x89TCPX\r\n\x1a"


def test_fsync_link_fsync_before_ok():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d)}], max_per_ip=100)
    trace = os.path.join(d.dir, "strace.txt")
    d.start(launcher=("strace", "-f", "-qq", "-s", "200", "-o", trace,
                      "-e", "trace=fsync,fdatasync,linkat,renameat2,sendto,write,openat"))
    payloads = [os.urandom(1000 * (i + 1)) for i in range(20)]
    receipts = [None] * len(payloads)

    def one(i):
        if i % 2:
            receipts[i] = upload(d.addr("inbox"), payloads[i])
        else:
            framed = SIG + b"1 %d file%d\n" % (len(payloads[i]), i) + payloads[i]
            receipts[i] = upload(d.addr("inbox"), framed)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [check_ok(d, r, p) for r, p in zip(receipts, payloads)]
    # The process started is strace: stop its child, the daemon; strace exits with its status.
    with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGTERM)
    assert d.proc.wait(60) == 0

    per_tid = {}
    for line in open(trace):
        m = re.match(r"(\d+) +(\w+)\((.*)", line)
        if m:
            per_tid.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    checked = violations = 0
    for calls in per_tid.values():
        for i, (call, args) in enumerate(calls):
            if call not in ("sendto", "write") or '"OK ' not in args:
                continue
            name = re.search(r'"OK \d+ sha256:[0-9a-f]{64} (\S+)\\n"', args).group(1)
            before = calls[:i]
            link = [j for j, (c, a) in enumerate(before)
                    if c in ("linkat", "renameat2") and '"%s"' % name in a]
            fsyncs = [j for j, (c, a) in enumerate(before) if c in ("fsync", "fdatasync")]
            checked += 1
            if not link or not any(j < link[-1] for j in fsyncs) \
                    or not any(j > link[-1] for j in fsyncs):
                violations += 1
                print("violation for %s: %s" % (name, before[-8:]))
    print("durability order: %d receipts checked, %d violations" % (checked, violations))
    assert checked == len(names), (checked, len(names))
    assert violations == 0


def traced_hook_uploads(env):
    """20 raw uploads under strace with an on_stored hook; (names, calls per thread)."""
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d),
                     "on_stored": {"command": ["/bin/true"], "max_running": 2}}])
    trace = os.path.join(d.dir, "strace.txt")
    d.start(env=env, launcher=("strace", "-f", "-qq", "-s", "300", "-o", trace, "-e",
                               "trace=fsync,linkat,renameat2,sendto,write,openat,fsetxattr"))
    payloads = [os.urandom(500 * (i + 1)) for i in range(20)]
    names = [check_ok(d, upload(d.addr("inbox"), p), p) for p in payloads]
    d.wait_log(r" hook listener=inbox .* status=ok ", 20)
    with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGTERM)
    assert d.proc.wait(60) == 0
    # A call another thread interrupts is split: "<unfinished ...>", then "<... resumed>".
    per_tid, pending = {}, {}
    for line in open(trace):
        m = re.match(r"(\d+) +(.*)", line.rstrip("\n"))
        if not m:
            continue
        tid, rest = m.groups()
        resumed = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
        if resumed and tid in pending:
            call, args = pending.pop(tid)
            per_tid.setdefault(tid, []).append((call, args + resumed.group(1)))
            continue
        m = re.match(r"(\w+)\((.*)", rest)
        if not m:
            continue
        if m.group(2).endswith("<unfinished ...>"):
            pending[tid] = (m.group(1), m.group(2)[:-len("<unfinished ...>")])
        else:
            per_tid.setdefault(tid, []).append((m.group(1), m.group(2)))
    return names, per_tid


def fd_of(args):
    """The descriptor a call's first argument names."""
    return re.match(r"\s*(\d+)", args).group(1)


def receipts(per_tid):
    """(name, the calls of its thread before the receipt) of every OK receipt."""
    for calls in per_tid.values():
        for i, (call, args) in enumerate(calls):
            if call == "sendto" and '"OK ' in args:
                yield re.search(r'"OK \d+ sha256:[0-9a-f]{64} (\S+)\\n"', args).group(1), calls[:i]


def last(before, pred):
    found = [j for j, (c, a) in enumerate(before) if pred(c, a)]
    return found[-1] if found else None


def test_xattr_mark_before_fsync_before_ok():
    names, per_tid = traced_hook_uploads(None)
    checked = violations = 0
    for name, before in receipts(per_tid):
        link = last(before, lambda c, a: c == "linkat" and '"%s"' % name in a)
        mark = last(before[:link or 0], lambda c, a: c == "fsetxattr" and "user.tcpxd.hook" in a)
        fsync_file = last(before[:link or 0], lambda c, a: c == "fsync")
        fsync_dir = last(before, lambda c, a: c == "fsync")
        checked += 1
        if None in (link, mark, fsync_file) or not mark < fsync_file < link < fsync_dir:
            violations += 1
            print("violation for %s: %s" % (name, before[-8:]))
    print("hook mark order (xattr): %d receipts checked, %d violations" % (checked, violations))
    assert checked == len(names) and violations == 0


def test_record_mark_before_dir_fsync_before_ok():
    names, per_tid = traced_hook_uploads({"TCPXD_TEST_NO_XATTR": "1"})
    checked = violations = 0
    for name, before in receipts(per_tid):
        link = last(before, lambda c, a: c == "linkat" and '"%s"' % name in a)
        record = last(before, lambda c, a: c == "openat" and ".tcpxd-hook." in a)
        fd = before[record][1].rsplit("= ", 1)[1].strip() if record is not None else None
        wrote = last(before, lambda c, a: c == "write" and fd_of(a) == fd and
                     '"%s\\n' % name in a) if fd else None
        fsyncs = [j for j, (c, a) in enumerate(before) if c == "fsync"]
        checked += 1
        # fsync(file) < link < record written < fsync(record) < fsync(dir) < receipt.
        if None in (link, record, wrote) or not any(j < link for j in fsyncs) or \
                not link < record < wrote or \
                not any(j > wrote and fd_of(before[j][1]) == fd for j in fsyncs) or \
                not fsyncs[-1] > wrote or fd_of(before[fsyncs[-1]][1]) == fd:
            violations += 1
            print("violation for %s: %s" % (name, before[-10:]))
    print("hook mark order (record): %d receipts checked, %d violations" % (checked, violations))
    assert checked == len(names) and violations == 0


def strace_calls(trace):
    """The system calls of an strace -f log in the order strace saw them:
    (name, args, result, entry, exit), entry and exit the positions in the
    log (a call that another thread's output split is "<unfinished ...>" at
    its entry and "<... NAME resumed>" at its exit)."""
    calls, pending = [], {}
    for pos, line in enumerate(open(trace)):
        m = re.match(r"(\d+) +<\.\.\. (\w+) resumed>(.*)\) += (.*)$", line)
        if m and m.group(1) in pending:
            name, args, entry = pending.pop(m.group(1))
            calls.append((name, args + m.group(3), m.group(4), entry, pos))
            continue
        m = re.match(r"(\d+) +(\w+)\((.*) <unfinished \.\.\.>$", line)
        if m:
            pending[m.group(1)] = (m.group(2), m.group(3), pos)
            continue
        m = re.match(r"(\d+) +(\w+)\((.*)\) += (.*)$", line)
        if m:
            calls.append((m.group(2), m.group(3), m.group(4), pos, pos))
    return calls


def test_grouped_order_across_threads():
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d)}], max_per_ip=100)
    trace = os.path.join(d.dir, "strace.txt")
    # -y: descriptors with their paths, so that an fsync names its directory
    d.start(launcher=("strace", "-f", "-qq", "-y", "-s", "200", "-o", trace,
                      "-e", "trace=fsync,fdatasync,linkat,renameat2,sendto,write"))
    n = 40
    payloads = [os.urandom(512 + 97 * i) for i in range(n)]
    receipts = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        if i % 2:
            receipts[i] = upload(d.addr("inbox"), payloads[i])
        else:
            receipts[i] = upload(d.addr("inbox"), SIG + b"1 %d g%d\n" % (len(payloads[i]), i)
                                 + payloads[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [check_ok(d, r, p) for r, p in zip(receipts, payloads)]
    with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGTERM)
    assert d.proc.wait(60) == 0

    calls = strace_calls(trace)
    links = {}
    for name, args, result, entry, exit_ in calls:
        m = re.match(r'.*, \d+<([^>]*)>, "([^"]+)", \w+$', args)
        if name in ("linkat", "renameat2") and result == "0" and m:
            links[m.group(2)] = (m.group(1), exit_)
    dir_fsyncs = [(re.match(r"\d+<([^>]*)>", args).group(1), entry, exit_)
                  for name, args, result, entry, exit_ in calls
                  if name in ("fsync", "fdatasync") and result == "0"]
    checked = violations = 0
    for name, args, result, entry, exit_ in calls:
        m = re.search(r'"OK \d+ sha256:[0-9a-f]{64} (\S+)\\n"', args)
        if name not in ("sendto", "write") or not m:
            continue
        checked += 1
        stored = m.group(1)
        if stored not in links:
            violations += 1
            print("violation: no link seen for %s" % stored)
            continue
        directory, linked = links[stored]
        if not any(path == directory and linked < began and ended < entry
                   for path, began, ended in dir_fsyncs):
            violations += 1
            print("violation: receipt of %s with no fsync of %s between its link and it"
                  % (stored, directory))
    print("grouped durability order: %d receipts checked, %d violations" % (checked, violations))
    # (links also holds the name start-up links to probe the directory)
    assert checked == n and set(names) <= set(links), (checked, sorted(set(names) - set(links)))
    assert violations == 0


run([test_fsync_link_fsync_before_ok, test_grouped_order_across_threads,
     test_xattr_mark_before_fsync_before_ok, test_record_mark_before_dir_fsync_before_ok])
