"""certs.py: throwaway certificate authorities and server certificates,
made with the `openssl` command in a test's folder, for gateways that
serve wss:// and clients that must trust them, or must not.

    certs = Certificates(folder)
    await certs.authority("ca")                         # ca.pem, ca.key
    await certs.server("good", "ca")                    # good.pem, good.key
    await certs.server("old", "ca", expired=True)
    await certs.server("elsewhere", "ca", hosts=("wrong.example",))
    await certs.self_signed("alone")
    certs.gateway_args("good")      # ["--tls-cert", .../good.pem, "--tls-key", ...]
    certs.context("ca")             # an ssl.SSLContext that trusts only ca

Keys are P-256: quick to make, and quick to use under valgrind. Server
certificates name localhost and 127.0.0.1 unless told otherwise.

Also the load balancer's certificate store as deploy/tls-init.sh makes
it (`tls_init(store, given)`), and SHA-256 fingerprints, of a PEM file
(`fingerprint`) or of what a server presents (`served_fingerprint`).
"""

import asyncio
import datetime
import hashlib
import os
import pwd
import re
import ssl

from .process import run_command

HOSTS = ("localhost", "127.0.0.1")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TLS_INIT = os.path.join(ROOT, "deploy", "tls-init.sh")

#  The smallest configuration `openssl ca` runs with: it is the one
#  command that signs with chosen validity dates (an expired certificate)
_CA_CONFIG = """\
[ ca ]
default_ca = signer
[ signer ]
database = {dir}/{ca}.index
new_certs_dir = {dir}
certificate = {dir}/{ca}.pem
private_key = {dir}/{ca}.key
serial = {dir}/{ca}.serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
"""


def _alt_names(hosts):
    """subjectAltName for host names and IP addresses alike."""
    return ",".join(("IP:%s" if host.replace(".", "").isdigit() or ":" in host
                     else "DNS:%s") % host for host in hosts)


def _stamp(moment):
    """A time as `openssl ca` takes it: YYYYMMDDHHMMSSZ, UTC."""
    return moment.strftime("%Y%m%d%H%M%SZ")


class Certificates:
    """PEM files in one folder, each made once by name."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def path(self, name, kind="pem"):
        """The file of a certificate ("pem") or of its key ("key")."""
        return os.path.join(self.folder, "%s.%s" % (name, kind))

    async def _openssl(self, *args):
        code, out, err = await run_command(["openssl"] + list(args), None, 30,
                                           cwd=self.folder)
        assert code == 0, "openssl %s: exit %d\n%s%s" % (args[0], code, out, err)

    async def _key_and_request(self, name, common_name):
        await self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", self.path(name, "key"),
                            "-out", self.path(name, "csr"), "-subj", "/CN=%s" % common_name)

    async def authority(self, name):
        """A CA certificate, valid from yesterday for ten days."""
        await self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", self.path(name, "key"), "-out", self.path(name),
                            "-days", "10", "-subj", "/CN=groupchat test CA %s" % name,
                            "-addext", "basicConstraints=critical,CA:TRUE",
                            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(self.path(name, "index"), "w"):
            pass
        with open(self.path(name, "serial"), "w") as serial:
            serial.write("1000\n")
        with open(self.path(name, "cnf"), "w") as config:
            config.write(_CA_CONFIG.format(dir=self.folder, ca=name))

    async def server(self, name, ca, hosts=HOSTS, expired=False):
        """A server certificate for `hosts` signed by the CA `ca`; an
        expired one ended yesterday (it was valid for a day before)."""
        await self._key_and_request(name, hosts[0])
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = ((now - datetime.timedelta(days=2), now - datetime.timedelta(days=1))
                      if expired else (now - datetime.timedelta(hours=1),
                                       now + datetime.timedelta(days=2)))
        with open(self.path(name, "ext"), "w") as extensions:
            extensions.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                             "extendedKeyUsage=serverAuth\n" % _alt_names(hosts))
        await self._openssl("ca", "-batch", "-notext", "-config", self.path(ca, "cnf"),
                            "-in", self.path(name, "csr"), "-out", self.path(name),
                            "-startdate", _stamp(start), "-enddate", _stamp(end),
                            "-extfile", self.path(name, "ext"))

    async def self_signed(self, name, hosts=HOSTS):
        """A server certificate that signs itself (no CA vouches for it)."""
        await self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", self.path(name, "key"), "-out", self.path(name),
                            "-days", "2", "-subj", "/CN=%s" % hosts[0],
                            "-addext", "subjectAltName=%s" % _alt_names(hosts))

    def gateway_args(self, name):
        """The gateway flags that serve wss:// with this certificate."""
        return ["--tls-cert", self.path(name), "--tls-key", self.path(name, "key")]

    def context(self, ca):
        """A client SSLContext that trusts only the CA `ca`, host names checked."""
        return ssl.create_default_context(cafile=self.path(ca))


def unverified_context():
    """A client SSLContext that checks nothing: only for asking a gateway
    whether it is up, never for what a test asserts about trust."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _der_fingerprint(der):
    """SHA-256 of a DER certificate as openssl writes it: AB:CD:..."""
    return ":".join("%02X" % byte for byte in hashlib.sha256(der).digest())


def fingerprint(path):
    """The fingerprint of the first certificate in a PEM file."""
    with open(path, encoding="ascii") as source:
        match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                          source.read(), re.S)
    assert match, "%s holds no PEM certificate" % path
    return _der_fingerprint(ssl.PEM_cert_to_DER_cert(match.group(0)))


async def served_fingerprint(port, host="127.0.0.1", timeout=10.0):
    """The fingerprint of the certificate a TLS server presents, trusted
    or not (only compared, never relied upon)."""
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host, port, ssl=unverified_context(),
                                                  server_hostname="localhost")
    try:
        return _der_fingerprint(writer.get_extra_info("ssl_object").getpeercert(True))
    finally:
        writer.close()


async def tls_init(store, given):
    """deploy/tls-init.sh with its store and given folder here, the files
    handed to whoever runs the tests; returns (exit code, output)."""
    env = {"PATH": "/usr/bin:/bin", "GROUPCHAT_TLS_STORE": store,
           "GROUPCHAT_TLS_GIVEN": given,
           "GROUPCHAT_TLS_OWNER": pwd.getpwuid(os.getuid()).pw_name}
    code, out, _ = await run_command(["sh", TLS_INIT], env, 30, merge_output=True)
    return code, out
