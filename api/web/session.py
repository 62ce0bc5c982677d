"""Signing in to the web pages with a bearer token, the session it starts, and signing out.

The token is checked once, at sign-in, and never stored: the browser gets a signed cookie carrying a
random session id (see ``cookies.py``), and the server records the session (``storage/web_sessions.py``).
Every request checks that record (through a few seconds' cache): not signed out or revoked by an admin,
not idle longer than ``CUSTODY_SESSION_IDLE_MINUTES``, not older than ``CUSTODY_SESSION_HOURS``, and its
principal still active with the token it signed in with.  So signing out ends a copied cookie too, and
revoking or reissuing a token ends its sessions.  Stations have tokens but no pages: refused here.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, SETTINGS, WEB_HOLDERS, WEB_SESSION, WEB_SESSIONS
from api.auth import check_token
from api.client import client_address
from api.cookies import Session
from api.web import i18n
from api.web.nav import home_of
from api.web.render import error_page, page, redirect
from storage import principals, web_sessions
from storage.principals import Principal

SESSION_COOKIE = "custody_session"
#: Holds the nonce of a sign-in form, so a form posted from another site fails its CSRF check.
SIGNIN_COOKIE = "custody_signin"
SIGNIN_FORM_SECONDS = 30 * 60
SIGNIN_PREFIX = "signin:"  # a sign-in form's CSRF token can never pass for a session's




def now(request: web.Request) -> dt.datetime:
    """The sessions' clock, as a time."""
    return _moment(request.app[WEB_HOLDERS].clock())


def idle_timeout(request: web.Request) -> dt.timedelta:
    return dt.timedelta(minutes=request.app[SETTINGS].session_idle_minutes)


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


async def current(request: web.Request) -> tuple[Session, Principal] | None:
    """The signed-in session and its (still active) principal, or None."""
    clock = request.app[WEB_HOLDERS].clock()
    session = request.app[WEB_SESSIONS].decode(request.cookies.get(SESSION_COOKIE), now=clock)
    if session is None:
        return None  # missing, forged, altered or past its expiry: refused without a database lookup
    live = await request.app[WEB_HOLDERS].lookup(request.app[LOCKER].pool, session.id, _moment(clock),
                                                 idle_timeout(request))
    if live is None or live.principal.role == "station":
        return None  # signed out, revoked, idle too long, or its token revoked or reissued: sign in again
    return session, live.principal


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
    principal = await check_token(request, token) if token else None
    if principal is None:
        return _form(request, nxt, "signin.bad_token", status=401)
    if principal.role == "station":
        return _form(request, nxt, "signin.station", status=403)
    session = await _start(request, principal, token)
    response = redirect(nxt or home_of(principal.role))
    response.set_cookie(SESSION_COOKIE, codec.encode(session), max_age=session.expires_at - session.issued_at,
                        path="/", httponly=True, samesite="Strict", secure=request.secure)
    response.del_cookie(SIGNIN_COOKIE, path="/signin")
    return response


async def _start(request: web.Request, principal: Principal, token: str) -> Session:
    """Issue a session id and record the session for ``principal``."""
    clock = request.app[WEB_HOLDERS].clock()
    session = request.app[WEB_SESSIONS].issue(request.app[SETTINGS].session_hours * 3600, now=clock)
    await web_sessions.start(request.app[LOCKER].pool, session.id, principal.name, principals.hash_token(token),
                             now=_moment(clock), expires_at=_moment(session.expires_at),
                             user_agent=request.headers.get("User-Agent", ""), remote_addr=client_address(request))
    return session


async def signout(request: web.Request) -> web.StreamResponse:
    """End the session (the guard has checked its CSRF token): everywhere, so a copied cookie dies too."""
    session = request[WEB_SESSION]
    await web_sessions.end(request.app[LOCKER].pool, session.id, now=now(request), by=request[PRINCIPAL].actor)
    request.app[WEB_HOLDERS].forget(session.id)
    response = redirect("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def csrf_refused(request: web.Request) -> web.Response:
    return error_page(request, 403, i18n.translator(i18n.choose(request))("error.csrf"))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
