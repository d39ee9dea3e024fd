# SPDX-License-Identifier: ISC
"""Failed uploads leave nothing: over max_file_size the client reads
"ERR 413" (even while still sending, thanks to the drain) and no file
appears; a client that resets mid-upload leaves no file; a framed name
with no free suffix is refused at its header; and the next upload on the
same listener still succeeds."""

import os
import socket
import struct

from tcpxdtest import Daemon, check_ok, connect, inbox, read_all, run, upload

SIG = b"\x89TCPX\r\n\x1a"


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


def test_name_without_free_suffix_refused_at_header():
    """n, n.1 ... n.999 all taken: a framed upload named n is refused as soon as its
    header arrives, not after its whole body was received, written and fsync'd."""
    d = receive_daemon(idle_timeout=3600)
    box = inbox(d)
    for name in ["n"] + ["n.%d" % i for i in range(1, 1000)]:
        open(os.path.join(box, name), "w").close()
    before = d.stored_files()
    with connect(d.addr("inbox")) as s:
        s.sendall(SIG + b"1 %d n\n" % (32 << 20))
        # No body is sent: the answer must come from the header alone.
        assert read_all(s) == b"ERR 409 name in use\n"
    d.wait_log(r"result=refused-name-in-use")
    assert d.stored_files() == before
    os.unlink(os.path.join(box, "n.500"))
    data = os.urandom(1 << 20)
    with connect(d.addr("inbox")) as s:
        s.sendall(SIG + b"1 %d n\n" % len(data) + data)
        s.shutdown(socket.SHUT_WR)
        assert check_ok(d, read_all(s).decode(), data) == "n.500"
    assert d.stop() == 0


def test_zero_byte_connection_stores_empty_file():
    d = receive_daemon()
    check_ok(d, upload(d.addr("inbox"), b""), b"")
    assert len(d.stored_files()) == 1
    assert d.stop() == 0


run([test_over_max_file_size, test_err_readable_while_client_keeps_sending,
     test_reset_mid_upload_leaves_nothing, test_name_without_free_suffix_refused_at_header,
     test_zero_byte_connection_stores_empty_file])
