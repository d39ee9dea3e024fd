# SPDX-License-Identifier: ISC
"""Command line and configuration checks: `tcpxd -t` prints the effective
settings and exits 0 on a good file, prints FILE:LINE: reason and exits 1 on
a bad one (also for an unusable output_dir and a world-writable file); the
daemon itself refuses to start on the same errors; bad usage exits 2."""

import os
import re

from tcpxdtest import Daemon, inbox, make_config, run, run_tcpxd


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
]


def test_bad_configs_name_file_and_line():
    d = Daemon([], start=False)
    for text, line, reason in BAD:
        write(d, text)
        rc, out, err = run_tcpxd("-t", "-c", d.conf)
        assert rc == 1, (text, rc, err)
        assert re.search(r"^tcpxd: %s:%d: %s" % (re.escape(d.conf), line, reason), err, re.M), \
            (text, err)
        assert out == ""
        # The daemon refuses to start with the same message.
        rc, _, err = run_tcpxd("-c", d.conf)
        assert rc == 1 and re.search(r"%s:%d: %s" % (re.escape(d.conf), line, reason), err), err


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


run([test_good_config_prints_effective_settings, test_bad_configs_name_file_and_line,
     test_unusable_output_dir, test_world_writable_refused, test_missing_file_and_usage,
     test_shipped_config_is_valid])
