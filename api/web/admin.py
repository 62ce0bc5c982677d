"""Administration: users and stations with their tokens, and the signing key.

A token is shown once, on the page that answers its creation or reissue, and is neither stored nor
logged; revoking ends the principal's API access and its web sessions.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, WEB_HOLDERS
from api.web import i18n
from api.web.render import page, redirect
from storage import principals
from storage.principals import ROLES, PrincipalError


async def admin_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    locker = request.app[LOCKER]
    signer = locker.log.signer
    t = i18n.translator(i18n.choose(request))
    accounts = await principals.accounts(locker.pool)
    done = request.query.get("revoked", "") if request.method == "GET" else ""
    revoked = any(a.name == done and a.revoked_at for a in accounts)
    return page(request, "admin.html", {
        "accounts": accounts, "roles": ROLES, "error": error,
        "notice": t("admin.revoked_done", name=done) if revoked else "",
        "key": {"name": signer.name, "id": signer.key_id.hex(), "vkey": signer.vkey, "vkeys": locker.keys.vkeys(),
                "origin": locker.log.host},
    }, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await admin_page(request)


async def add(request: web.Request) -> web.StreamResponse:
    """Create a user or station; answer with its token, this once."""
    form = await request.post()
    name, role = _text(form.get("name")).strip(), _text(form.get("role")).strip()
    try:
        principal, token = await principals.add_principal(request.app[LOCKER].pool, name, role,
                                                          request[PRINCIPAL].actor)
    except PrincipalError as exc:
        return await admin_page(request, error=str(exc), status=exc.status)
    return page(request, "token.html", {"name": principal.name, "role": principal.role, "token": token})


async def revoke(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    await principals.revoke(request.app[LOCKER].pool, name)
    request.app[WEB_HOLDERS].forget(name)
    return redirect(str(URL("/admin").with_query(revoked=name)))


async def reissue(request: web.Request) -> web.StreamResponse:
    """A new token for ``name``; the old one, and every session started with it, stop working."""
    name = request.match_info["name"]
    token = await principals.reissue_token(request.app[LOCKER].pool, name)
    request.app[WEB_HOLDERS].forget(name)
    holder = await principals.by_name(request.app[LOCKER].pool, name)
    role = holder.principal.role if holder else ""
    return page(request, "token.html", {"name": name, "role": role, "token": token})


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
