#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue 15, item 1: the Prometheus metrics endpoint, scraped by Debian's real
prometheus server.

- Uploads (anonymous and of a client identity) and an echo run; once
  Prometheus's own HTTP API shows them, its instant queries give exactly the
  counters (uploads, connections, bytes in and out, the size histogram's sum
  and count, the identity's uploads) and tcpxd_last_upload_timestamp_seconds
  of the listener and of the identity falls within the last upload.
- `promtool check metrics` finds nothing to say about the exposition.
- A slowloris (many connections to the metrics port, one header byte at a
  time) from another address while an 8 MiB upload runs: the upload is
  stored, a scrape from the scraper's address still answers during it
  (per-address limit), and after it is gone.
- A client outside `allow` gets nothing; other paths get 404, other
  methods 405.
- Reloads are counted by result, tcpxd_last_reload_success follows them, a
  reload that keeps the address keeps the endpoint and one that moves it
  serves on the new port only.
- A socket passed by the service manager as FileDescriptorName=metrics is
  the endpoint's, and a reload keeps it.

Skipped (77) without /usr/bin/prometheus, except under CI, where it fails.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from tcpxdtest import (SLOW, WAIT, Daemon, connect, echo, free_port, in_ci, inbox, parse_ok,
                       read_all, run, upload)

if not shutil.which("prometheus") or not shutil.which("promtool"):
    if in_ci():
        raise SystemExit("prometheus/promtool not installed, and CI=%s: this test must run"
                         % os.environ["CI"])
    print("prometheus is not installed: skipped")
    sys.exit(77)

ALICE = "127.0.0.5"     # the source address that identifies client alice
SLOW_SOURCE = "127.0.0.2"
OUTSIDE = "127.0.0.3"   # not in allow


def metrics_cfg(port=0):
    return {"address": "127.0.0.1", "port": port,
            "allow": ["127.0.0.1/32", SLOW_SOURCE + "/32"]}


def start_daemon():
    d = Daemon([], start=False)
    listeners = [
        {"name": "in", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "output_dir": inbox(d, "in")},
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
    ]
    d.listeners = listeners
    d.write_config(listeners, metrics=metrics_cfg(),
                   clients=[{"name": "alice", "from": [ALICE + "/32"]}])
    d.start()
    d.metrics = metrics_addr(d)
    return d


def metrics_addr(d, count=1):
    found = d.wait_log(r"metrics endpoint listening on 127\.0\.0\.1:(\d+)$", count)
    return ("127.0.0.1", int(found[count - 1]))


def http_get(addr, path="/metrics", method="GET"):
    """(status, body) of one request to the metrics endpoint."""
    req = urllib.request.Request("http://%s:%d%s" % (addr[0], addr[1], path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


class Prometheus:
    """Debian's prometheus with its own config and storage, scraping addr every second
    (every SLOW seconds)."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="tcpxd-prom-")
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            # A sanitized or valgrind daemon answers slower: its scrapes get as much more time.
            f.write("global:\n  scrape_interval: %ds\n  scrape_timeout: %ds\n"
                    "scrape_configs:\n  - job_name: tcpxd\n    static_configs:\n"
                    "      - targets: ['%s:%d']\n" % ((SLOW, SLOW) + target))
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + conf,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.wait(lambda: self.api("/-/ready") is not None, "ready")

    def api(self, path):
        """The body of a GET on Prometheus, or None while it does not answer 200."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=5) as r:
                return r.read().decode() if r.status == 200 else None
        except (OSError, urllib.error.URLError):
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited: " + self.logtext())
            return None

    def query(self, expr):
        """{frozen labels (without __name__, job, instance): value} of an instant query."""
        body = self.api("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if body is None:
            return None
        data = json.loads(body)
        assert data["status"] == "success", data
        out = {}
        for r in data["data"]["result"]:
            labels = {k: v for k, v in r["metric"].items()
                      if k not in ("__name__", "job", "instance")}
            out[tuple(sorted(labels.items()))] = float(r["value"][1])
        return out

    def wait(self, ok, what):
        """Polls Prometheus's API until ok() holds: it has no push signal for a scrape."""
        deadline = time.monotonic() + WAIT * 2
        while not ok():
            if time.monotonic() > deadline:
                raise AssertionError("prometheus: no %s; log:\n%s" % (what, self.logtext()))
            time.sleep(0.2)

    def logtext(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def one(prom, expr):
    """The single value of expr, or None while Prometheus has no such series."""
    r = prom.query(expr)
    if not r:
        return None
    assert len(r) == 1, (expr, r)
    return next(iter(r.values()))


def test_prometheus_scrape():
    d = start_daemon()
    prom = Prometheus(d.metrics)
    try:
        sizes = [1000, 2000, 3000]
        for n in sizes:
            parse_ok(upload(d.addr("in"), os.urandom(n)))
        t_alice = time.time()
        for n in (400, 600):
            parse_ok(upload(d.addr("in"), os.urandom(n), source=ALICE))
        t_last = time.time()
        assert echo(d.addr("echo"), b"hello") == b"hello"
        total = sum(sizes) + 1000
        expect = {
            'tcpxd_uploads_total{listener="in",result="ok"}': 5,
            'tcpxd_connections_total{listener="in",result="ok"}': 5,
            'tcpxd_connections_total{listener="echo",result="ok"}': 1,
            'tcpxd_connections_open{listener="in"}': 0,
            'tcpxd_received_bytes_total{listener="in"}': total,
            'tcpxd_received_bytes_total{listener="echo"}': 5,
            'tcpxd_sent_bytes_total{listener="echo"}': 5,
            'tcpxd_upload_size_bytes_sum{listener="in"}': total,
            'tcpxd_upload_size_bytes_count{listener="in"}': 5,
            'tcpxd_upload_size_bytes_bucket{listener="in",le="1024"}': 3,
            'tcpxd_identity_uploads_total{identity="alice"}': 2,
            'tcpxd_identity_stored_bytes_total{identity="alice"}': 1000,
            'tcpxd_config_max_connections{listener="in"}': 4096,
            'tcpxd_last_reload_success': 1,
            'tcpxd_build_info': 1,
            'up{job="tcpxd"}': 1,
        }

        def wrong():
            """What Prometheus's latest samples still say otherwise ({} once all hold).  All
            at once: the echo's connection is counted when its thread ends, after the echo
            returns, and a scrape that fails (a slow daemon past scrape_timeout) marks every
            series stale until the next one succeeds."""
            out = {}
            for e, v in expect.items():
                got = one(prom, e)
                if got != v:
                    out[e] = (got, v)
            # Receipts are sent after the file is stored: each time is within its uploads.
            for e in ('tcpxd_last_upload_timestamp_seconds{listener="in"}',
                      'tcpxd_identity_last_upload_timestamp_seconds{identity="alice"}'):
                last = one(prom, e)
                if last is None or not t_alice - 0.001 <= last <= t_last + 0.001:
                    out[e] = (t_alice, last, t_last)
            free = one(prom, 'tcpxd_output_dir_free_bytes{listener="in"}')
            if free is None or free <= 0:
                out["tcpxd_output_dir_free_bytes"] = free
            seen.append(out)
            return out

        seen = []
        try:
            prom.wait(lambda: not wrong(), "scrape with every value expected")
        except AssertionError as e:
            raise AssertionError("%s\nstill wrong: %s" % (e, seen[-1])) from None
    finally:
        prom.stop()
    d.stop()


def test_promtool_check():
    d = start_daemon()
    parse_ok(upload(d.addr("in"), b"x" * 5000, source=ALICE))
    assert echo(d.addr("echo"), b"ping") == b"ping"
    status, text = http_get(d.metrics)
    assert status == 200
    assert 'tcpxd_uploads_total{listener="in",result="ok"} 1\n' in text, text
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=WAIT)
    assert p.returncode == 0 and not p.stdout and not p.stderr, (p.stdout, p.stderr)
    # HEAD has the headers only; other paths and methods are refused.
    assert http_get(d.metrics, method="HEAD")[0] == 200
    assert http_get(d.metrics, path="/")[0] == 404
    assert http_get(d.metrics, path="/metrics/x")[0] == 404
    assert http_get(d.metrics, method="POST")[0] == 405
    d.stop()


def test_not_allowed():
    d = start_daemon()
    with connect(d.metrics, source=OUTSIDE) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        try:
            got = read_all(s)
        except ConnectionResetError:
            got = b""
    assert got == b"", got
    status, text = http_get(d.metrics)
    assert status == 200 and "tcpxd_build_info" in text
    d.stop()


def test_slowloris():
    d = start_daemon()
    stop = threading.Event()
    socks = []
    opened = threading.Event()

    def slowloris():
        for _ in range(32):
            try:
                s = connect(d.metrics, source=SLOW_SOURCE, timeout=5)
                s.sendall(b"G")
                socks.append(s)
            except OSError:
                pass
        opened.set()
        while not stop.wait(0.5):
            for s in socks:
                try:
                    s.sendall(b"E")
                except OSError:
                    pass

    t = threading.Thread(target=slowloris)
    t.start()
    try:
        assert opened.wait(WAIT)
        data = os.urandom(8 << 20)
        size, digest, _ = parse_ok(upload(d.addr("in"), data))
        assert size == len(data) and digest == hashlib.sha256(data).hexdigest()
        # One address cannot take every connection: the scraper's still gets in.
        status, text = http_get(d.metrics)
        assert status == 200 and 'tcpxd_uploads_total{listener="in",result="ok"} 1\n' in text
        assert samples(text)['tcpxd_upload_size_bytes_sum{listener="in"}'] == len(data)
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    status, text = http_get(d.metrics)
    assert status == 200 and "tcpxd_build_info" in text
    d.stop()


def test_reload():
    d = start_daemon()
    clients = [{"name": "alice", "from": [ALICE + "/32"]}]
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: ", 1)
    m = samples(http_get(d.metrics)[1])
    assert m['tcpxd_reloads_total{result="success"}'] == 1
    assert m["tcpxd_last_reload_success"] == 1
    assert "metrics endpoint on" not in d.log()     # kept, not closed and opened again
    with open(d.conf, "a") as f:
        f.write("metrics_typo = 1;\n")
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload failed: ", 1)
    m = samples(http_get(d.metrics)[1])
    assert m['tcpxd_reloads_total{result="failure"}'] == 1
    assert m["tcpxd_last_reload_success"] == 0
    # Moved: the new port answers, the old one is closed.
    old = d.metrics
    port = free_port()
    d.write_config(d.listeners, metrics=metrics_cfg(port), clients=clients)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: ", 2)
    d.metrics = metrics_addr(d, 2)
    assert d.metrics == ("127.0.0.1", port)
    m = samples(http_get(d.metrics)[1])
    assert m['tcpxd_reloads_total{result="success"}'] == 2
    assert m["tcpxd_last_reload_success"] == 1
    try:
        connect(old, timeout=5).close()
        raise AssertionError("the old metrics port still accepts")
    except ConnectionRefusedError:
        pass
    d.stop()


# Socket activation as 12-socket-activation.py does it: the socket on fd 3, LISTEN_PID the
# pid that then execs tcpxd.
ACTIVATE = ("import os, sys\n"
            "os.dup2(int(sys.argv[1]), 3)\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execvp(sys.argv[2], sys.argv[2:])\n")


def test_socket_activation():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    d = Daemon([], start=False)
    listeners = [{"name": "in", "mode": "receive", "address": "127.0.0.1", "port": 0,
                  "output_dir": inbox(d, "in")}]
    # The configured port is not bound: the passed socket is used instead.
    d.write_config(listeners, metrics=metrics_cfg(free_port()))
    d.start(env={"LISTEN_FDS": "1", "LISTEN_FDNAMES": "metrics"},
            launcher=(sys.executable, "-c", ACTIVATE, str(sock.fileno())),
            pass_fds=(sock.fileno(),))
    sock.close()
    d.wait_log(r"metrics endpoint listening on 127\.0\.0\.1:%d, passed by the service manager$"
               % port)
    parse_ok(upload(d.addr("in"), b"activated"))
    status, text = http_get(("127.0.0.1", port))
    assert status == 200 and 'tcpxd_uploads_total{listener="in",result="ok"} 1\n' in text
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reloaded: ")
    assert http_get(("127.0.0.1", port))[0] == 200
    assert d.stop() == 0


if __name__ == "__main__":
    run([test_prometheus_scrape, test_promtool_check, test_not_allowed, test_slowloris,
         test_reload, test_socket_activation])
