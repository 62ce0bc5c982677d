"""Signing in to the web pages with a bearer token, the session it starts, and signing out.

The token is checked once, at sign-in, and never stored: the browser gets a signed cookie naming
the principal (see ``cookies.py``).  On every request the principal is looked up again by name (a
few seconds' cache), so revoking or reissuing the token ends its sessions.  Stations have tokens but
no pages: their tokens are refused here.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, WEB_HOLDERS, WEB_SESSIONS
from api.web import i18n
from api.web.cookies import SESSION_SECONDS, Session
from api.web.nav import home_of
from api.web.render import error_page, page, redirect
from storage import principals
from storage.principals import Principal, TokenHolder

SESSION_COOKIE = "custody_session"
#: Holds the nonce of a sign-in form, so a form posted from another site fails its CSRF check.
SIGNIN_COOKIE = "custody_signin"
SIGNIN_FORM_SECONDS = 30 * 60
SIGNIN_PREFIX = "signin:"  # a sign-in form's CSRF token can never pass for a session's
#: How long a principal looked up by name is trusted: revocation reaches every session within this.
HOLDER_CACHE_SECONDS = 5.0


class HolderCache:
    """Name -> active principal and token hash (or None) for a few seconds."""

    def __init__(self, ttl_s: float = HOLDER_CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, TokenHolder | None]] = {}

    async def lookup(self, request: web.Request, name: str) -> TokenHolder | None:
        hit = self._entries.get(name)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        holder = await principals.by_name(request.app[LOCKER].pool, name)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[name] = (time.monotonic() + self.ttl_s, holder)
        return holder

    def forget(self, name: str) -> None:
        """Drop a cached lookup: this process sees a revocation at once."""
        self._entries.pop(name, None)


async def current(request: web.Request) -> tuple[Session, Principal] | None:
    """The signed-in session and its (still active) principal, or None."""
    codec = request.app[WEB_SESSIONS]
    session = codec.decode(request.cookies.get(SESSION_COOKIE))
    if session is None or session.role == "station":
        return None
    holder = await request.app[WEB_HOLDERS].lookup(request, session.name)
    if (holder is None or holder.principal.role != session.role
            or codec.token_tag(holder.token_hash) != session.token_tag):
        return None  # revoked, reissued, or the role changed: sign in again
    return session, holder.principal


def safe_next(value: str | None) -> str | None:
    """A same-site relative path to go to after sign-in, or None (never another host)."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 0x21 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/signin", "/signout"):
        return None
    return value


def signed_out(request: web.Request) -> web.Response:
    """Where a request without a valid session goes: the sign-in page, then back here (GETs only)."""
    target = "/signin"
    if request.method == "GET" and safe_next(request.path_qs):
        target = str(URL("/signin").with_query(next=request.path_qs))
    response = redirect(target)
    if SESSION_COOKIE in request.cookies:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    """``/``: the signed-in role's start page."""
    return redirect(home_of(request[PRINCIPAL].role))


async def signin_form(request: web.Request) -> web.StreamResponse:
    signed = await current(request)
    nxt = safe_next(request.query.get("next"))
    if signed is not None:
        return redirect(nxt or home_of(signed[1].role))
    return _form(request, nxt)


def _form(request: web.Request, nxt: str | None, error: str | None = None, status: int = 200) -> web.Response:
    nonce = secrets.token_hex(16)
    response = page(request, "signin.html", {"next": nxt or "", "error": error,
                                             "signin_csrf": request.app[WEB_SESSIONS].csrf(SIGNIN_PREFIX + nonce)},
                    status=status)
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=SIGNIN_FORM_SECONDS, path="/signin", httponly=True,
                        samesite="Strict", secure=request.secure)
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    """Check the token once; start a session for a staff principal."""
    form = await request.post()
    codec = request.app[WEB_SESSIONS]
    nxt = safe_next(_text(form.get("next")))
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not codec.csrf_ok(SIGNIN_PREFIX + nonce, _text(form.get("_csrf"))):
        return _form(request, nxt, "signin.expired_form", status=403)
    token = _text(form.get("token")).strip()
    principal = await principals.by_token(request.app[LOCKER].pool, token) if token else None
    if principal is None:
        return _form(request, nxt, "signin.bad_token", status=401)
    if principal.role == "station":
        return _form(request, nxt, "signin.station", status=403)
    session = codec.issue(principal.name, principal.role, principals.hash_token(token))
    request.app[WEB_HOLDERS].forget(principal.name)
    response = redirect(nxt or home_of(principal.role))
    response.set_cookie(SESSION_COOKIE, codec.encode(session), max_age=SESSION_SECONDS, path="/", httponly=True,
                        samesite="Strict", secure=request.secure)
    response.del_cookie(SIGNIN_COOKIE, path="/signin")
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    """End the session in this browser (the guard has checked its CSRF token)."""
    response = redirect("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def csrf_refused(request: web.Request) -> web.Response:
    return error_page(request, 403, i18n.translator(i18n.choose(request))("error.csrf"))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
