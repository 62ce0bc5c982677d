"""Administration: users and stations with their tokens, web sessions, and the signing key.

A token is shown once, on the page that answers its creation or reissue, and is neither stored nor
logged; revoking or reissuing it ends the principal's API access and its web sessions.  An admin can
also end one web session, or all of a user's ("sign out everywhere"), without touching the token.
"""

from __future__ import annotations

from collections import Counter

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, SETTINGS, WEB_HOLDERS, WEB_SESSION
from api.errors import http_status
from api.web import i18n
from api.web.render import page, redirect
from api.web.session import idle_timeout, now
from policy.people import ProfileError, check_profile
from services import accounts
from storage import principals, web_sessions
from storage.principals import ROLES, Account, PrincipalError


async def admin_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    locker = request.app[LOCKER]
    signer = locker.log.signer
    settings = request.app[SETTINGS]
    t = i18n.translator(i18n.choose(request))
    accounts = await principals.accounts(locker.pool)
    sessions = await web_sessions.listing(locker.pool, now=now(request), idle=idle_timeout(request))
    live = Counter(s.principal for s in sessions)
    return page(request, "admin.html", {
        "accounts": accounts, "roles": ROLES, "error": error, "notice": _notice(request, t, accounts, live),
        "sessions": sessions, "live": live, "this_session": web_sessions.session_key(request[WEB_SESSION].id).hex(),
        "idle_minutes": settings.session_idle_minutes, "session_hours": settings.session_hours,
        "key": {"name": signer.name, "id": signer.key_id.hex(), "vkey": signer.vkey, "vkeys": locker.keys.vkeys(),
                "origin": locker.log.host},
    }, status=status)


def _notice(request: web.Request, t: i18n.Translator, accounts: list[Account], live: Counter[str]) -> str:
    """What the action that redirected here did, if the state bears it out (a crafted link claims nothing)."""
    if request.method != "GET":
        return ""
    revoked, signed_out = request.query.get("revoked", ""), request.query.get("signed_out", "")
    profile = request.query.get("profile", "")
    if any(a.name == profile for a in accounts):
        return t("people.saved", name=profile)
    if any(a.name == revoked and a.revoked_at for a in accounts):
        return t("admin.revoked_done", name=revoked)
    if any(a.name == signed_out for a in accounts) and not live[signed_out]:
        return t("admin.signed_out_done", name=signed_out)
    return ""


async def show(request: web.Request) -> web.StreamResponse:
    return await admin_page(request)


async def add(request: web.Request) -> web.StreamResponse:
    """Create a user or station (with its display name, badge number and unit); answer with its token, this once."""
    form = await request.post()
    name, role = _text(form.get("name")).strip(), _text(form.get("role")).strip()
    shown = {k: _text(form.get(k)) for k in ("display_name", "badge_no", "unit")}
    locker = request.app[LOCKER]
    try:
        check_profile(**shown)  # refused before the principal exists, not after
        principal, token = await accounts.add(locker, name, role, who=request[PRINCIPAL])
        if any(v.strip() for v in shown.values()):
            await accounts.set_profile(locker, principal.name, who=request[PRINCIPAL], **shown)
    except ProfileError as exc:
        return await admin_page(request, error=_profile_message(request, exc), status=http_status(exc))
    except PrincipalError as exc:
        return await admin_page(request, error=str(exc), status=http_status(exc))
    return page(request, "token.html", {"name": principal.name, "role": principal.role, "token": token})


async def edit_profile(request: web.Request) -> web.StreamResponse:
    """Change a user's display name, badge number (执法证号) or unit; logged in the governance log."""
    name = request.match_info["name"]
    form = await request.post()
    try:
        await accounts.set_profile(request.app[LOCKER], name, who=request[PRINCIPAL],
                                   **{k: _text(form.get(k)) for k in ("display_name", "badge_no", "unit")})
    except ProfileError as exc:
        return await admin_page(request, error=_profile_message(request, exc), status=http_status(exc))
    return redirect(str(URL("/admin").with_query(profile=name)) + "#principals")


def _profile_message(request: web.Request, exc: ProfileError) -> str:
    """A refused display field or login name, said in the page's language."""
    t = i18n.translator(i18n.choose(request))
    return t(f"people.{exc.field}.{exc.problem}")


async def revoke(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    await accounts.revoke(request.app[LOCKER], name, who=request[PRINCIPAL])
    await _end_sessions_of(request, name)
    return redirect(str(URL("/admin").with_query(revoked=name)))


async def reissue(request: web.Request) -> web.StreamResponse:
    """A new token for ``name``; the old one, and every session started with it, stop working."""
    name = request.match_info["name"]
    token = await accounts.reissue(request.app[LOCKER], name, who=request[PRINCIPAL])
    await _end_sessions_of(request, name)
    holder = await principals.by_name(request.app[LOCKER].pool, name)
    role = holder.principal.role if holder else ""
    return page(request, "token.html", {"name": name, "role": role, "token": token})


async def sign_out_everywhere(request: web.Request) -> web.StreamResponse:
    """End every web session of ``name``; the token keeps working for a new sign-in."""
    name = request.match_info["name"]
    await _end_sessions_of(request, name)
    return redirect(str(URL("/admin").with_query(signed_out=name)))


async def end_session(request: web.Request) -> web.StreamResponse:
    """End one web session, named by its key on this page (the form's ``session`` field)."""
    try:
        key = bytes.fromhex(_text((await request.post()).get("session")))
    except ValueError:
        key = b""
    if not key:
        raise web.HTTPBadRequest()
    name = await web_sessions.revoke(request.app[LOCKER].pool, key, now=now(request), by=request[PRINCIPAL].actor)
    if name is None:
        raise web.HTTPNotFound()
    request.app[WEB_HOLDERS].forget_principal(name)
    return redirect("/admin#web-sessions")


async def _end_sessions_of(request: web.Request, name: str) -> None:
    """Revoke the session rows too (revoking the token alone already ends them), so the record says who."""
    await web_sessions.revoke_all(request.app[LOCKER].pool, name, now=now(request), by=request[PRINCIPAL].actor)
    request.app[WEB_HOLDERS].forget_principal(name)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
