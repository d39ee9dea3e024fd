# SPDX-License-Identifier: ISC
"""idle_timeout in both directions: an echo client that sends nothing, an
echo client that sends but never reads, and an uploader that stops sending
are all closed after idle_timeout, freeing their slot; the stalled upload
gets "ERR 408 idle timeout" and leaves no file."""

import os
import socket
import time

from tcpxdtest import Daemon, WAIT, connect, inbox, read_all, run


def daemon():
    d = Daemon([], start=False)
    d.write_config([
        {"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0, "idle_timeout": 1},
        {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
         "idle_timeout": 1, "output_dir": inbox(d)},
    ], max_connections=2)
    d.start()
    return d


def test_silent_echo_client_closed():
    d = daemon()
    s = connect(d.addr("echo"))
    assert read_all(s) == b"", "the daemon sent something to a silent client"
    d.wait_log(r"conn listener=echo .*result=aborted-idle")
    s.close()
    assert d.stop() == 0


def test_echo_client_that_never_reads():
    d = daemon()
    s = connect(d.addr("echo"))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    sent = 0
    chunk = os.urandom(1 << 16)
    deadline = time.monotonic() + WAIT
    # Keep sending until the daemon gives up on us: both buffers fill, its send stalls.
    while time.monotonic() < deadline:
        try:
            sent += s.send(chunk)
        except socket.timeout:
            if "aborted-idle-not-reading" in d.log():
                break
        except (ConnectionResetError, BrokenPipeError):
            break
    d.wait_log(r"conn listener=echo .*result=aborted-idle-not-reading")
    assert sent > 0
    s.close()
    assert d.stop() == 0


def test_stalled_upload_gets_408_and_no_file():
    d = daemon()
    s = connect(d.addr("inbox"))
    s.sendall(b"partial data, then silence")
    assert read_all(s) == b"ERR 408 idle timeout\n"
    d.wait_log(r"conn listener=inbox .*result=aborted-idle")
    assert d.stored_files() == []
    s.close()
    assert d.stop() == 0


def test_timeouts_free_slots():
    """With max_connections = 2, two idle clients block a third until they time out."""
    d = daemon()
    idle = [connect(d.addr("echo")) for _ in range(2)]
    d.wait_log(r"result=aborted-idle", count=2)
    with connect(d.addr("echo")) as s:
        s.sendall(b"served")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"served"
    for s in idle:
        s.close()
    assert d.stop() == 0


run([test_silent_echo_client_closed, test_echo_client_that_never_reads,
     test_stalled_upload_gets_408_and_no_file, test_timeouts_free_slots])
