"""Every web route passes here: a live session, one of the route's roles, a CSRF token on each POST.

Pages answer failures as pages (the sign-in redirect, a 403 or 404 page); data routes (JSON, evidence
bytes) answer as the API does, through the JSON error middleware.  The principal is put under the
same ``PRINCIPAL`` key the API uses, so API handlers and their logging work unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

from aiohttp import web

from api.access import require_read
from api.appkeys import PRINCIPAL, WEB_SESSION, WEB_SESSIONS
from api.cookies import Session
from api.errors import http_status
from api.web import i18n
from api.web.render import PAGE_HEADERS, error_page
from api.web.restriction import restricted_page
from api.web.session import csrf_refused, current, signed_out
from foundation.errors import Forbidden, Unauthenticated
from policy.errors import Restricted
from services.errors import USER_ERRORS

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Kind = Literal["page", "data"]
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "_csrf"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def guard(roles: Iterable[str] | None, handler: Handler, kind: Kind = "page", *,
          need_to_know: bool = True) -> Handler:
    """Wrap a web handler: ``roles`` None means no session is needed (the sign-in page only).

    On a route whose path names ``{case}`` the user must also be allowed to read the case (RULES §三,
    ``api.access``); a page answers a refusal with the restricted-case page.  ``need_to_know=False``
    leaves that to the handler (the forms that manage a case's access).
    """
    allowed = None if roles is None else frozenset(roles)

    async def guarded(request: web.Request) -> web.StreamResponse:
        if allowed is not None:
            signed = await current(request)
            if signed is None:
                if kind == "data":
                    raise Unauthenticated("sign in first: no valid session")
                return signed_out(request)
            session, principal = signed
            request[PRINCIPAL] = principal
            request[WEB_SESSION] = session
            if principal.role not in allowed:
                if kind == "data":
                    raise Forbidden(f"role {principal.role!r} may not call {request.method} {request.path}")
                return error_page(request, 403, _t(request)("error.403"))
            if need_to_know and (refused := await _need_to_know(request, kind)) is not None:
                return refused
            if request.method not in ("GET", "HEAD") and not await csrf_ok(request, session):
                if kind == "data":
                    raise Forbidden("CSRF token missing or wrong (X-CSRF-Token)")
                return csrf_refused(request)
        if kind == "data":
            return await handler(request)
        try:
            return await handler(request)
        except Exception as exc:
            return failure_page(request, exc)

    guarded.__name__ = getattr(handler, "__name__", "guarded")
    guarded.__doc__ = handler.__doc__
    return guarded


async def _need_to_know(request: web.Request, kind: Kind) -> web.StreamResponse | None:
    """None when the route names no case or the user may read it; else the restricted-case page
    (a data route raises, and answers JSON like the API)."""
    if "case" not in request.match_info:
        return None
    try:
        await require_read(request, request.match_info["case"])
    except Restricted as exc:
        if kind == "data":
            raise
        return restricted_page(request, exc)
    return None


async def csrf_ok(request: web.Request, session: Session) -> bool:
    """The session's CSRF token, from the X-CSRF-Token header (fetch) or the ``_csrf`` form field."""
    given: object = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in _FORMS:
        given = (await request.post()).get(CSRF_FIELD)
    return request.app[WEB_SESSIONS].csrf_ok(session.nonce, given if isinstance(given, str) else None)


def failure_page(request: web.Request, exc: Exception) -> web.Response:
    """A page for an error a page handler raised: domain errors keep their status and message."""
    t = _t(request)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return web.Response(status=exc.status, headers={**exc.headers, **PAGE_HEADERS})
        return error_page(request, exc.status, t(f"error.{exc.status}") if exc.status in (403, 404) else exc.reason)
    if isinstance(exc, Restricted):
        return restricted_page(request, exc)
    if isinstance(exc, USER_ERRORS):
        status = http_status(exc)
        if status >= 500:
            logger.error("%s on %s %s: %s", exc.code, request.method, request.path, exc)
            return error_page(request, status, t("error.500"))
        message = str(exc)
        return error_page(request, status, f"{t('error.404')} {message}" if status == 404 else message)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(request, 500, t("error.500"))


def _t(request: web.Request) -> i18n.Translator:
    return i18n.translator(i18n.choose(request))
