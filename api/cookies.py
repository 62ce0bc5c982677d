"""The signed session cookie and its CSRF token: a pure format, no I/O except loading the secret.

Cookie value: ``base64url(payload JSON) "." base64url(HMAC-SHA256(secret, DOMAIN || payload_b64))``.
The payload holds the session id (128 random bits, fresh per sign-in), when it was issued and when it
expires.  The MAC lets a forged or altered cookie be refused before any database lookup; whether the
session is still live is the server's record (``storage/web_sessions.py``), so signing out ends it
everywhere, not just in one browser.  The CSRF token of a session is ``HMAC-SHA256(secret, "csrf:" ||
session id)``: it changes with every sign-in and cannot be computed without the server's secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET_FILE = "web-session.key"
SECRET_BYTES = 32
SESSION_ID_BYTES = 16
#: v2: the payload names a server-side session, not a principal (v1 cookies no longer verify).
_DOMAIN = b"custody web session v2\n"
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # 32 hex digits; the server keeps only a hash of it
    issued_at: int  # unix seconds
    expires_at: int  # unix seconds

    @property
    def nonce(self) -> str:
        """What the session's CSRF token is derived from: its id, so the token is bound to this sign-in."""
        return self.id


class SessionCodec:
    """Signs, reads and checks session cookies and CSRF tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"the session secret must be at least {SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._secret, b"".join(parts), hashlib.sha256).digest()

    def issue(self, lifetime_s: int, *, now: float | None = None) -> Session:
        """A new session id, valid for ``lifetime_s`` seconds from ``now``."""
        issued = int(time.time() if now is None else now)
        return Session(secrets.token_hex(SESSION_ID_BYTES), issued, issued + lifetime_s)

    def encode(self, session: Session) -> str:
        payload = json.dumps({"sid": session.id, "iat": session.issued_at, "exp": session.expires_at},
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
            session = Session(str(payload["sid"]), int(payload["iat"]), int(payload["exp"]))
        except (KeyError, TypeError, ValueError):
            return None
        if not _SESSION_ID.fullmatch(session.id):
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
