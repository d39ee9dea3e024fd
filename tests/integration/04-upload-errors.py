# SPDX-License-Identifier: ISC
"""Failed uploads leave nothing: over max_file_size the client reads
"ERR 413" (even while still sending, thanks to the drain) and no file
appears; a client that resets mid-upload leaves no file; a framed name
with no free suffix is refused at its header; a connection that sends
nothing stores nothing (unless store_empty = true); and the next upload on
the same listener still succeeds."""

import os
import socket
import struct

from tcpxdtest import Daemon, check_ok, close_with_reset, connect, inbox, read_all, run, upload

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
    close_with_reset(s)     # the abrupt end of a crashed client
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


def close_without_a_byte(addr, reset=False):
    """A probe: connects and closes (orderly, or with a reset), sending nothing."""
    with connect(addr) as s:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        s.shutdown(socket.SHUT_WR)
        return read_all(s)


def test_empty_connection_stores_nothing():
    """Port scans and TCP health checks send nothing: on every protocol nothing is
    stored, nothing answered, the line is logged at debug level as result=empty and
    counted apart in STATUS=.  A framed upload that declares size 0 is still stored."""
    d = Daemon([], start=False)
    d.write_config([{"name": proto, "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "protocol": proto}
                    for proto in ("auto", "raw", "framed")])
    d.start()
    for proto in ("auto", "raw", "framed"):
        assert close_without_a_byte(d.addr(proto)) == b""
        close_without_a_byte(d.addr(proto), reset=True)
    d.wait_log(r"^tcpxd: debug: conn listener=\w+ .* in=0 out=0 .*result=empty$", count=6)
    assert "result=empty" not in "".join(l for l in d.log().splitlines() if "debug:" not in l)
    assert d.stored_files() == []
    status = d.wait_status(" 6 empty;")
    assert " 0 stored, 0 failed, 6 empty;" in status, status
    with connect(d.addr("auto")) as s:
        s.sendall(SIG + b"1 0 declared-empty\n")
        s.shutdown(socket.SHUT_WR)
        assert check_ok(d, read_all(s).decode(), b"") == "declared-empty"
    assert d.stop() == 0


def test_store_empty_brings_back_empty_files():
    """store_empty = true: an orderly close without a byte stores a 0-byte raw file
    (not on a framed-only listener, where there is no name; never after a reset)."""
    d = Daemon([], start=False)
    d.write_config([{"name": proto, "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "protocol": proto}
                    for proto in ("auto", "raw", "framed")] +
                   [{"name": "off", "mode": "receive", "address": "127.0.0.1", "port": 0,
                     "output_dir": inbox(d), "store_empty": False}], store_empty=True)
    d.start()
    names = [check_ok(d, upload(d.addr(p), b""), b"") for p in ("auto", "raw")]
    assert close_without_a_byte(d.addr("framed")) == b""
    assert close_without_a_byte(d.addr("off")) == b""
    close_without_a_byte(d.addr("raw"), reset=True)
    d.wait_log(r"result=empty$", count=3)
    assert d.stored_files() == sorted(names)
    assert d.stop() == 0


run([test_over_max_file_size, test_err_readable_while_client_keeps_sending,
     test_reset_mid_upload_leaves_nothing, test_name_without_free_suffix_refused_at_header,
     test_empty_connection_stores_nothing, test_store_empty_brings_back_empty_files])
