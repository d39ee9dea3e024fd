# SPDX-License-Identifier: ISC
"""Command line and configuration checks: `tcpxd -t` prints the effective
settings and exits 0 on a good file, prints FILE:LINE: reason and exits 1 on
a bad one (also for an unusable output_dir and a world-writable file); the
daemon itself refuses to start on the same errors; bad usage exits 2."""

import hashlib
import os
import re
import socket
import subprocess

from tcpxdtest import (LOG_FORMAT, Daemon, echo, free_port, have_tool, inbox, make_config, run,
                       run_tcpxd)

TCPX = os.path.join(os.path.dirname(os.environ.get("TCPXD", "tcpxd")), "tcpx")


def write(d, text, mode=0o644):
    with open(d.conf, "w") as f:
        f.write(text)
    os.chmod(d.conf, mode)


def test_good_config_prints_effective_settings():
    d = Daemon([], start=False)
    write(d, make_config([{"name": "box", "mode": "receive", "address": "127.0.0.1",
                           "port": 0, "output_dir": inbox(d)}], buffer_size="128K"))
    rc, out, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 0, err
    assert "configuration is valid" in err
    for line in ('name = "box";', 'buffer_size = "128K";', 'max_file_size = "1G";',
                 'min_free_space = "64M";', 'file_mode = "0640";', "max_connections = 4096;",
                 "idle_timeout = 60;", 'log_level = "info";'):
        assert line in out, (line, out)
    # The printed settings are themselves a valid configuration with the same meaning.
    write(d, out)
    rc2, out2, _ = run_tcpxd("--check-config", "--config", d.conf)
    assert rc2 == 0 and out2.splitlines()[1:] == out.splitlines()[1:]


BAD = [
    ('max_connections = 0;\nlisteners = ({ name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1; });\n',
     1, r"max_connections = 0 is out of range \(1\.\.1000000\)"),
    ('listeners = (\n { name = "e"; mode = "echo";\n   adress = "127.0.0.1"; port = 1; });\n',
     3, r'unknown key "adress" in listener'),
    ('idle_timeout = "soon";\nlisteners = ();\n', 1, r"idle_timeout must be an integer"),
    ('listeners = ({ name = "e"; mode = "echo"; address = "127.0.0.1"; port = 1;\n'
     '  allow = [ "10.0.0.1/8" ]; });\n', 2, r'allow: "10\.0\.0\.1/8" is not a valid address or CIDR'),
    ('# comment\nlisteners = ({ name = "e"; mode = "echo"; address = ; });\n', 2, r"syntax error"),
    ('log_level = "loud";\nlisteners = ();\n', 1, r'log_level "loud" is not one of'),
    ('listeners = ({ name = "r"; mode = "receive"; address = "127.0.0.1"; port = 1; });\n',
     1, r'receive listener "r" has no output_dir'),
    # libconfig 1.5 would cut these to 32 bits: 0, 27007, 1.
    ('listeners = ({ name = "e"; mode = "echo"; address = "127.0.0.1";\n port = 4294967296; });\n',
     2, r"port = 4294967296 is out of range \(0\.\.65535\)"),
    ('listeners = ({ name = "e"; mode = "echo"; address = "127.0.0.1";\n port = 4294994303; });\n',
     2, r"port = 4294994303 is out of range \(0\.\.65535\)"),
    ('max_per_ip = 4294967297;\nlisteners = ({ name = "e"; mode = "echo"; address = "127.0.0.1"; '
     'port = 1; });\n', 1, r"max_per_ip = 4294967297 is out of range \(1\.\.1000000\)"),
    ('max_connections = 1;\nmax_connections = 2;\nlisteners = ();\n', 2,
     r'duplicate key "max_connections" \(first set on line 1\)'),
]


def test_bad_configs_name_file_and_line():
    d = Daemon([], start=False)
    for text, line, reason in BAD:
        write(d, text)
        rc, out, err = run_tcpxd("-t", "-c", d.conf)
        assert rc == 1, (text, rc, err)
        want = r"^tcpxd: error: %s:%d: %s" % (re.escape(d.conf), line, reason)
        assert re.search(want, err, re.M), (text, err)
        assert out == ""
        # The daemon refuses to start with the same line, prefix included.
        rc, _, err2 = run_tcpxd("-c", d.conf)
        assert rc == 1 and re.search(want, err2, re.M), err2
        assert err2 == err, (err, err2)


def test_unusable_output_dir():
    d = Daemon([], start=False)
    missing = os.path.join(d.dir, "missing")
    write(d, 'listeners = (\n  { name = "r"; mode = "receive"; address = "127.0.0.1"; port = 0;\n'
             '    output_dir = "%s"; }\n);\n' % missing)
    rc, _, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1
    assert re.search(r"%s:3: listener \"r\": output_dir \"%s\": No such file or directory"
                     % (re.escape(d.conf), re.escape(missing)), err), err
    afile = os.path.join(d.dir, "afile")
    open(afile, "w").close()
    write(d, make_config([{"name": "r", "mode": "receive", "address": "127.0.0.1", "port": 0,
                           "output_dir": afile}]))
    rc, _, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1 and "Not a directory" in err, err


def test_world_writable_refused():
    d = Daemon([], start=False)
    write(d, make_config([{"name": "e", "mode": "echo", "address": "127.0.0.1", "port": 0}]),
          mode=0o666)
    rc, _, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1 and "refusing a world-writable configuration file" in err, err


def test_missing_file_and_usage():
    rc, _, err = run_tcpxd("-t", "-c", "/nonexistent/tcpxd.conf")
    assert rc == 1 and "/nonexistent/tcpxd.conf: cannot open: No such file" in err, err
    rc, _, err = run_tcpxd("--bogus")
    assert rc == 2 and "unknown option --bogus" in err, err
    rc, _, err = run_tcpxd("-c")
    assert rc == 2 and "needs a value" in err, err
    rc, _, err = run_tcpxd("extra")
    assert rc == 2, err
    rc, out, _ = run_tcpxd("-V")
    assert rc == 0 and re.fullmatch(r"tcpxd \d+\.\d+\.\d+\n", out), out
    rc, out, _ = run_tcpxd("-h")
    assert rc == 0 and "--check-config" in out
    # An operand anywhere, with any option, is a usage error: one line, exit 2, nothing done.
    for argv in (["-V", "extra"], ["--version", "extra"], ["extra", "-V"], ["-h", "extra"],
                 ["--help", "x"], ["-t", "extra"], ["-t", "-c", "/nonexistent", "extra"],
                 ["--check-config", "--config=/nonexistent", "x"], ["-c", "/nonexistent", "x"]):
        rc, out, err = run_tcpxd(*argv)
        assert rc == 2 and out == "" and err.count("\n") == 1, (argv, rc, out, err)
        assert re.fullmatch(r'tcpxd: error: unexpected argument "(extra|x)" \(try tcpxd --help\)\n',
                            err), (argv, err)
    for argv in (["-c", ""], ["-t", "-c", ""], ["--config="], ["-t", "--config", ""]):
        rc, out, err = run_tcpxd(*argv)
        assert rc == 2 and out == "" and re.fullmatch(
            r"tcpxd: error: option --config needs a file name, not an empty string "
            r"\(try tcpxd --help\)\n", err), (argv, rc, err)
    for argv, want in ((["--bogus"], "unknown option --bogus"), (["-x"], "unknown option -x"),
                       (["-Vx"], "unknown option -x"), (["-c"], "option -c needs a value"),
                       (["--config"], "option --config needs a value"),
                       (["--version=1"], "option --version takes no value"),
                       (["-t", "--check-config=yes"], "option --check-config takes no value")):
        rc, out, err = run_tcpxd(*argv)
        assert rc == 2 and out == "" and err == "tcpxd: error: %s (try tcpxd --help)\n" % want, \
            (argv, err)


def test_not_a_regular_file():
    """A FIFO is refused at once, not opened for reading (which waits for a writer)."""
    d = Daemon([], start=False)
    fifo = os.path.join(d.dir, "fifo.conf")
    os.mkfifo(fifo)
    for argv in (("-t", "-c", fifo), ("-c", fifo)):
        rc, out, err = run_tcpxd(*argv)     # run_tcpxd's timeout fails the test on a hang
        assert rc == 1 and err == "tcpxd: error: %s: not a regular file\n" % fifo, (argv, err)
    write(d, '@include "fifo.conf"\nlisteners = ();\n')
    rc, _, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1 and err == 'tcpxd: error: %s:1: @include "fifo.conf": %s: not a regular file\n' \
        % (d.conf, fifo), err
    os.mkdir(os.path.join(d.dir, "dir.conf"))
    write(d, 'listeners = ();\n@include "dir.conf"\n')
    rc, _, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 1 and err == 'tcpxd: error: %s:2: @include "dir.conf": %s/dir.conf: not a ' \
        'regular file\n' % (d.conf, d.dir), err


def test_tls_key_messages():
    """An encrypted key, and a file without a key, are named as such (OpenSSL says
    "interrupted or cancelled" and "unsupported")."""
    if not have_tool("openssl", "TLS key messages"):
        return
    d = Daemon([], start=False)
    cert, key = os.path.join(d.dir, "cert.pem"), os.path.join(d.dir, "key.pem")
    enc, trad = os.path.join(d.dir, "enc.key"), os.path.join(d.dir, "trad.key")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost")
    openssl("pkey", "-in", key, "-aes128", "-passout", "pass:secret", "-out", enc)
    openssl("ec", "-in", key, "-aes128", "-passout", "pass:secret", "-out", trad)
    for k, why in ((enc, "is encrypted: tcpxd needs an unencrypted key"),
                   (trad, "is encrypted: tcpxd needs an unencrypted key"),
                   (cert, 'holds no private key (no "-----BEGIN ... PRIVATE KEY-----" block)')):
        write(d, make_config([{"name": "t", "mode": "echo", "address": "127.0.0.1", "port": 0,
                               "tls": {"certificate": cert, "key": k}}]))
        rc, _, err = run_tcpxd("-t", "-c", d.conf)
        assert rc == 1 and 'listener "t": tls key %s %s' % (k, why) in err, (k, err)
    # The client's loader is the same: --cert without a key, an encrypted --key.
    for args, want in ((["--cert", cert], "certificate %s holds no private key" % cert),
                       (["--cert", cert, "--key", enc],
                        "key %s is encrypted: tcpx needs an unencrypted key" % enc)):
        p = subprocess.run([TCPX, "echo", "--tls", *args, "127.0.0.1:1", "x"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 6 and want in p.stderr, (args, p.returncode, p.stderr)


def test_bind_conflicts_before_binding():
    """-t and start-up compare listeners by what they will bind, host names resolved,
    and refuse a pair the kernel would refuse before binding either."""
    d = Daemon([], start=False)
    port = free_port()
    for a, b, why in (("127.0.0.1", "0.0.0.0", "0.0.0.0 takes the port on every IPv4 address"),
                      ("::", "127.0.0.1", ":: (dual-stack, v6only = false) takes the port on "
                       "every IPv4 address too"),
                      ("127.0.0.1", "localhost", "both bind 127.0.0.1"),
                      ("::1", "[::1]", "both bind ::1")):
        write(d, make_config([{"name": "a", "mode": "echo", "address": a, "port": port},
                              {"name": "b", "mode": "echo", "address": b, "port": port}]))
        want = ('tcpxd: error: %s:3: listener "b" (%s port %d) conflicts with listener "a" at '
                '%s:2 (%s port %d): %s\n' % (d.conf, b.strip("[]"), port, d.conf, a, port, why))
        rc, out, err = run_tcpxd("-t", "-c", d.conf)
        assert rc == 1 and out == "" and err == want, (a, b, err)
        rc, _, err = run_tcpxd("-c", d.conf)
        assert rc == 1 and err.endswith(want) and "listening on" not in err, (a, b, err)
    # What the kernel allows passes, and starts.
    for a, b, extra in (("::", "127.0.0.1", {"v6only": True}), ("127.0.0.1", "::1", {}),
                        ("127.0.0.1", "0.0.0.0", {"reuseport": True})):
        d2 = Daemon([{"name": "a", "mode": "echo", "address": a, "port": port, **extra},
                     {"name": "b", "mode": "echo", "address": b, "port": port, **extra}])
        assert echo(d2.addr("b"), b"x") == b"x"
        assert d2.stop() == 0


def test_bracketed_ipv6_address():
    """address = "[::1]", as tcpx writes it, listens on ::1."""
    d = Daemon([{"name": "e", "mode": "echo", "address": "[::1]", "port": 0}])
    assert d.addr("e")[0] == "::1"
    assert echo(d.addr("e"), b"hello") == b"hello"
    assert d.stop() == 0


def test_exact_integers():
    """Integers beyond 32 bits without L are used exactly as written."""
    d = Daemon([], start=False)
    write(d, make_config([{"name": "r", "mode": "receive", "address": "127.0.0.1", "port": 0,
                           "output_dir": inbox(d), "max_file_size": 5000000000}],
                         min_free_space=4294967297))
    rc, out, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 0, err
    assert 'max_file_size = "5000000000";' in out and 'min_free_space = "4294967297";' in out, out


SRCDIR = os.environ.get("TCPXD_SRCDIR", os.path.dirname(os.path.abspath(__file__)) + "/../..")


def shipped_listeners(text):
    """{name: (address, port)} of the listeners in a tcpxd.conf text, one key a line."""
    found, name = {}, None
    for key, value in re.findall(r"^\s*(name|address|port)\s*=\s*\"?([^\";]*)\"?;", text, re.M):
        if key == "name":
            name = value
        elif key == "address":
            found[name] = (value, found.get(name, (None, None))[1])
        else:
            found[name] = (found[name][0], int(value))
    return found


def test_readme_tour_against_shipped_config():
    """The README's tour, run as written (ports aside) against etc/tcpxd.conf as
    installed: every HOST PORT it uses is a shipped listener, the socket units
    and the man page's copy of the file agree, and each command gives the output
    the README shows."""
    shipped = open(os.path.join(SRCDIR, "etc", "tcpxd.conf")).read()
    listeners = shipped_listeners(shipped)
    by_endpoint = {v: k for k, v in listeners.items()}
    assert set(listeners) == {"echo", "inbox"}, listeners
    # The socket units hold the same addresses, by listener name.
    for unit in ("tcpxd.socket", "tcpxd-inbox.socket"):
        text = open(os.path.join(SRCDIR, "systemd", unit)).read()
        stream = re.search(r"^ListenStream=\[?([^\]\s]+?)\]?:(\d+)$", text, re.M)
        name = re.search(r"^FileDescriptorName=(\S+)$", text, re.M).group(1)
        assert listeners[name] == (stream.group(1), int(stream.group(2))), (unit, listeners)
    # The man page's copy of the shipped file has the same listeners and allow lists.
    man = open(os.path.join(SRCDIR, "man", "tcpxd.conf.5")).read()
    example = man[man.index(".SH EXAMPLE"):]
    example = example[:example.index(".EE")].replace("\\-", "-")
    assert shipped_listeners(example) == listeners, shipped_listeners(example)
    for line in re.findall(r"^\s*allow = .*$", shipped, re.M):
        assert line.strip() in example, line

    readme = open(os.path.join(SRCDIR, "README.md")).read()
    tour = readme[readme.index("## A 30-second tour"):readme.index("## How it holds up")]
    steps = []          # (command, expected output lines)
    for block in re.findall(r"```console\n(.*?)```", tour, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            cmd, *out = chunk.rstrip("\n").split("\n")
            steps.append((cmd, out))
    endpoints = set()
    for cmd, _ in steps:
        endpoints |= {(h, int(p)) for h, p in re.findall(r"nc -N (\S+) (\d+)", cmd)}
        endpoints |= {(h6 or h4, int(p)) for h6, h4, p in re.findall(
            r"(?:\[([0-9a-f:]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d+)", cmd)}
    assert endpoints and endpoints <= set(listeners.values()), (endpoints, listeners)

    d = Daemon([], start=False)
    def free_port_on(addr):
        if ":" not in addr:
            return free_port(addr)
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind((addr, 0))
            return s.getsockname()[1]

    ports = {name: free_port_on(addr) for name, (addr, _) in listeners.items()}
    text = shipped.replace('"/var/lib/tcpxd/inbox"', '"%s"' % inbox(d))
    if LOG_FORMAT == "json":
        text = text.replace('log_format = "logfmt";', 'log_format = "json";')
    for name, (_, port) in listeners.items():
        text = re.sub(r"(\bport = )%d;" % port, r"\g<1>%d;" % ports[name], text)
    write(d, text)
    d.start()
    tmp = os.path.join(d.dir, "tmp")
    os.mkdir(tmp)
    data = open("/etc/os-release", "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    env = dict(os.environ, PATH=os.path.dirname(TCPX) + ":" + os.environ["PATH"])
    subprocess.run(["cp", "/etc/os-release", tmp + "/os-release"], check=True)
    for cmd, want in steps:
        for (host, port), name in by_endpoint.items():
            cmd = cmd.replace("%s %d" % (host, port), "%s %d" % (host, ports[name]))
            cmd = cmd.replace("%s:%d" % (host, port), "%s:%d" % (host, ports[name]))
            cmd = cmd.replace("[%s]:%d" % (host, port), "[%s]:%d" % (host, ports[name]))
        cmd = cmd.replace("/tmp/os-release", tmp + "/os-release").replace(
            "run/inbox/", inbox(d) + "/")
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60,
                           env=env, cwd=d.dir)
        assert p.returncode == 0, (cmd, p.returncode, p.stderr)
        got = p.stdout.replace(tmp + "/os-release", "/tmp/os-release").replace(
            inbox(d) + "/", "run/inbox/").splitlines()
        if cmd.startswith("tcpx ping"):
            assert "3 sent, 3 received" in p.stdout, p.stdout
            continue
        for w, g in zip(want, got):
            w = w.split("  #")[0].replace("59a77b5f2666d9c85c489bd1911a6eebbd91ef22fe48b90a3b75f1b21f3844d4",
                                          digest).replace("267", str(len(data)))
            w = re.sub(r"\d{8}T\d{6}Z", "TIME", w)
            assert re.sub(r"\d{8}T\d{6}Z", "TIME", g) == w, (cmd, g, w)
        assert len(got) == len(want), (cmd, got, want)
    assert d.stop() == 0


def test_shipped_config_is_valid():
    """etc/tcpxd.conf passes -t once its output_dir is swapped for a temporary one."""
    d = Daemon([], start=False)
    src = os.path.join(os.environ.get("TCPXD_SRCDIR", os.path.dirname(__file__) + "/../.."),
                       "etc", "tcpxd.conf")
    text = open(src).read()
    assert '"/var/lib/tcpxd/inbox"' in text
    write(d, text.replace('"/var/lib/tcpxd/inbox"', '"%s"' % inbox(d)))
    rc, out, err = run_tcpxd("-t", "-c", d.conf)
    assert rc == 0, err
    assert 'address = "127.0.0.1";' in out and 'address = "::1";' in out
    # No allow entry of the other family than the listener's address (it could never match).
    for block in out.split("  {")[1:]:
        addr = re.search(r'address = "([^"]*)";', block).group(1)
        allow = re.search(r"allow = \[(.*)\];", block).group(1)
        if addr != "::":
            assert all((":" in a) == (":" in addr) for a in re.findall(r'"([^"]*)"', allow)), block


run([test_good_config_prints_effective_settings, test_bad_configs_name_file_and_line,
     test_unusable_output_dir, test_world_writable_refused, test_missing_file_and_usage,
     test_not_a_regular_file, test_tls_key_messages, test_bind_conflicts_before_binding,
     test_bracketed_ipv6_address, test_exact_integers, test_readme_tour_against_shipped_config, test_shipped_config_is_valid])
