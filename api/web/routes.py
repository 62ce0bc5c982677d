"""The one web route table: method, path, handler, roles, and whether it answers as a page or data.

Role sets are the API's (``api.routes``), so a page never shows more than its API twin allows: staff
may open cases, only READERS may see evidence content, only INVESTIGATORS verify and export, only
ADMIN administers.  The role matrix test is driven from this table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from api import verify as api_verify
from api.routes import ADMIN, INVESTIGATORS, READERS, STAFF
from api.web import admin, cases, session, verify
from api.web.guard import Kind, guard
from api.web.render import STATIC_DIR

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...] | None  # None: no session needed (the sign-in page only)
    summary: str
    kind: Kind = "page"  # "page": HTML, signed-out -> sign-in redirect; "data": JSON/bytes, 401/403 JSON


WEB_ROUTES: tuple[WebRoute, ...] = (
    WebRoute("GET", "/", session.home, STAFF, "The role's start page"),
    WebRoute("GET", "/signin", session.signin_form, None, "Sign-in form"),
    WebRoute("POST", "/signin", session.signin, None, "Sign in with a user token; sets the session cookie"),
    WebRoute("POST", "/signout", session.signout, STAFF, "Sign out"),
    WebRoute("GET", "/cases", cases.search, STAFF, "Find cases by number, officer, station, dates"),
    WebRoute("GET", "/cases/{case}", cases.case_page, STAFF, "A case: checkpoint, evidence, records, timeline"),
    WebRoute("GET", "/cases/{case}/play/{blake3}", cases.player, READERS,
             "Ask the access reason, then play or download an object"),
    WebRoute("GET", "/cases/{case}/objects/{blake3}", cases.read_object, READERS,
             "Object bytes with HTTP Range; needs ?purpose=, logged as evidence.accessed", kind="data"),
    WebRoute("POST", "/cases/{case}/objects/{blake3}/verify", cases.verify_item, INVESTIGATORS,
             "Re-hash a stored object now", kind="data"),
    WebRoute("POST", "/cases/{case}/export", cases.export, INVESTIGATORS,
             "Download the case bundle with its media (needs a purpose; logged)"),
    WebRoute("GET", "/verify", verify.verify_page, STAFF, "Verify a file, hashed in the browser"),
    WebRoute("GET", "/ui/api/verify/{blake3}", api_verify.verify_hash, STAFF,
             "The API's verify-by-hash answer under the web session", kind="data"),
    WebRoute("GET", "/admin", admin.show, ADMIN, "Users, stations, tokens, signing key"),
    WebRoute("POST", "/admin/principals", admin.add, ADMIN, "Create a user or station; shows its token once"),
    WebRoute("POST", "/admin/principals/{name}/revoke", admin.revoke, ADMIN, "Revoke a token"),
    WebRoute("POST", "/admin/principals/{name}/reissue", admin.reissue, ADMIN,
             "Replace a token; shows the new one once"),
)


def add_web_routes(app: web.Application) -> None:
    app.router.add_routes([web.route(r.method, r.path, guard(r.roles, r.handler, r.kind)) for r in WEB_ROUTES])
    # Static assets only (stylesheet, scripts, vendored libraries): no case data behind them.
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
