"""The publication check's findings for a disclosure record, and resolving them (mask / not personal data)."""

from __future__ import annotations

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import json_object, json_response, text_field
from services import publication_check


async def findings(request: web.Request) -> web.Response:
    """What in the record's public text may still be personal data, each with its clearance if any."""
    return json_response(await publication_check.suspects(
        request.app[LOCKER], request.match_info["id"], who=principal_of(request)))


async def resolve(request: web.Request) -> web.Response:
    """Resolve one finding: ``{"finding": token, "resolution": "mask" | "not_personal", "reason": …}``."""
    body = await json_object(request)
    result = await publication_check.resolve(
        request.app[LOCKER], request.match_info["id"],
        text_field(body, "finding", required=True, max_len=200) or "",
        resolution=text_field(body, "resolution", required=True, max_len=20) or "",
        reason=text_field(body, "reason", required=True, max_len=publication_check.REASON_MAX_CHARS) or "",
        who=principal_of(request))
    return json_response(result, status=201)
