"""The signed session cookie and its CSRF token: a pure format, no I/O except loading the secret.

Cookie value: ``base64url(payload JSON) "." base64url(HMAC-SHA256(secret, DOMAIN || payload_b64))``.
The payload names the principal and role, when it was issued and expires, a random nonce, and a tag
of the token used to sign in (so reissuing or revoking that token ends the session).  The CSRF token
of a session is ``HMAC-SHA256(secret, "csrf:" || nonce)``: it changes with every sign-in and cannot
be computed without the server's secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET_FILE = "web-session.key"
SECRET_BYTES = 32
#: A session lasts one working day at most; the principal is re-checked on every request anyway.
SESSION_SECONDS = 12 * 3600
_DOMAIN = b"custody web session v1\n"
_TOKEN_TAG = b"custody web token tag v1\n"


@dataclass(frozen=True, slots=True)
class Session:
    name: str
    role: str
    issued_at: int  # unix seconds
    expires_at: int  # unix seconds
    nonce: str  # 32 hex digits, fresh per sign-in
    token_tag: str  # hex HMAC of the sign-in token's hash: a reissued or revoked token ends the session


class SessionCodec:
    """Signs, reads and checks session cookies and CSRF tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"the session secret must be at least {SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._secret, b"".join(parts), hashlib.sha256).digest()

    def token_tag(self, token_hash: bytes) -> str:
        return self._mac(_TOKEN_TAG, token_hash)[:16].hex()

    def issue(self, name: str, role: str, token_hash: bytes, *, now: float | None = None) -> Session:
        issued = int(time.time() if now is None else now)
        return Session(name, role, issued, issued + SESSION_SECONDS, secrets.token_hex(16),
                       self.token_tag(token_hash))

    def encode(self, session: Session) -> str:
        payload = json.dumps({"n": session.name, "r": session.role, "iat": session.issued_at,
                              "exp": session.expires_at, "nonce": session.nonce, "tok": session.token_tag},
                             separators=(",", ":"), sort_keys=True).encode()
        body = _b64(payload)
        return f"{body}.{_b64(self._mac(_DOMAIN, body.encode()))}"

    def decode(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session in a cookie value, or None if it is missing, forged, malformed or expired."""
        if not value or len(value) > 1024 or value.count(".") != 1:
            return None
        body, _, mac = value.partition(".")
        try:
            given = _unb64(mac)
            payload: Any = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(given, self._mac(_DOMAIN, body.encode())):
            return None
        try:
            session = Session(str(payload["n"]), str(payload["r"]), int(payload["iat"]), int(payload["exp"]),
                              str(payload["nonce"]), str(payload["tok"]))
        except (KeyError, TypeError, ValueError):
            return None
        moment = time.time() if now is None else now
        if not session.issued_at - 60 <= moment < session.expires_at:  # a minute of clock skew between servers
            return None
        return session

    def csrf(self, nonce: str) -> str:
        return self._mac(b"csrf:", nonce.encode()).hex()

    def csrf_ok(self, nonce: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(nonce).encode(), (given or "").encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(keys_dir: Path) -> bytes:
    """The session secret in ``keys_dir/web-session.key`` (0600), made on first use.

    Servers sharing the keys folder start together: each writes its own temp file and links it into
    place; the loser of the race drops its secret and reads the winner's, so all agree.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / SECRET_FILE
    if not path.exists():
        tmp = keys_dir / f".{SECRET_FILE}.{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(SECRET_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass  # another server made it first: use theirs
        finally:
            tmp.unlink()
    secret = path.read_bytes()
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path} holds {len(secret)} bytes; a session secret needs {SECRET_BYTES}")
    return secret
