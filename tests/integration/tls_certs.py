# SPDX-License-Identifier: ISC
"""Test certificates made with the openssl command line tool: a CA, server
and client certificates it signs (one of them expired), and a second CA
that signs nothing the daemon uses.  EC P-256 keys, so it takes
milliseconds.  Everything goes into one directory the caller owns."""

import atexit
import os
import shutil
import subprocess
import tempfile
import textwrap

OPENSSL = shutil.which("openssl")


def _openssl(*args, cwd):
    p = subprocess.run([OPENSSL, *args], cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (args[0], p.returncode,
                                                         p.stderr.decode(errors="replace")))


class CertDir:
    """Paths of the PEM files made by make_certs(), by name: <name>.pem, <name>.key."""

    def __init__(self, path):
        self.path = path

    def pem(self, name):
        return os.path.join(self.path, name + ".pem")

    def key(self, name):
        return os.path.join(self.path, name + ".key")

    # -- making certificates ---------------------------------------------------

    def _newkey_args(self, name):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.key(name)]

    def make_ca(self, name, cn):
        _openssl("req", "-x509", *self._newkey_args(name), "-out", self.pem(name),
                 "-days", "3650", "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.path)

    def _extfile(self, name, server, san):
        path = os.path.join(self.path, name + ".ext")
        lines = ["basicConstraints = critical,CA:FALSE",
                 "keyUsage = critical,digitalSignature",
                 "extendedKeyUsage = %s" % ("serverAuth" if server else "clientAuth")]
        if san:
            lines.append("subjectAltName = " + san)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def make_cert(self, name, ca, cn, server=True, san=None, days=365):
        """A certificate for cn (and san, e.g. "IP:127.0.0.1,DNS:localhost") signed by ca."""
        csr = os.path.join(self.path, name + ".csr")
        _openssl("req", "-new", *self._newkey_args(name), "-out", csr, "-subj", "/CN=" + cn,
                 cwd=self.path)
        serial = str(int.from_bytes(os.urandom(8), "big"))
        _openssl("x509", "-req", "-in", csr, "-CA", self.pem(ca), "-CAkey", self.key(ca),
                 "-set_serial", serial, "-days", str(days), "-sha256",
                 "-extfile", self._extfile(name, server, san), "-out", self.pem(name),
                 cwd=self.path)

    def make_expired_cert(self, name, ca, cn, san=None):
        """Like make_cert, but valid only in January 2020.  `openssl x509` of OpenSSL 3.0
        has no -not_before/-not_after, so this goes through a minimal `openssl ca`."""
        csr = os.path.join(self.path, name + ".csr")
        _openssl("req", "-new", *self._newkey_args(name), "-out", csr, "-subj", "/CN=" + cn,
                 cwd=self.path)
        db = os.path.join(self.path, name + ".ca-db")
        os.makedirs(db)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("%016X\n" % int.from_bytes(os.urandom(7), "big"))
        conf = os.path.join(db, "ca.cnf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent("""\
                [ca]
                default_ca = test_ca
                [test_ca]
                database = %(db)s/index.txt
                new_certs_dir = %(db)s
                serial = %(db)s/serial
                default_md = sha256
                policy = any_name
                unique_subject = no
                [any_name]
                commonName = supplied
                """) % {"db": db})
        _openssl("ca", "-batch", "-notext", "-config", conf, "-cert", self.pem(ca),
                 "-keyfile", self.key(ca), "-in", csr, "-out", self.pem(name),
                 "-startdate", "20200101000000Z", "-enddate", "20200131000000Z",
                 "-extfile", self._extfile(name, True, san), cwd=self.path)


SERVER_SAN = "IP:127.0.0.1,DNS:localhost"


def make_certs(path):
    """The set the TLS tests use, in path:
    ca           the CA the daemon's certificates and the client certificate chain to
    other-ca     a CA nobody uses (a client trusting only it must fail)
    server       CN=localhost, IP:127.0.0.1 and DNS:localhost, signed by ca
    server2      the same names, another key: the replacement certificate of a reload
    expired      the same names, signed by ca, expired since 2020
    misnamed     CN=other.example.net, DNS:other.example.net only, signed by ca
    client       CN=tcpx test client, a client certificate signed by ca
    rogue-client a client certificate signed by other-ca
    """
    c = CertDir(path)
    c.make_ca("ca", "tcpxd test CA")
    c.make_ca("other-ca", "another test CA")
    c.make_cert("server", "ca", "localhost", san=SERVER_SAN)
    c.make_cert("server2", "ca", "localhost", san=SERVER_SAN)
    c.make_expired_cert("expired", "ca", "localhost", san=SERVER_SAN)
    c.make_cert("misnamed", "ca", "other.example.net", san="DNS:other.example.net")
    c.make_cert("client", "ca", "tcpx test client", server=False)
    c.make_cert("rogue-client", "other-ca", "rogue client", server=False)
    return c


def make_test_certs():
    """make_certs() in a temporary directory removed at exit (kept with
    TCPXD_KEEP_TEST_DIRS); exits 77 (skipped) without the openssl tool."""
    from tcpxdtest import have_tool

    if not have_tool("openssl", "this test (it makes its certificates with it)"):
        raise SystemExit(77)
    path = tempfile.mkdtemp(prefix="tcpxd-tls-certs-")
    if not os.environ.get("TCPXD_KEEP_TEST_DIRS"):
        atexit.register(shutil.rmtree, path, True)
    return make_certs(path)


def plain_and_tls_listeners(d, certs, **receive_extra):
    """An echo and a receive listener (into d's inbox) on kernel-chosen loopback ports,
    each with a TLS twin named NAME-tls that serves certs' server certificate."""
    from tcpxdtest import inbox

    tls = {"certificate": certs.pem("server"), "key": certs.key("server")}
    plain = [{"name": "echo", "mode": "echo", "address": "127.0.0.1", "port": 0},
             {"name": "inbox", "mode": "receive", "address": "127.0.0.1", "port": 0,
              "output_dir": inbox(d), **receive_extra}]
    return plain + [dict(l, name=l["name"] + "-tls", tls=tls) for l in plain]
