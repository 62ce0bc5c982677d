"""Redacted renders attached to disclosure records over HTTP (issue 19 item 5).

The rules (only a redacted render, only before publication, need to know) are ``services.release``;
an unredacted recording is refused with ``unredacted_release`` (422), as ``custody disclosure attach``
refuses it.  The portal's side (``/public/records/{id}/media/{blake3}``) is ``api.web.public``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import blake3_param, json_object, json_response, text_field
from services import release
from storage.releases import Attachment


def describe(a: Attachment) -> dict[str, Any]:
    return {"disclosure": a.disclosure_id, "blake3": a.blake3, "file_name": a.file_name, "size": a.size,
            "attached_by": a.attached_by, "attached_at": a.attached_at, "seq": a.seq, "detached_by": a.detached_by,
            "detach_reason": a.detach_reason}


async def list_attachments(request: web.Request) -> web.Response:
    did = request.match_info["id"]
    found = await release.attachments(request.app[LOCKER], did, who=principal_of(request))
    return json_response({"disclosure": did, "attachments": [describe(a) for a in found]})


async def attach(request: web.Request) -> web.Response:
    """Attach a redacted render (``blake3``) of the record's case; logged ``disclosure.attached``."""
    body = await json_object(request)
    hexd = blake3_param(text_field(body, "blake3", required=True, max_len=64) or "")
    found = await release.attach(request.app[LOCKER], request.match_info["id"], hexd, who=principal_of(request))
    return json_response(describe(found), status=201)


async def detach(request: web.Request) -> web.Response:
    """Take a render off a draft or approved record, with a reason; logged ``disclosure.detached``."""
    body = await json_object(request)
    did, hexd = request.match_info["id"], blake3_param(request.match_info["blake3"])
    await release.detach(request.app[LOCKER], did, hexd, who=principal_of(request),
                         reason=text_field(body, "reason", required=True, max_len=release.REASON_MAX_CHARS) or "")
    found = await release.attachments(request.app[LOCKER], did, who=principal_of(request))
    return json_response({"disclosure": did, "attachments": [describe(a) for a in found]})
