# SPDX-License-Identifier: ISC
"""A TLS client for tests, over a plain socket through memory BIOs."""

import hashlib
import socket
import ssl

from tcpxdtest import connect


class TLSConn:
    """A TLS client over a plain socket through memory BIOs, so the test decides
    what goes on the wire: close_notify or not, before its TCP FIN or not."""

    def __init__(self, addr, ctx, hostname="127.0.0.1", preamble=b""):
        """preamble: bytes sent in clear before the handshake (a PROXY header)."""
        self.sock = connect(addr)
        if preamble:
            self.sock.sendall(preamble)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=hostname)
        self._io(self.obj.do_handshake)

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _io(self, op, *args):
        while True:
            try:
                r = op(*args)
                self._flush()
                return r
            except ssl.SSLWantReadError:
                self._flush()
                try:
                    data = self.sock.recv(1 << 16)
                except ConnectionResetError:
                    data = b""
                if data:
                    self.inc.write(data)
                else:
                    self.inc.write_eof()

    def send(self, data):
        view = memoryview(data)
        while view:
            view = view[self._io(self.obj.write, view[:1 << 16]):]

    def recv_exactly(self, n):
        got = b""
        while len(got) < n:
            got += self._io(self.obj.read, n - len(got))
        return got

    def close_notify(self):
        """Sends close_notify (SSL_shutdown), without waiting for the daemon's."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()

    def fin(self):
        self.sock.shutdown(socket.SHUT_WR)

    def recv_all(self):
        """(bytes, how the stream ended: "close_notify", "eof" or the TLS error)."""
        chunks = []
        while True:
            try:
                data = self._io(self.obj.read, 1 << 16)
                if not data:        # CPython's read() returns b"" for close_notify
                    return b"".join(chunks), "close_notify"
                chunks.append(data)
            except ssl.SSLZeroReturnError:
                return b"".join(chunks), "close_notify"
            except ssl.SSLEOFError:
                return b"".join(chunks), "eof"
            except ssl.SSLError as e:
                return b"".join(chunks), str(e)

    def peer_fingerprint(self):
        return hashlib.sha256(self.obj.getpeercert(binary_form=True)).hexdigest()

    def close(self):
        self.sock.close()
