"""Rendering pages: the shared context every template gets, the template filters, security headers.

Templates are autoescaped; they get ``t`` (the request's language), the signed-in principal, the
session's CSRF token, the navigation for the role, and language-switch links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from yarl import URL

from api.appkeys import PRINCIPAL, SETTINGS, WEB_SESSION, WEB_SESSIONS
from api.web import i18n
from api.web.nav import nav_for

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

#: Scripts only from this server (no inline script anywhere); WebAssembly for in-browser BLAKE3;
#: no framing, no plugins, forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # case numbers in URLs stay on this site
    "Cache-Control": "no-store",
}


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                               undefined=jinja2.StrictUndefined, default_helpers=False)
    env.filters.update({"size": human_size, "short": short_hash, "when": _when_here})


def page(request: web.Request, template: str, context: Mapping[str, Any] | None = None, *,
         status: int = 200) -> web.Response:
    """Render ``template`` with the shared context; a ``?lang=`` switch is remembered in a cookie."""
    lang = i18n.choose(request)
    principal = request.get(PRINCIPAL)
    session = request.get(WEB_SESSION)
    csrf = request.app[WEB_SESSIONS].csrf(session.nonce) if session is not None else ""
    switch = "en" if lang == "zh" else "zh"
    here = request.rel_url if request.method == "GET" else URL("/")
    nav = nav_for(principal.role) if principal is not None else []
    # The current item is the longest that holds this path (/admin/retention is not also /admin).
    held = [item.path for item in nav if request.path == item.path or request.path.startswith(item.path + "/")]
    base = {
        "t": i18n.translator(lang), "lang": lang, "principal": principal, "csrf": csrf,
        "nav": nav, "current_nav": max(held, key=len, default=""), "path": request.path,
        "switch_lang": switch, "switch_href": str(here.update_query(lang=switch)),
        "zone": request.app[SETTINGS].zone,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **(context or {})}, status=status)
    response.headers.update(PAGE_HEADERS)
    if request.query.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=i18n.LANG_COOKIE_SECONDS, path="/", httponly=True,
                            samesite="Lax", secure=request.secure)
    return response


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return page(request, "error.html", {"status": status, "message": message}, status=status)


def redirect(location: str) -> web.Response:
    """303 See Other (a POST's answer becomes a GET), as a plain response so the request log shows 303."""
    return web.Response(status=303, headers={"Location": location, **PAGE_HEADERS})


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def short_hash(value: str | None, length: int = 12) -> str:
    return (value or "")[:length]


@jinja2.pass_context
def _when_here(context: jinja2.runtime.Context, value: dt.datetime | str | None) -> str:
    """The ``when`` filter: in the configured zone (``CUSTODY_TIMEZONE``) the page context carries."""
    return when(value, context.get("zone") or dt.UTC)


def when(value: dt.datetime | str | None, zone: dt.tzinfo = dt.UTC) -> str:
    """A time in ``zone`` as ``YYYY-MM-DD HH:MM:SS UTC+08:00`` (``UTC`` in UTC); entries carry RFC 3339
    strings, rows datetimes.  The log and the API keep UTC; only the pages show local time."""
    if value is None or value == "":
        return ""
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # a camera's claim we cannot parse is shown as it was recorded
    assert isinstance(moment, dt.datetime)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(zone)
    offset = local.utcoffset() or dt.timedelta(0)
    if not offset:
        return local.strftime("%Y-%m-%d %H:%M:%S UTC")
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return local.strftime("%Y-%m-%d %H:%M:%S") + f" UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
