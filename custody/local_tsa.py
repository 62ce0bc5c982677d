"""A real, local RFC 3161 time-stamping authority for the demo and the tests: ``openssl ts -reply``.

Not a trusted time source: a bureau's own TSA proves nothing to an outsider (production names a
public or accredited TSA in ``CUSTODY_TSA_URLS``).  It shows the mechanism end to end on one machine.

``make_tsa`` makes a test root CA and a TSA certificate it issues (critical extendedKeyUsage
timeStamping, as RFC 3161 §2.3 asks) with the ``openssl`` command; ``serve_tsa`` answers
``application/timestamp-query`` POSTs on loopback by running ``openssl ts -reply`` on each query.
Nothing is mocked: the tokens are OpenSSL's, the client is ``rfc3161-client``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_tsa ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class LocalTsa:
    directory: Path
    ca_pem: Path  # the root a verifier trusts (--tsa-cert)
    tsa_pem: Path  # the TSA's own certificate, issued by the root
    key: Path
    config: Path

    def reply(self, query: bytes) -> bytes:
        """``openssl ts -reply`` for one DER query."""
        qfile = self.directory / f"q-{uuid.uuid4().hex}.tsq"
        rfile = qfile.with_suffix(".tsr")
        qfile.write_bytes(query)
        try:
            subprocess.run(["openssl", "ts", "-reply", "-config", str(self.config), "-queryfile", str(qfile),
                            "-signer", str(self.tsa_pem), "-inkey", str(self.key), "-out", str(rfile)],
                           check=True, capture_output=True, timeout=30)
            return rfile.read_bytes()
        finally:
            qfile.unlink(missing_ok=True)
            rfile.unlink(missing_ok=True)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed P-256 root CA: (certificate, key)."""
    directory = directory.resolve()  # openssl runs in it: relative paths would be read twice over
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "openssl.cnf"
    config.write_text(CONFIG.format(serial=directory / "serial"))
    cert, key = directory / "ca.pem", directory / "ca.key"
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "3650", "-config", str(config),
             "-extensions", "v3_ca", "-subj", f"/CN={name}", cwd=directory)
    return cert, key


def make_tsa(directory: Path, name: str = "Custody Test TSA") -> LocalTsa:
    """A root CA and a TSA certificate it issued, in ``directory``."""
    directory = directory.resolve()
    ca_pem, ca_key = make_ca(directory, f"{name} Root")
    config = directory / "openssl.cnf"
    (directory / "serial").write_text("01\n")
    key, csr, cert = directory / "tsa.key", directory / "tsa.csr", directory / "tsa.pem"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
             "-out", str(csr), "-subj", f"/CN={name}", "-config", str(config), cwd=directory)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "3650", "-extfile", str(config), "-extensions", "v3_tsa", cwd=directory)
    return LocalTsa(directory, ca_pem, cert, key, config)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve_tsa(tsa: LocalTsa) -> AsyncIterator[str]:
    """The TSA over HTTP on loopback (RFC 3161 §3.4); yields its URL."""

    async def handle(request: web.Request) -> web.Response:
        if request.content_type != "application/timestamp-query":
            return web.Response(status=415)
        answer = await asyncio.to_thread(tsa.reply, await request.read())
        return web.Response(body=answer, content_type="application/timestamp-reply")

    app = web.Application()
    app.router.add_post("/tsa", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/tsa"
    finally:
        await runner.cleanup()
