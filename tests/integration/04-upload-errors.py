# SPDX-License-Identifier: ISC
"""Failed uploads leave nothing: over max_file_size the client reads
"ERR 413" (even while still sending, thanks to the drain) and no file
appears; a client that resets mid-upload leaves no file; and the next
upload on the same listener still succeeds."""

import os
import socket
import struct

from tcpxdtest import Daemon, check_ok, connect, inbox, run, upload


def receive_daemon(**extra):
    d = Daemon([], start=False)
    d.write_config([{"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), **extra}])
    d.start()
    return d


def test_over_max_file_size():
    d = receive_daemon(max_file_size="1M")
    exact = os.urandom(1 << 20)
    check_ok(d, upload(d.addr("inbox"), exact), exact)   # the limit itself is allowed
    before = d.stored_files()
    receipt = upload(d.addr("inbox"), os.urandom((1 << 20) + 1))
    assert receipt == "ERR 413 file exceeds max_file_size\n", repr(receipt)
    d.wait_log(r"result=refused-too-large")
    assert d.stored_files() == before, "a refused upload left a file"
    assert d.stop() == 0


def test_err_readable_while_client_keeps_sending():
    """The client streams 8 MiB into a 64K limit and only then reads: it must
    still get the ERR line instead of a reset."""
    d = receive_daemon(max_file_size="64K")
    with connect(d.addr("inbox")) as s:
        try:
            s.sendall(os.urandom(8 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may stop draining before we finish; the reply is what matters
        data = s.recv(4096)
    assert data == b"ERR 413 file exceeds max_file_size\n", data
    assert d.stored_files() == []
    assert d.stop() == 0


def test_reset_mid_upload_leaves_nothing():
    d = receive_daemon()
    s = connect(d.addr("inbox"))
    s.sendall(os.urandom(3 << 20))
    # SO_LINGER 0: close() sends RST, the abrupt end of a crashed client.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    d.wait_log(r"conn listener=inbox .*result=aborted-reset")
    assert d.stored_files() == []
    data = b"after the reset"
    check_ok(d, upload(d.addr("inbox"), data), data)
    assert d.stop() == 0


def test_zero_byte_connection_stores_empty_file():
    d = receive_daemon()
    check_ok(d, upload(d.addr("inbox"), b""), b"")
    assert len(d.stored_files()) == 1
    assert d.stop() == 0


run([test_over_max_file_size, test_err_readable_while_client_keeps_sending,
     test_reset_mid_upload_leaves_nothing, test_zero_byte_connection_stores_empty_file])
