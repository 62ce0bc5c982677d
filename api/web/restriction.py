"""Restricted-access cases in the staff pages (RULES §三): the 403 page, and the forms that change a
case's level and grant or revoke access.

The forms go through ``services.restriction`` exactly as the API's twin does (``api/restriction.py``),
so the rules and the ``access.*`` log entries are the same.  Like the API's, these routes apply the
rules themselves: an administrator without a grant reaches them from the 403 page to grant
themselves access, with a reason.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from api.access import ACCESS
from api.appkeys import LOCKER, PRINCIPAL
from api.web import forms, i18n
from api.web.cases import case_view
from api.web.forms import Refused
from api.web.render import error_page, page, redirect
from policy.errors import Restricted
from policy.restriction import notice
from services import handover, restriction

REASON_MAX_CHARS = 2000
PRINCIPAL_MAX_CHARS = 64


def restricted_page(request: web.Request, refused: Restricted, *, error: str | None = None,
                    status: int = 403) -> web.Response:
    """Why the case is closed to this user (its level), whom to ask, and for an admin the self-grant form."""
    if refused.case_id is None:
        return error_page(request, status, str(refused))
    lang = i18n.choose(request)
    said = notice(refused.level)
    return page(request, "restricted.html", {
        "case_id": refused.case_id, "level": refused.level, "handler": refused.handler or "",
        "notice": said[lang] if said else "", "can_self_grant": request[PRINCIPAL].role == "admin",
        "error": error,
    }, status=status)


async def _answer(request: web.Request, case_id: str, result: object, done: str) -> web.StreamResponse:
    """Onward to the case page, or the refusal shown where this user can see it."""
    request.app[ACCESS].forget(case_id)  # whatever happened, this process asks afresh
    if not isinstance(result, Refused):
        return redirect(str(URL(f"/cases/{case_id}").with_query(done=done)))
    who = request[PRINCIPAL]
    state = await restriction.access(request.app[LOCKER].pool, case_id, who.name)
    if state is None:
        return error_page(request, 404, result.message)
    if state.may_read(who.id):
        return await case_view(request, case_id, error=result.message, status=result.status)
    return restricted_page(request, Restricted(state.level, case_id=case_id, handler=state.handler),
                           error=result.message, status=result.status)


async def set_level(request: web.Request) -> web.StreamResponse:
    """Raise (someone who may read the case) or lower (an admin) the case's level, with a reason."""
    case_id = request.match_info["case"]
    form = await request.post()
    who = request[PRINCIPAL]
    result = await forms.attempt(restriction.set_level(
        request.app[LOCKER], case_id, forms.text(form, "level", 20),
        who=who, reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, case_id, result, "restricted")


async def grant(request: web.Request) -> web.StreamResponse:
    """Grant a user access to the case (an admin may name themselves), with a reason."""
    case_id = request.match_info["case"]
    form = await request.post()
    who = request[PRINCIPAL]
    result = await forms.attempt(restriction.grant(
        request.app[LOCKER], case_id, forms.text(form, "principal", PRINCIPAL_MAX_CHARS),
        who=who, reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, case_id, result, "granted")


async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke a user's grant to the case, with a reason."""
    case_id = request.match_info["case"]
    form = await request.post()
    who = request[PRINCIPAL]
    result = await forms.attempt(restriction.revoke(
        request.app[LOCKER], case_id, request.match_info["principal"],
        who=who, reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, case_id, result, "grant_revoked")


async def hand_over(request: web.Request) -> web.StreamResponse:
    """Hand the case to another investigator (its handler or an admin), with a reason."""
    case_id = request.match_info["case"]
    form = await request.post()
    who = request[PRINCIPAL]
    result = await forms.attempt(handover.hand_over(
        request.app[LOCKER], case_id, forms.text(form, "to", PRINCIPAL_MAX_CHARS),
        who=who, reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, case_id, result, "handed_over")
