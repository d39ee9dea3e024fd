#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue 15, item 2: on_stored, a program run once per stored file, at least once.

- The environment is exact: TCPXD_FILE (absolute), TCPXD_NAME, TCPXD_SIZE,
  TCPXD_SHA256, TCPXD_PEER, TCPXD_LISTENER, and TCPXD_CLIENT only for an
  identified client; stdin is /dev/null, the working directory the file's,
  the argv as configured (no shell).
- 200 uploads with max_running = 2: every file's hook runs exactly once, and
  every mark (the xattr user.tcpxd.hook) is gone afterwards.
- kill -9 right after the receipts, while the hooks cannot have finished:
  the next start runs the hook of every acknowledged file.  The same with
  record files (TCPXD_TEST_NO_XATTR: a file system without user xattrs).
- A hook that fails twice then succeeds: three attempts logged, with the
  tail of its stderr; a hook past its timeout is killed and logged; both
  counted in /metrics (tcpxd_hook_runs_total, ..._run_failures_total,
  ..._run_duration_seconds).
- A stop waits for a running hook; one still running at shutdown_timeout
  keeps its mark and runs after the next start.
- The recipes of tcpxd(8) HOOKS: files moved into per-day directories, a
  webhook with curl against a listener this test runs, clamdscan against a
  clamd this test runs with a signature of its own: a clean upload stays,
  hook ok; an "infected" one is moved to the quarantine, its run exit 1 with
  clamdscan's report, the retry "missing".  Without clamdscan skipped,
  except under CI, where it fails.
"""

import errno
import glob
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from tcpxdtest import Daemon, WAIT, check_ok, have_tool, inbox, parse_ok, run, upload


def receipt_name(receipt, data):
    """The name an OK receipt for data gives, its size and digest checked; for a hook
    that moves the file, which it may have done before the test could look at it."""
    size, digest, name = parse_ok(receipt)
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest()), receipt
    return name

XATTR = "user.tcpxd.hook"

# Writes what the hook saw to DIR/env-NAME as JSON.
ENV_HOOK = r"""
import json, os, sys
seen = {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[1:],
        "stdin": sys.stdin.read()}
with open(os.path.join(sys.argv[1], "env-" + os.environ["TCPXD_NAME"]), "w") as f:
    json.dump(seen, f)
"""

# Appends the file's name to DIR/ran (one short write: O_APPEND keeps lines whole).
RECORD_HOOK = r"""
import os, sys
fd = os.open(os.path.join(sys.argv[1], "ran"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (os.environ["TCPXD_NAME"] + "\n").encode())
os.close(fd)
"""

# Never finishes on its own: its pid goes to DIR/pids, for the test to kill.
BLOCK_HOOK = r"""
import os, sys, time
with open(os.path.join(sys.argv[1], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
time.sleep(3600)
"""

# Fails (exit 1) on the first two attempts of a file, then succeeds.
FLAKY_HOOK = r"""
import os, sys
path = os.path.join(sys.argv[1], "count-" + os.environ["TCPXD_NAME"])
n = int(open(path).read()) + 1 if os.path.exists(path) else 1
with open(path, "w") as f:
    f.write(str(n))
if n < 3:
    sys.stderr.write("attempt %d failed: upstream busy\n" % n)
    sys.exit(1)
"""

# Says it started (DIR/started), waits for DIR/go, then records: a run a stop must wait for.
STOP_HOOK = r"""
import os, sys, time
open(os.path.join(sys.argv[1], "started"), "w").close()
while not os.path.exists(os.path.join(sys.argv[1], "go")):
    time.sleep(0.05)
fd = os.open(os.path.join(sys.argv[1], "ran"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (os.environ["TCPXD_NAME"] + "\n").encode())
os.close(fd)
"""


def conf_string(text):
    """text as the inside of a libconfig string (the harness quotes it as it is)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


# Waits for DIR/go, then appends "TAG NAME" to DIR/tagged.
GATE_HOOK = r"""
import os, sys, time
with open(os.path.join(sys.argv[1], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
while sys.argv[2] == "old" and not os.path.exists(os.path.join(sys.argv[1], "go")):
    time.sleep(0.05)
with open(os.path.join(sys.argv[1], "tagged"), "a") as f:
    f.write("%s %s\n" % (sys.argv[2], os.environ["TCPXD_NAME"]))
"""


def script(d, name, text):
    path = os.path.join(d.dir, name + ".py")
    with open(path, "w") as f:
        f.write(text)
    return path


def out_dir(d):
    path = os.path.join(d.dir, "hook-out")
    os.makedirs(path, exist_ok=True)
    return path


def listener(d, command, **extra):
    hook = {"command": command, "max_running": 4, "timeout": 60, "retries": 5}
    hook.update(extra.pop("hook", {}))
    return {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
            "output_dir": inbox(d), "on_stored": hook, **extra}


def py_hook(d, name, text):
    """The command of a Python hook script that gets the hook-out directory as argument."""
    return [sys.executable, script(d, name, text), out_dir(d)]


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


def marked(path):
    try:
        os.getxattr(path, XATTR, follow_symlinks=False)
        return True
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


def ran(d):
    path = os.path.join(out_dir(d), "ran")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split()


def hook_lines(d, status=None):
    return [line for line in d.log().splitlines() if " hook listener=" in line
            and (status is None or " status=%s " % status in line)]


def wait_file(d, path):
    """Waits for a file a hook writes when it starts: the only sign a run began (the
    daemon logs a run when it ends)."""
    deadline = time.monotonic() + WAIT
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "no %s; log:\n%s" % (path, d.log())
        time.sleep(0.05)


def children(pid):
    """The processes pid started (its hooks, each in a process group of its own)."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(c) for c in f.read().split()]
    return out


def test_environment_exact():
    d = Daemon([], start=False)
    lab = {"name": "lab", "from": ["127.0.0.2/32"], "subdir": "lab"}
    d.write_config([listener(d, py_hook(d, "env", ENV_HOOK) + ["two words", "$HOME"])],
                   clients=[lab])
    d.start()
    anon_data, lab_data = os.urandom(1000), os.urandom(3333)
    anon = check_ok(d, upload(d.addr("inbox"), anon_data), anon_data)
    lab_name = parse_ok(upload(d.addr("inbox"), lab_data, source="127.0.0.2"))[2]
    d.wait_log(r" hook listener=inbox .* status=ok ", 2)
    inbox_dir = os.path.join(d.dir, "inbox")
    for name, data, peer, client, where in (
            (anon, anon_data, "127.0.0.1", None, inbox_dir),
            (lab_name, lab_data, "127.0.0.2", "lab", os.path.join(inbox_dir, "lab"))):
        with open(os.path.join(out_dir(d), "env-" + name)) as f:
            seen = json.load(f)
        want = {"TCPXD_FILE": os.path.join(where, name), "TCPXD_NAME": name,
                "TCPXD_SIZE": str(len(data)), "TCPXD_SHA256": hashlib.sha256(data).hexdigest(),
                "TCPXD_PEER": peer, "TCPXD_LISTENER": "inbox"}
        if client:
            want["TCPXD_CLIENT"] = client
        got = {k: v for k, v in seen["env"].items() if k.startswith("TCPXD_")}
        assert got == want, (got, want)
        # Besides the facts only PATH (and LC_CTYPE, which Python itself sets in a C locale).
        assert set(seen["env"]) - set(want) <= {"PATH", "LC_CTYPE"}, seen["env"].keys()
        assert "PATH" in seen["env"]
        assert seen["argv"] == [out_dir(d), "two words", "$HOME"], seen["argv"]
        assert seen["stdin"] == "", seen["stdin"]
        assert seen["cwd"] == where, seen["cwd"]
        assert not marked(os.path.join(where, name))
        line = [l for l in hook_lines(d) if name in l][0]
        assert " peer=%s%s file=" % (peer, " client=" + client if client else "") in line, line
    d.stop()


def test_200_uploads_each_once():
    d = Daemon([], start=False)
    # A shell hook: 200 runs two at a time must not wait on 200 Python start-ups.
    append = 'echo "$TCPXD_NAME" >> "$0"'
    d.write_config([listener(d, ["/bin/sh", "-c", conf_string(append),
                                 os.path.join(out_dir(d), "ran")], hook={"max_running": 2})],
                   max_per_ip=256)
    d.start()
    payloads = [os.urandom(100 + i) for i in range(200)]
    names = [None] * len(payloads)

    def one(i):
        names[i] = parse_ok(upload(d.addr("inbox"), payloads[i]))[2]

    for batch in range(0, 200, 20):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(batch, batch + 20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    d.wait_log(r" hook listener=inbox .* status=ok ", 200)
    d.stop()
    got = ran(d)
    assert sorted(got) == sorted(names), "hooks run: %d, distinct %d, files %d" % (
        len(got), len(set(got)), len(names))
    assert len(hook_lines(d)) == 200, len(hook_lines(d))
    assert not any(marked(os.path.join(d.dir, "inbox", n)) for n in names)


def kill9_then_restart(env):
    d = Daemon([], start=False)
    # max_running = 1 and a hook that never ends: the files wait for theirs when the daemon dies.
    d.write_config([listener(d, py_hook(d, "block", BLOCK_HOOK), hook={"max_running": 1})])
    d.start(env=env)
    payloads = [os.urandom(5000 + i) for i in range(20)]
    names = [check_ok(d, upload(d.addr("inbox"), p), p) for p in payloads]
    # Frozen first, so the hook it may be starting is among its children when it dies.
    d.proc.send_signal(signal.SIGSTOP)
    hooks = children(d.proc.pid)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.kill()
    for pid in hooks:
        os.kill(pid, signal.SIGKILL)
    assert ran(d) == []
    inbox_dir = os.path.join(d.dir, "inbox")
    records = glob.glob(os.path.join(inbox_dir, ".tcpxd-hook.*"))
    if env:
        assert len(records) == 20, records
        assert not any(marked(os.path.join(inbox_dir, n)) for n in names)
    else:
        assert records == []
        assert all(marked(os.path.join(inbox_dir, n)) for n in names)
    d.write_config([listener(d, py_hook(d, "record", RECORD_HOOK))])
    d.start(env=env)
    d.wait_log(r" hook listener=inbox .* status=ok ", 20)
    got = ran(d)
    assert sorted(set(got)) == sorted(names), (got, names)
    assert "20 stored files still wait for their hook" in d.log()
    d.stop()
    assert glob.glob(os.path.join(inbox_dir, ".tcpxd-hook.*")) == []
    assert not any(marked(os.path.join(inbox_dir, n)) for n in names)


def test_kill9_after_receipts_then_restart():
    kill9_then_restart(None)


def test_kill9_record_files():
    kill9_then_restart({"TCPXD_TEST_NO_XATTR": "1"})


def test_fails_twice_then_succeeds():
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "flaky", FLAKY_HOOK))],
                   metrics={"address": "127.0.0.1", "port": 0})
    d.start()
    data = os.urandom(777)
    name = check_ok(d, upload(d.addr("inbox"), data), data)
    d.wait_log(r" hook listener=inbox .* status=ok ")
    lines = hook_lines(d)
    assert len(lines) == 3, lines
    for n, line in enumerate(lines[:2], 1):
        assert "status=exit-1" in line and "attempt=%d" % n in line, line
        assert "next=retry" in line and "retry_in_ms=%d" % (1000 << (n - 1)) in line, line
        assert 'stderr="attempt %d failed: upstream busy"' % n in line, line
        assert line.startswith("tcpxd: warning:"), line
    assert "attempt=3" in lines[2] and "status=ok" in lines[2], lines[2]
    assert not marked(os.path.join(d.dir, "inbox", name))
    m = scrape(d)
    assert m['tcpxd_hook_runs_total{result="ok"}'] == 1, m
    assert m['tcpxd_hook_runs_total{result="retry"}'] == 2, m
    assert m['tcpxd_hook_runs_total{result="failed"}'] == 0, m
    assert m['tcpxd_hook_run_failures_total{cause="exit"}'] == 2, m
    assert m['tcpxd_hook_run_duration_seconds_count'] == 3, m
    assert m['tcpxd_hook_run_duration_seconds_bucket{le="+Inf"}'] == 3, m
    d.stop()


def test_timeout_killed_and_logged():
    d = Daemon([], start=False)
    # A shell, not Python: its pid must be written well within the timeout on a loaded
    # machine (renamed into place: a run killed while writing leaves no half pid).
    sleeper = 'echo $$ > "$0/pid.new" && mv "$0/pid.new" "$0/pid" && exec sleep 600'
    d.write_config([listener(d, ["/bin/sh", "-c", conf_string(sleeper), out_dir(d)],
                             hook={"timeout": "2s", "retries": 0})],
                   metrics={"address": "127.0.0.1", "port": 0})
    d.start()
    data = b"slow"
    name = check_ok(d, upload(d.addr("inbox"), data), data)
    d.wait_log(r" hook listener=inbox .* status=timeout .*next=given-up")
    pid = int(open(os.path.join(out_dir(d), "pid")).read())
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z", "the hook still runs"
    line = hook_lines(d)[0]
    assert "attempt=1" in line and line.startswith("tcpxd: error:"), line
    # Finally failed: the mark goes, so the file is no longer held from retention.
    assert not marked(os.path.join(d.dir, "inbox", name))
    m = scrape(d)
    assert m['tcpxd_hook_runs_total{result="failed"}'] == 1, m
    assert m['tcpxd_hook_run_failures_total{cause="timeout"}'] == 1, m
    assert m['tcpxd_hook_run_duration_seconds_bucket{le="0.500"}'] == 0, m
    d.stop()


def test_stop_waits_then_unfinished_run_after_restart():
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "stop", STOP_HOOK))], shutdown_timeout=WAIT * 2)
    d.start()
    data = os.urandom(99)
    name = check_ok(d, upload(d.addr("inbox"), data), data)
    # Running, not only queued: a stop waits for running hooks, and leaves a queued one's
    # file marked for the next start (the receipt and the conn line come before the spawn).
    wait_file(d, os.path.join(out_dir(d), "started"))
    d.send_signal(signal.SIGTERM)
    d.wait_log(r"^tcpxd: info: hook: waiting for 1 running hooks$")
    open(os.path.join(out_dir(d), "go"), "w").close()
    assert d.proc.wait(WAIT) == 0
    d.kill()                # the log and the notify socket of the exited daemon
    d.check_sanitizer()
    assert ran(d) == [name], ran(d)         # the stop waited for the running hook
    assert not marked(os.path.join(d.dir, "inbox", name))
    # A hook that outlives shutdown_timeout is killed and keeps its mark for the next start.
    d.write_config([listener(d, py_hook(d, "block", BLOCK_HOOK))], shutdown_timeout=1)
    d.start()
    data = os.urandom(98)
    name2 = check_ok(d, upload(d.addr("inbox"), data), data)
    wait_file(d, os.path.join(out_dir(d), "pids"))
    assert d.stop() == 0
    assert "next=after-restart" in d.log(), d.log()
    assert marked(os.path.join(d.dir, "inbox", name2))
    d.write_config([listener(d, py_hook(d, "record", RECORD_HOOK))])
    d.start()
    d.wait_log(r" hook listener=inbox .* status=ok ", 2)     # the log holds the first one's
    assert ran(d) == [name, name2], ran(d)
    d.stop()


def test_stop_ends_parked_connection_not_waits_for_it():
    """A parked keep-alive connection is ended at a stop, not waited for: the
    wait (shutdown_timeout) is left to the hook still running."""
    d = Daemon([], start=False)
    gate = py_hook(d, "gate", GATE_HOOK)
    d.write_config([listener(d, gate + ["old"], park_after=100)], shutdown_timeout=3600)
    d.start()
    name = check_ok(d, upload(d.addr("inbox"), b"held"), b"held")
    pids = os.path.join(out_dir(d), "pids")
    deadline = time.monotonic() + WAIT
    while not os.path.exists(pids):
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.05)    # the hook's own file is the only sign it started
    idle = socket.create_connection(d.addr("inbox"))
    d.wait_status("(1 parked)")
    d.send_signal(signal.SIGTERM)
    # Ended while the hook still runs (it waits for "go"), not after shutdown_timeout.
    d.wait_log(r"conn listener=inbox .*result=aborted-shutdown")
    assert idle.recv(1) == b""
    idle.close()
    open(os.path.join(out_dir(d), "go"), "w").close()
    d.wait_log(r" hook listener=inbox .*%s status=ok " % name)
    assert d.stop() == 0
    assert "next=after-restart" not in d.log(), d.log()


def test_reload_keeps_running_hook():
    d = Daemon([], start=False)
    gate = py_hook(d, "gate", GATE_HOOK)
    d.write_config([listener(d, gate + ["old"])])
    d.start()
    first = check_ok(d, upload(d.addr("inbox"), b"first"), b"first")
    wait_file(d, os.path.join(out_dir(d), "pids"))
    d.write_config([listener(d, gate + ["new"])])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"^tcpxd: info: reloaded")
    second = check_ok(d, upload(d.addr("inbox"), b"second"), b"second")
    d.wait_log(r" hook listener=inbox .*%s status=ok " % second)
    open(os.path.join(out_dir(d), "go"), "w").close()
    d.wait_log(r" hook listener=inbox .*%s status=ok " % first)
    with open(os.path.join(out_dir(d), "tagged")) as f:
        assert sorted(f.read().splitlines()) == sorted(["old " + first, "new " + second])
    d.stop()


def test_recipe_per_day_directories():
    d = Daemon([], start=False)
    archive = os.path.join(d.dir, "archive")
    os.makedirs(archive)
    # As in tcpxd(8) HOOKS (the archive directory is the test's).
    move = ('d="%s/$(date -u +%%Y-%%m-%%d)" && mkdir -p "$d" && '
            'mv -n -- "$TCPXD_FILE" "$d/"' % archive)
    d.write_config([listener(d, ["/bin/sh", "-c", conf_string(move)])])
    d.start()
    data = os.urandom(4321)
    name = receipt_name(upload(d.addr("inbox"), data), data)
    d.wait_log(r" hook listener=inbox .* status=ok ")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    moved = os.path.join(archive, day, name)
    if not os.path.exists(moved):       # the day may have turned between upload and hook
        moved = glob.glob(os.path.join(archive, "*", name))[0]
    with open(moved, "rb") as f:
        assert f.read() == data
    assert not os.path.exists(os.path.join(d.dir, "inbox", name))
    assert not marked(moved), "the mark follows the file it was cleared on"
    d.stop()


class Hooked(http.server.BaseHTTPRequestHandler):
    posts = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooked.posts.append((self.path, body.decode()))
        code = 503 if Hooked.fail_first > 0 else 204
        Hooked.fail_first -= 1
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_recipe_curl_webhook():
    if not have_tool("curl", "the webhook recipe"):
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooked)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    Hooked.posts, Hooked.fail_first = [], 1
    try:
        d = Daemon([], start=False)
        # As in tcpxd(8) HOOKS: form-encoded, so no name can break the request.
        url = "http://127.0.0.1:%d/uploaded" % server.server_address[1]
        curl = ('exec curl -fsS --max-time 10 --data-urlencode "name=$TCPXD_NAME" '
                '--data-urlencode "size=$TCPXD_SIZE" --data-urlencode "sha256=$TCPXD_SHA256" '
                '--data-urlencode "peer=$TCPXD_PEER" "%s"' % url)
        d.write_config([listener(d, ["/bin/sh", "-c", conf_string(curl)])])
        d.start()
        data = os.urandom(2048)
        name = check_ok(d, upload(d.addr("inbox"), data), data)
        d.wait_log(r" hook listener=inbox .* status=ok ")
        # The first POST got 503: curl -f failed, and the retry delivered it.
        assert len(Hooked.posts) == 2, Hooked.posts
        fails = hook_lines(d, "exit-22")
        assert len(fails) == 1 and "503" in fails[0], fails
        for path, body in Hooked.posts:
            form = urllib.parse.parse_qs(body)
            assert path == "/uploaded"
            assert form == {"name": [name], "size": ["2048"], "peer": ["127.0.0.1"],
                            "sha256": [hashlib.sha256(data).hexdigest()]}, form
        d.stop()
    finally:
        server.shutdown()
        server.server_close()


# clamd.conf of the test's own clamd: its socket and a signature database of its own (no
# freshclam, no network), in the foreground so that it stays the test's child.
CLAMD_CONF = """Foreground yes
LocalSocket %(dir)s/clamd.sock
DatabaseDirectory %(dir)s/db
TemporaryDirectory %(dir)s
LogFile %(dir)s/clamd.log
MaxThreads 2
"""


def clamd_ping(sock):
    """True once clamd at the UNIX socket sock answers zPING with PONG."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(WAIT)
            s.connect(sock)
            s.sendall(b"zPING\0")
            reply = b""
            while not reply.endswith(b"\0"):
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply == b"PONG\0"
    except (FileNotFoundError, ConnectionRefusedError):
        return False


def start_clamd(clamd, top, infected):
    """clamd started on its own configuration in top, with a signature (.hdb:
    MD5:size:name, docs.clamav.net "File hash signatures") for the content infected."""
    os.makedirs(os.path.join(top, "db"))
    with open(os.path.join(top, "db", "tcpxd-test.hdb"), "w") as f:
        f.write("%s:%d:Tcpxd.Test.Infected\n"
                % (hashlib.md5(infected, usedforsecurity=False).hexdigest(), len(infected)))
    conf = os.path.join(top, "clamd.conf")
    with open(conf, "w") as f:
        f.write(CLAMD_CONF % {"dir": top})
    log = open(os.path.join(top, "clamd.out"), "wb")
    proc = subprocess.Popen([clamd, "--config-file=" + conf], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + WAIT
    while not clamd_ping(os.path.join(top, "clamd.sock")):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_clamd(proc)
            raise AssertionError("clamd never answered PING:\n" + clamd_log(top))
        time.sleep(0.05)    # clamd has no readiness signal but its socket's PONG
    return proc, conf


def clamd_log(top):
    out = ""
    for name in ("clamd.out", "clamd.log"):
        path = os.path.join(top, name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                out += f.read()
    return out


def stop_clamd(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_recipe_clamdscan():
    # clamd is in /usr/sbin, which an ordinary user's PATH may lack.
    clamd = shutil.which("clamd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "clamd"
    if not have_tool("clamdscan", "the clamdscan recipe") or \
            not have_tool(clamd, "the clamdscan recipe"):
        return
    clean, infected = os.urandom(3000), os.urandom(4000)
    d = Daemon([], start=False)
    top = os.path.join(d.dir, "clamav")
    proc, conf = start_clamd(clamd, top, infected)
    try:
        quarantine = os.path.join(d.dir, "quarantine")
        os.makedirs(quarantine)
        # As in tcpxd(8) HOOKS (the configuration and the quarantine are the test's).
        scan = ('exec clamdscan --config-file=%s --infected --no-summary --fdpass --move=%s '
                '"$TCPXD_FILE" >&2' % (conf, quarantine))
        d.write_config([listener(d, ["/bin/sh", "-c", conf_string(scan)])])
        d.start()
        inbox_dir = os.path.join(d.dir, "inbox")
        clean_name = check_ok(d, upload(d.addr("inbox"), clean), clean)
        ok = d.wait_log(r" hook listener=inbox .*/%s status=ok .*stderr=(.*)$"
                        % re.escape(clean_name))
        assert ok == ['""'], ok         # --infected: nothing to report
        with open(os.path.join(inbox_dir, clean_name), "rb") as f:
            assert f.read() == clean, "the clean file changed"
        assert os.listdir(quarantine) == [], os.listdir(quarantine)

        bad_name = receipt_name(upload(d.addr("inbox"), infected), infected)
        # Found: exit 1, clamdscan's report in the logged stderr, the file quarantined; the
        # retry finds nothing left to scan.
        d.wait_log(r" hook listener=inbox .*/%s status=missing " % re.escape(bad_name))
        found = [l for l in hook_lines(d) if "/%s " % bad_name in l]
        assert len(found) == 2, found
        assert "status=exit-1 " in found[0] and "attempt=1 next=retry " in found[0], found[0]
        assert "Tcpxd.Test.Infected" in found[0] and "FOUND" in found[0], found[0]
        assert "attempt=2 " in found[1], found[1]
        assert not os.path.exists(os.path.join(inbox_dir, bad_name))
        with open(os.path.join(quarantine, bad_name), "rb") as f:
            assert f.read() == infected
        assert [l for l in hook_lines(d) if "/%s " % clean_name in l] == \
            hook_lines(d, "ok"), hook_lines(d)
        d.stop()
    except AssertionError:
        print(clamd_log(top))
        raise
    finally:
        stop_clamd(proc)
    assert proc.returncode == 0, "clamd exited %d:\n%s" % (proc.returncode, clamd_log(top))
    assert not os.path.exists(os.path.join(top, "clamd.sock")), "clamd left its socket"


# The first file's run floods stderr without end (its pid to DIR/pid); later runs record.
FLOOD_HOOK = r"""
import os, sys
flag = os.path.join(sys.argv[1], "pid")
if not os.path.exists(flag):
    with open(flag, "w") as f:
        f.write(str(os.getpid()))
    # A large pipe and several writers: the pipe is never found empty.
    try:
        import fcntl
        fcntl.fcntl(2, 1031, 1 << 20)   # F_SETPIPE_SZ
    except OSError:
        pass
    os.execvp("sh", ["sh", "-c", "yes >&2 & yes >&2 & yes >&2 & exec yes >&2"])
fd = os.open(os.path.join(sys.argv[1], "ran"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (os.environ["TCPXD_NAME"] + "\n").encode())
os.close(fd)
"""


def test_stderr_flood_times_out_others_run():
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "flood", FLOOD_HOOK),
                             hook={"timeout": "1s", "retries": 0})])
    d.start()
    pid = None
    try:
        first = check_ok(d, upload(d.addr("inbox"), b"flood"), b"flood")
        wait_file(d, os.path.join(out_dir(d), "pid"))
        pid = int(open(os.path.join(out_dir(d), "pid")).read())
        second = check_ok(d, upload(d.addr("inbox"), b"quiet"), b"quiet")
        # The supervisor still polls: the other file's hook runs, the flood is timed out.
        d.wait_log(r" hook listener=inbox .*%s status=ok " % second)
        d.wait_log(r" hook listener=inbox .*%s status=timeout .*next=given-up" % first)
        assert ran(d) == [second], ran(d)
        assert d.stop() == 0
    finally:
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        d.kill()


# Waits for DIR/go, then fails.
FAIL_AFTER_GO_HOOK = r"""
import os, sys, time
open(os.path.join(sys.argv[1], "pids"), "a").write("%d\n" % os.getpid())
while not os.path.exists(os.path.join(sys.argv[1], "go")):
    time.sleep(0.05)
sys.exit(1)
"""


def test_run_failing_after_reload_removed_hook_keeps_mark():
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "failgo", FAIL_AFTER_GO_HOOK),
                             hook={"retries": 0})])
    d.start()
    name = check_ok(d, upload(d.addr("inbox"), b"kept"), b"kept")
    wait_file(d, os.path.join(out_dir(d), "pids"))
    conf = listener(d, [])
    del conf["on_stored"]
    d.write_config([conf])
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"^tcpxd: info: reloaded")
    open(os.path.join(out_dir(d), "go"), "w").close()
    line = d.wait_log(r" hook listener=inbox .* status=exit-1 .*")
    # Not given up: without on_stored now, the mark stays for a config that has it again.
    assert "next=given-up" not in d.log(), d.log()
    assert marked(os.path.join(d.dir, "inbox", name)), line
    assert d.stop() == 0


def test_rescan_waits_for_unannounced_recent_file():
    """A marked file of this run not announced yet (still inside its commit) is not run by a rescan."""
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "record", RECORD_HOOK), hook={"max_running": 1})])
    d.start()
    # As store commit leaves it between its link and its directory fsync: linked and marked.
    fake = "inflight-0001"
    path = os.path.join(d.dir, "inbox", fake)
    with open(path, "wb") as f:
        f.write(b"in flight")
    os.setxattr(path, XATTR, b"inbox\n" + b"0" * 64 + b"\n127.0.0.1:1\n\n")
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"hook: 1 stored files still wait for their hook")
    # Queued after it with max_running 1: had the rescan made it due, it would have run first.
    name = check_ok(d, upload(d.addr("inbox"), b"real"), b"real")
    d.wait_log(r" hook listener=inbox .*%s status=ok " % name)
    assert ran(d) == [name], ran(d)
    assert marked(path)
    assert d.stop() == 0


# Makes its file read-only, then succeeds.
READ_ONLY_HOOK = r"""
import os
os.chmod(os.environ["TCPXD_FILE"], 0o444)
"""


def test_read_only_file_mark_cleared():
    """Without CAP_DAC_OVERRIDE (as a daemon not run as root), a read-only file's xattr
    cannot be removed: tcpxd gives its owner write permission back for that."""
    d = Daemon([], start=False)
    d.write_config([listener(d, py_hook(d, "ro", READ_ONLY_HOOK))])
    d.start(launcher=["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner",
                      "--"])
    name = check_ok(d, upload(d.addr("inbox"), b"read-only"), b"read-only")
    d.wait_log(r" hook listener=inbox .*%s status=ok " % name)
    assert d.stop() == 0        # the supervisor is done with the file
    path = os.path.join(d.dir, "inbox", name)
    assert not marked(path), d.log()
    assert os.stat(path).st_mode & 0o777 == 0o444, oct(os.stat(path).st_mode)
    assert "hook-mark-uncleared" not in d.log(), d.log()


run([test_environment_exact, test_200_uploads_each_once, test_kill9_after_receipts_then_restart,
     test_kill9_record_files, test_fails_twice_then_succeeds, test_timeout_killed_and_logged,
     test_stop_waits_then_unfinished_run_after_restart,
     test_stop_ends_parked_connection_not_waits_for_it, test_reload_keeps_running_hook,
     test_recipe_per_day_directories,
     test_recipe_curl_webhook, test_recipe_clamdscan, test_stderr_flood_times_out_others_run,
     test_run_failing_after_reload_removed_hook_keeps_mark,
     test_rescan_waits_for_unannounced_recent_file, test_read_only_file_mark_cleared])
