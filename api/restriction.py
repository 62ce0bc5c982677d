"""Restricted-access cases over HTTP (RULES §三): a case's level, its grants, granting and revoking.

These routes apply the rules themselves (the route table marks them ``need_to_know=False``): an
administrator without a grant may still see who has access, grant it (themselves included) and lower
the level; everything else needs someone who may read the case.  Every change is logged in the case
log by ``services.restriction`` and drops this process's cached answers for the case.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.access import ACCESS, refusal
from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import json_object, json_response, text_field
from policy import restriction as policy
from services import restriction
from services.restriction import CaseAccess
from storage.log import CaseNotFound

REASON_MAX_CHARS = 2000


def describe(case_id: str, state: CaseAccess) -> dict[str, Any]:
    """A case's level with its labels, its handler, and the archiving notice a state secret needs."""
    answer: dict[str, Any] = {"case": case_id, "restriction": state.level,
                              "label": {"en": policy.label(state.level), "zh": policy.label(state.level, "zh")},
                              "handler": state.handler}
    if (said := policy.notice(state.level)) is not None:
        answer["notice"] = dict(said)
    return answer


def _reason(body: dict[str, Any]) -> str:
    return text_field(body, "reason", max_len=REASON_MAX_CHARS) or ""


async def _state(request: web.Request, case_id: str) -> CaseAccess:
    state = await restriction.access(request.app[LOCKER].pool, case_id, principal_of(request).name)
    if state is None:
        raise CaseNotFound(case_id)
    return state


async def get_access(request: web.Request) -> web.Response:
    """Level, handler and active grants: for those who may read the case, and administrators."""
    case_id = request.match_info["case"]
    who = principal_of(request)
    state = await _state(request, case_id)
    readable = state.may_read(who.id)
    if not readable and who.role != "admin":
        raise refusal(request, case_id, state)
    grants = await restriction.grants(request.app[LOCKER].pool, case_id)
    return json_response({**describe(case_id, state), "may_read": readable, "grants": [asdict(g) for g in grants]})


async def set_level(request: web.Request) -> web.Response:
    """Raise (someone who may read the case) or lower (an administrator) a case's level, with a reason."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    who = principal_of(request)
    previous, _ = await restriction.set_level(
        request.app[LOCKER], case_id, text_field(body, "level", required=True, max_len=20) or "",
        who=who, reason=_reason(body))
    request.app[ACCESS].forget(case_id)
    state = await _state(request, case_id)
    return json_response({**describe(case_id, state), "previous": previous})


async def add_grant(request: web.Request) -> web.Response:
    """Grant a user access to a case (not a station), with a reason."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    who = principal_of(request)
    grant = await restriction.grant(
        request.app[LOCKER], case_id, text_field(body, "principal", required=True, max_len=64) or "",
        who=who, reason=_reason(body))
    request.app[ACCESS].forget(case_id)
    return json_response(asdict(grant), status=201)


async def revoke_grant(request: web.Request) -> web.Response:
    """Revoke a user's grant, with a reason (other processes stop honouring it within the cache time)."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    who = principal_of(request)
    grant = await restriction.revoke(request.app[LOCKER], case_id, request.match_info["principal"],
                                     who=who, reason=_reason(body))
    request.app[ACCESS].forget(case_id)
    return json_response(asdict(grant))
