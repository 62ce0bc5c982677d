"""Shares of a case with prosecutors and courts over HTTP: made, listed and revoked by staff.

The rules (who may share, need to know, expiry, limits) are ``services.shares``; a share's token is
in the answer to its creation only.  The recipient's side (``/s/{token}``) is ``api.web.shares``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import int_field, json_object, json_response, text_field
from foundation.errors import Invalid
from services import shares
from storage.shares import Share


def describe(share: Share) -> dict[str, Any]:
    """A share as the API and the pages show it (never its token)."""
    return {"id": share.id, "case": share.case_id, "items": list(share.items) if share.items is not None else None,
            "organisation": share.organisation, "person": share.person, "purpose": share.purpose,
            "expires_at": share.expires_at, "max_downloads": share.max_downloads, "downloads": share.downloads,
            "created_by": share.created_by, "created_at": share.created_at, "revoked_at": share.revoked_at,
            "revoked_by": share.revoked_by, "revoke_reason": share.revoke_reason, "recipient": share.recipient}


def link(request: web.Request, token: str) -> str:
    """The recipient's link, on the origin the request came in on."""
    return str(request.url.with_path(f"/s/{token}").with_query(None))


async def list_shares(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    found = await shares.of_case(request.app[LOCKER], case_id, who=principal_of(request))
    return json_response({"case": case_id, "shares": [describe(s) for s in found]})


async def create_share(request: web.Request) -> web.Response:
    """Share selected items (``items``: BLAKE3 hashes) or the whole case; the token is in this answer only."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    items = body.get("items")
    if items is not None and (not isinstance(items, list) or not all(isinstance(h, str) for h in items)):
        raise Invalid("items: a list of BLAKE3 hashes, or absent for the whole case")
    share, token = await shares.create(
        request.app[LOCKER], case_id, who=principal_of(request),
        organisation=text_field(body, "organisation", required=True, max_len=shares.TEXT_MAX_CHARS) or "",
        person=text_field(body, "person", required=True, max_len=shares.TEXT_MAX_CHARS) or "",
        purpose=text_field(body, "purpose", required=True, max_len=shares.TEXT_MAX_CHARS) or "",
        days=int_field(body, "days", required=True, minimum=1) or 0, items=items,
        max_downloads=int_field(body, "max_downloads", minimum=1),
        recipient=text_field(body, "recipient", max_len=20) or "judicial")
    return json_response({**describe(share), "token": token, "link": link(request, token)}, status=201)


async def revoke_share(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    body = await json_object(request)
    try:
        share_id = int(request.match_info["id"])
    except ValueError:
        raise Invalid("share id: a whole number") from None
    share = await shares.revoke(request.app[LOCKER], case_id, share_id, who=principal_of(request),
                                reason=text_field(body, "reason", required=True, max_len=2000) or "")
    return json_response(describe(share))
