# SPDX-License-Identifier: ISC
"""Shared harness of the integration tests: starts the real tcpxd with a
temporary configuration on kernel-chosen loopback ports, waits for its
READY=1 on a NOTIFY_SOCKET the test binds, and talks to it over real
sockets.  Every daemon started here is killed when the test ends."""

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TCPXD = os.environ.get("TCPXD", "tcpxd")
TCPX = os.path.join(os.path.dirname(TCPXD), "tcpx")     # the client, built beside the daemon
SANITIZER = os.environ.get("TCPXD_SANITIZER", "none")
# A command run in front of tcpxd, e.g. valgrind with its options.
LAUNCHER = tuple(os.environ.get("TCPXD_LAUNCHER", "").split())
# Sanitized builds are several times slower, valgrind more; give every wait room.
SLOW = {"": 1, "none": 1, "valgrind": 10}.get(SANITIZER, 4)
WAIT = 30 * SLOW

SANITIZER_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:exitcode=66:detect_leaks=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=66",
    "TSAN_OPTIONS": "halt_on_error=1:exitcode=66:second_deadlock_stack=1",
}
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                   "runtime error:", "UndefinedBehaviorSanitizer", "definitely lost in",
                   "Invalid read", "Invalid write", "uninitialised value", "Syscall param")

# "json": every daemon started here logs with log_format = "json"; each line of its
# stderr must then be a JSON object (parse_json_line), and log() shows the lines as
# the logfmt they stand for, so that every wait and assertion on the log holds in
# both forms.
LOG_FORMAT = os.environ.get("TCPXD_TEST_LOG_FORMAT", "logfmt")
if LOG_FORMAT not in ("logfmt", "json"):
    raise SystemExit("TCPXD_TEST_LOG_FORMAT=%s: not logfmt or json" % LOG_FORMAT)

_daemons = []

# tcpx keeps its resume state in $XDG_STATE_HOME/tcpx/: the tests' own, never the user's.
STATE_HOME = tempfile.mkdtemp(prefix="tcpx-state-")
os.environ["XDG_STATE_HOME"] = STATE_HOME


def close_with_reset(s):
    """Closes s with a reset (SO_LINGER 0), as a crashed client or HAProxy's checks do."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

# The grammar of a log line, as tcpxd(8) LOGGING documents it.
LOG_PREFIX = re.compile(r"tcpxd: (?:error|warning|info|debug): |<[3467]>")
LOG_BARE = r"[A-Za-z0-9._:/@+,\[\]-]+"
LOG_QUOTED = r'"(?:[ !#-\[\]-~]|\\["\\]|\\x[0-9a-f]{2})*"'
LOG_FIELD = re.compile(r" ([a-z_][a-z0-9_]*)=(%s|%s)(?= |$)" % (LOG_BARE, LOG_QUOTED))
LOG_EVENT = re.compile(r"[a-z][a-z0-9-]*(?= [a-z_][a-z0-9_]*=)")
LOG_FIELDLIKE = re.compile(r"(?:^|\s)[A-Za-z_][A-Za-z0-9_.-]*=")
# valgrind (TCPXD_LAUNCHER) and the sanitizers write their own lines to the same stderr
# (check_sanitizer() judges those): "==PID==" for its reports, "--PID--" for its own
# notes (valgrind 3.19 has no pidfd_open, so the hook supervisor falls back to waitid).
LOG_FOREIGN = re.compile(r"==\d+==|--\d+-- ")


def parse_log_line(line):
    """Parses one line of tcpxd's stderr: a record ("event key=value ...") gives
    (event, [(key, value), ...]); a message for people ("ready: 2 listeners")
    gives (None, []).  Raises ValueError for anything else, such as a field
    forged by a value that was not escaped."""
    m = LOG_PREFIX.match(line)
    if not m:
        raise ValueError("no tcpxd: LEVEL: prefix")
    body = line[m.end():]
    ev = LOG_EVENT.match(body)
    if ev:
        fields, pos = [], ev.end()
        while pos < len(body):
            f = LOG_FIELD.match(body, pos)
            if not f:
                raise ValueError("not key=value at %r" % body[pos:])
            fields.append((f.group(1), f.group(2)))
            pos = f.end()
        keys = [k for k, _ in fields]
        if len(set(keys)) != len(keys):
            raise ValueError("a key repeats: %s" % " ".join(keys))
        return ev.group(0), fields
    if any(not " " <= ch <= "~" for ch in body):
        raise ValueError("a message holds a byte outside printable ASCII")
    if LOG_FIELDLIKE.search(body):
        raise ValueError("a message holds a key=value field")
    return None, []


def log_value_bytes(value):
    """The bytes a value of parse_log_line() stands for (bare, or quoted and escaped)."""
    if not value.startswith('"'):
        return value.encode()
    return re.sub(rb'\\(x[0-9a-f]{2}|["\\])',
                  lambda m: bytes([int(m.group(1)[1:], 16)]) if m.group(1)[:1] == b"x"
                  else m.group(1), value[1:-1].encode("latin-1"))


def _unique_members(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a member repeats: %s" % " ".join(keys))
    return dict(pairs)


def _no_constant(name):
    raise ValueError("%s is not JSON (RFC 8259)" % name)


JSON_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
JSON_OWN = ("ts", "level", "event", "msg", "cut")
# The keys whose values tcpxd(8) LOGGING says are JSON numbers.
JSON_NUMBERS = {"age_s", "attempt", "bytes", "delay_ms", "duration_ms", "failures", "file_no",
                "files", "in", "ms", "out", "port", "retry_in_ms", "size", "suppressed"}


def log_value_text(raw):
    """raw (bytes) as a logfmt value, as the daemon's log_value() writes it."""
    if raw and re.fullmatch(rb"[A-Za-z0-9._:/@+,\[\]-]+", raw):
        return raw.decode()
    out = []
    for b in raw:
        if b in b'"\\':
            out.append("\\" + chr(b))
        elif b < 0x20 or b > 0x7e:
            out.append("\\x%02x" % b)
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def parse_json_line(raw):
    """Parses one line (bytes) of log_format = "json" with a strict parser: UTF-8, one
    object, no member twice, no NaN or Infinity, "ts" and "level", then "event" and
    fields or "msg", never "cut".  Returns the logfmt line it stands for; raises
    ValueError for anything else."""
    obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_members,
                     parse_constant=_no_constant)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if not isinstance(obj.get("ts"), str) or not JSON_TS.match(obj["ts"]):
        raise ValueError("no RFC 3339 ts")
    if obj.get("level") not in ("error", "warning", "info", "debug"):
        raise ValueError("no level")
    if "cut" in obj:
        raise ValueError("a line was cut")
    prefix = "tcpxd: %s: " % obj["level"]
    if "msg" in obj:
        if len(obj) != 3 or not isinstance(obj["msg"], str):
            raise ValueError("a message with fields")
        return prefix + obj["msg"]
    if not isinstance(obj.get("event"), str):
        raise ValueError("neither msg nor event")
    fields = []
    for k, v in list(obj.items())[3:]:
        if k.endswith("_") and k[:-1] in JSON_OWN:
            k = k[:-1]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise ValueError("%s: neither a string nor an integer" % k)
        if isinstance(v, int):
            if k not in JSON_NUMBERS or v < 0:
                raise ValueError("%s is a number" % k)
            fields.append("%s=%d" % (k, v))
            continue
        # A byte that is not UTF-8 comes as the text \xHH (HH at least 80).
        b = re.sub(rb"\\x([89a-f][0-9a-f])", lambda m: bytes([int(m.group(1), 16)]),
                   v.encode("utf-8"))
        fields.append("%s=%s" % (k, log_value_text(b)))
    return prefix + " ".join([obj["event"]] + fields)


def stored_names(log, results=("ok", "ok-receipt-lost")):
    """The stored= names of the log's connection lines whose result is in results."""
    names = []
    for line in log.splitlines():
        if " stored=" not in line:
            continue
        fields = dict(parse_log_line(line)[1])
        if fields.get("result") in results:
            names.append(os.fsdecode(log_value_bytes(fields["stored"])))
    return names


def tally_log(lines, records, fields, bad):
    """Adds to the file TCPXD_LOG_TALLY names (docs/RELIABILITY.md)."""
    path = os.environ.get("TCPXD_LOG_TALLY")
    if path:
        with open(path, "a") as f:
            f.write("%d %d %d %d\n" % (lines, records, fields, bad))


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
        # Groups go in a libconfig list ( ... ), such as clients = ( { ... }, { ... } ).
        return "(\n  " + ",\n  ".join(fmt_value(x) for x in v) + "\n)"
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(fmt_value(x) for x in v) + " ]"
    if isinstance(v, dict):     # a group, such as tls = { ... }
        return "{ " + " ".join("%s = %s;" % (k, fmt_value(x)) for k, x in v.items()) + " }"
    return '"%s"' % v


def make_config(listeners, **globals_):
    """Renders tcpxd.conf text from dicts.  Each listener is one line, so FILE:LINE
    of an error names its listener."""
    lines = ["%s = %s;" % (k, fmt_value(v)) for k, v in globals_.items()]
    items = []
    for lst in listeners:
        items.append("  { " + " ".join("%s = %s;" % (k, fmt_value(v))
                                       for k, v in lst.items()) + " }")
    lines.append("listeners = (\n" + ",\n".join(items) + "\n);")
    return "\n".join(lines) + "\n"


class Daemon:
    """One tcpxd process with its own directory, config and notify socket."""

    def __init__(self, listeners, workdir=None, start=True, **globals_):
        self.dir = workdir or tempfile.mkdtemp(prefix="tcpxd-test-")
        self.conf = os.path.join(self.dir, "tcpxd.conf")
        self.logpath = os.path.join(self.dir, "tcpxd.log")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.proc = None
        self.ports = {}
        self.notes = []
        self.log_checked = 0        # bytes of the log check_log() has parsed
        self.json_seen = (0, [])    # bytes of the log log() has turned into logfmt, and those
        self.journal = False        # logfmt with <N> even in JSON mode (JOURNAL_STREAM)
        self.json = False           # its configuration says log_format = "json"
        self.write_config(listeners, **globals_)
        if start:
            self.start()

    def write_config(self, listeners, **globals_):
        globals_.setdefault("log_level", "debug")
        if LOG_FORMAT == "json":
            globals_.setdefault("log_format", "json")
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(make_config(listeners, **globals_))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.conf)

    def start(self, expect_ready=True, preexec_fn=None, env=None, launcher=(), pass_fds=()):
        """launcher: argv run in front of the tcpxd command line (which it must exec)."""
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        os.chmod(self.notify_path, 0o666)   # the daemon may run as another user
        # Drained continuously: a full datagram queue would block the daemon's sd_notify.
        self.notify_queue = queue.Queue()
        self.notify_reader = threading.Thread(target=self._read_notify,
                                              args=(self.notify, self.notify_queue), daemon=True)
        self.notify_reader.start()
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, **SANITIZER_ENV, **(env or {}))
        self.journal = "JOURNAL_STREAM" in env
        with open(self.conf) as f:       # a test may write its own configuration
            self.json = re.search(r'^\s*log_format\s*=\s*"json"', f.read(), re.M) is not None
        self.log_offset = os.path.getsize(self.logpath) if os.path.exists(self.logpath) else 0
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([*launcher, *LAUNCHER, TCPXD, "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, env=env, preexec_fn=preexec_fn,
                                     pass_fds=pass_fds)
        _daemons.append(self)
        if expect_ready:
            self.wait_notify("READY=1")
            self.idle = self.resources()    # what wait_idle_resources() goes back to
            self.ports = {}
            for name, host, port in re.findall(
                    r"listener (\S+) \(\w+\) listening on \[?([0-9a-fA-F.:]+?)\]?:(\d+)$",
                    self.log(), re.M):
                self.ports[name] = (host, int(port))

    @staticmethod
    def _read_notify(sock, q):
        while True:
            try:
                data = sock.recv(4096).decode()
            except OSError:
                return
            if not data:
                return      # shut down by close_notify()
            q.put(dict(line.split("=", 1) for line in data.split("\n") if "=" in line))

    def recv_notify(self, timeout=None):
        """Next sd_notify datagram as a dict, or None on timeout."""
        try:
            msg = self.notify_queue.get(timeout=timeout if timeout is not None else WAIT)
        except queue.Empty:
            return None
        self.notes.append(msg)
        return msg

    def wait_notify(self, wanted, timeout=None):
        """Reads datagrams until one contains wanted ("KEY=VALUE" or "KEY")."""
        key, _, value = wanted.partition("=")
        deadline = time.monotonic() + (timeout or WAIT)
        while time.monotonic() < deadline:
            exited = self.proc.poll() is not None
            # Datagrams already queued count even if the daemon has exited since.
            msg = self.recv_notify(0.5 if exited else
                                   max(0.05, min(1.0, deadline - time.monotonic())))
            if msg and key in msg and (not value or msg[key] == value):
                return msg
            if msg is None and exited:
                raise AssertionError("tcpxd exited (%s) before %s; log:\n%s"
                                     % (self.proc.returncode, wanted, self.log()))
        raise AssertionError("no %s from tcpxd; log:\n%s" % (wanted, self.log()))

    def wait_status(self, text):
        """The first STATUS= (sent once a second) that contains text."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            status = self.wait_notify("STATUS")["STATUS"]
            if text in status:
                return status
        raise AssertionError("no STATUS= with %r; log:\n%s" % (text, self.log()))

    def addr(self, name):
        return self.ports[name]

    def line_of(self, text):
        """The number of the configuration file's first line that contains text."""
        with open(self.conf) as f:
            for n, line in enumerate(f, 1):
                if text in line:
                    return n
        raise AssertionError("%r not in %s" % (text, self.conf))

    def resources(self):
        """(threads, open descriptors) of the daemon."""
        pid = self.proc.pid
        return len(os.listdir("/proc/%d/task" % pid)), len(os.listdir("/proc/%d/fd" % pid))

    def wait_idle_resources(self):
        """Waits until the daemon has no more threads and descriptors than when it became
        ready: every connection's thread gone, every refused socket out of the drain thread
        (it holds them up to 2 s).  Neither has a signal of its own, so this polls."""
        deadline = time.monotonic() + WAIT
        fds = "/proc/%d/fd" % self.proc.pid
        while any(now > idle for now, idle in zip(self.resources(), self.idle)):
            if time.monotonic() > deadline:
                open_now = sorted(os.readlink(os.path.join(fds, fd)) for fd in os.listdir(fds))
                raise AssertionError("threads, descriptors now %s, when ready %s; open:\n%s"
                                     % (self.resources(), self.idle, "\n".join(open_now)))
            time.sleep(0.05)

    def json_mode(self):
        return self.json and not self.journal

    def log(self):
        """The log as text; in JSON mode each JSON line as the logfmt line it stands
        for (a line that is not JSON as it is: check_log() fails the test on it)."""
        if not self.json_mode():
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        done, lines = self.json_seen
        with open(self.logpath, "rb") as f:
            f.seek(done)
            data = f.read()
        tail = data[data.rfind(b"\n") + 1:]
        for raw in data[:len(data) - len(tail)].splitlines():
            try:
                lines.append(parse_json_line(raw))
            except ValueError:
                lines.append(raw.decode(errors="replace"))
        self.json_seen = (done + len(data) - len(tail), lines)
        return "".join(line + "\n" for line in lines) + tail.decode(errors="replace")

    def wait_log(self, pattern, count=1, timeout=None):
        """Waits until pattern (a regex) matches count lines of the log."""
        deadline = time.monotonic() + (timeout or WAIT)
        while True:
            text = self.log()
            found = re.findall(pattern, text, re.M)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("log never matched %r x%d:\n%s" % (pattern, count, text))
            if self.proc.poll() is not None:
                raise AssertionError("tcpxd exited while waiting for %r:\n%s" % (pattern, text))
            time.sleep(0.02)  # polling a file: no readiness signal exists for log lines

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stops the daemon and checks it exits 0 with a clean sanitizer report."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout or WAIT)
        self.logf.close()
        self.close_notify()
        self.check_sanitizer()
        self.check_log()
        return rc

    def cpu_seconds(self):
        """User + system CPU time the daemon has used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.logf.close()
            self.close_notify()

    def close_notify(self):
        """Stops the reader before closing: a socket closed under a thread about to
        recv() on its number could make that thread read the next daemon's socket."""
        try:
            self.notify.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.notify_reader.join(5)
        self.notify.close()

    def check_sanitizer(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "sanitizer report in tcpxd log:\n" + text

    def check_log(self):
        """Asserts that every complete line tcpxd wrote since the last check parses
        (parse_log_line): no client can forge or split a field."""
        if not os.path.exists(self.logpath):
            return
        with open(self.logpath, "rb") as f:
            f.seek(self.log_checked)
            data = f.read()
        data = data[:data.rfind(b"\n") + 1]
        self.log_checked += len(data)
        lines = records = fields = 0
        bad = []
        for raw in data.splitlines():
            line = raw.decode("latin-1")
            if LOG_FOREIGN.match(line):
                continue
            lines += 1
            try:
                if self.json_mode():
                    line = parse_json_line(raw)
                event, kv = parse_log_line(line)
            except ValueError as e:
                bad.append("%s: %r" % (e, line))
                continue
            records += event is not None
            fields += len(kv)
        tally_log(lines, records, fields, len(bad))
        assert not bad, "log lines outside the grammar of tcpxd(8) (%s):\n%s" % (
            "JSON" if self.json_mode() else "logfmt", "\n".join(bad))

    def stored_files(self, subdir="inbox"):
        """The files stored in output_dir: never hidden (the daemon refuses such names),
        so its own hidden area of partial uploads (.tcpxd-partial) is not among them."""
        return sorted(n for n in os.listdir(os.path.join(self.dir, subdir))
                      if not n.startswith("."))


def pids_cgroup(prefix="tcpxd-test"):
    """A new pids cgroup (v1 or v2) we may write to, or None; remove it with os.rmdir."""
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = os.path.join(base, "%s-%d" % (prefix, os.getpid()))
        try:
            os.mkdir(path)
        except OSError:
            continue
        if os.path.exists(os.path.join(path, "pids.max")):
            return path
        os.rmdir(path)
    return None


def inbox(d, name="inbox"):
    path = os.path.join(d.dir, name)
    os.makedirs(path, exist_ok=True)
    return path


def inbox_daemon(**extra):
    """A started daemon with one receive listener "inbox" on 127.0.0.1 (extra: its settings)."""
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), **extra}])
    d.start()
    return d


def in_ci():
    """CI (.ci/run) installs every tool the tests use (tests/install-deps.sh)."""
    return os.environ.get("CI", "") not in ("", "0", "false")


def have_tool(tool, what):
    """True if tool is on the PATH.  Without it, what is skipped, except in CI, where a
    missing tool fails the test rather than letting it pass untested."""
    if shutil.which(tool):
        return True
    if in_ci():
        raise AssertionError("%s is not installed, and CI=%s: %s must run"
                             % (tool, os.environ["CI"], what))
    print("%s is not installed: %s skipped" % (tool, what))
    return False


def run_tcpxd(*args):
    """Runs tcpxd with args (such as -t -c FILE) to its end: (exit status, stdout, stderr)."""
    p = subprocess.run([TCPXD, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def free_port(host="127.0.0.1"):
    """A loopback port free right now, for tests that need a fixed port (several
    daemons on one port, a restart on the same port)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def connect(addr, source=None, timeout=None):
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout or WAIT)
    if source:
        s.bind((source, 0))
    s.connect(addr)
    return s


def read_all(s):
    chunks = []
    while True:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def read_line(s):
    """Reads one answer line, byte by byte so that nothing after it is consumed;
    what came before an early close if there is no newline."""
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        line += b
    return line.decode(errors="replace")


def held_echo(addr, source=None):
    """An echo connection proven to be admitted: a byte makes the round trip."""
    s = connect(addr, source)
    s.sendall(b"!")
    assert s.recv(1) == b"!"
    return s


def refused_echo(addr, source=None):
    """True if the echo listener closed the connection without serving it."""
    s = connect(addr, source)
    try:
        s.sendall(b"?")
        return read_all(s) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def log_records(d, event):
    """The daemon's log records of one event ("conn", "upload"), as dicts; a
    connection's "state=started" line is not one."""
    out = []
    for line in d.log().splitlines():
        r = parse_log_line(line)
        if r and r[0] == event and "state" not in dict(r[1]):
            out.append(dict(r[1]))
    return out


def upload(addr, data, source=None):
    """Raw upload: send, half-close, return the receipt line."""
    with connect(addr, source) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return read_all(s).decode()


def echo(addr, data):
    """Sends data while reading concurrently; returns what came back."""
    with connect(addr) as s:
        got = []

        def reader():
            got.append(read_all(s))

        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        t.join(WAIT)
        assert not t.is_alive(), "echo reader did not finish"
        return got[0]


def parse_ok(receipt):
    m = re.fullmatch(r"OK (\d+) sha256:([0-9a-f]{64}) (\S+)\n", receipt)
    assert m, "not an OK receipt: %r" % receipt
    return int(m.group(1)), m.group(2), m.group(3)


def check_ok(d, receipt, data, subdir="inbox"):
    """Asserts an OK receipt for data and that the stored file holds exactly data."""
    size, digest, name = parse_ok(receipt)
    assert size == len(data), (size, len(data))
    assert digest == hashlib.sha256(data).hexdigest(), "receipt digest mismatch"
    path = os.path.join(d.dir, subdir, name)
    with open(path, "rb") as f:
        assert f.read() == data, "stored file differs from what was sent"
    return name


def tcpx_target(addr):
    """HOST:PORT of a listener address, as tcpx takes it ([::1]:PORT for IPv6)."""
    host, port = addr
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def run_tcpx(*args, stdin=None, env=None):
    """Runs tcpx to its end: (exit status, standard output, standard error) as text."""
    p = subprocess.run([TCPX, *args], input=stdin, capture_output=True, timeout=WAIT * 4,
                       env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def run(tests):
    """Runs test functions; prints a plain summary; exits non-zero on failure."""
    passed = failed = 0
    for t in tests:
        try:
            t()
            for d in _daemons:
                d.check_log()
            print("ok   %s" % t.__name__, flush=True)
            passed += 1
        except Exception:
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
            failed += 1
        finally:
            while _daemons:
                d = _daemons.pop()
                d.kill()
                if not os.environ.get("TCPXD_KEEP_TEST_DIRS"):
                    shutil.rmtree(d.dir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    shutil.rmtree(STATE_HOME, ignore_errors=True)
    sys.exit(1 if failed else 0)


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)
