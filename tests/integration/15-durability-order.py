# SPDX-License-Identifier: ISC
"""Order of operations, from the system calls themselves: under strace -f,
every OK receipt the daemon sends is preceded, in the same thread, by
fsync of the uploaded file, then the link that names it, then fsync of the
directory, and the receipt names the file that was linked.  Counts
violations over raw and framed uploads (must be 0).  And across threads,
for 40 uploads at once: every receipt comes after a successful fsync of the
directory of its file that began after its link ended, whichever thread
issued it, so the rule holds as well for commits grouped across uploads.
Skipped without strace."""

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


run([test_fsync_link_fsync_before_ok, test_grouped_order_across_threads])
