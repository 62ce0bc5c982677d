"""Bookmarks and notes at a moment of a recording over HTTP (issue 18 item 4).

The rules (who may bookmark, the author-only edit, need to know) are ``services.bookmarks``; the staff
player (``api.web.player``) calls these same handlers with the session's principal.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import blake3_param, int_field, json_object, json_response, text_field
from foundation.errors import Invalid
from services import bookmarks
from storage.bookmarks import Bookmark


def describe(mark: Bookmark) -> dict[str, Any]:
    return {"id": mark.id, "case": mark.case_id, "blake3": mark.blake3, "at_ms": mark.at_ms, "note": mark.note,
            "author": mark.author, "author_id": mark.author_id, "edited_by": mark.edited_by, "edits": mark.edits,
            "removed_by": mark.removed_by, "created_at": mark.created_at}


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise Invalid("bookmark id: a whole number") from None


async def list_bookmarks(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    wanted = request.query.get("blake3")
    found = await bookmarks.of_item(request.app[LOCKER], case_id, who=principal_of(request),
                                    blake3=blake3_param(wanted) if wanted else None)
    return json_response({"case": case_id, "bookmarks": [describe(m) for m in found]})


async def add_bookmark(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    body = await json_object(request)
    mark = await bookmarks.add(
        request.app[LOCKER], case_id, blake3_param(text_field(body, "blake3", required=True, max_len=64) or ""),
        at_ms=int_field(body, "at_ms", required=True, maximum=bookmarks.MAX_AT_MS) or 0,
        note=body.get("note", ""), who=principal_of(request))
    return json_response(describe(mark), status=201)


async def edit_bookmark(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    body = await json_object(request)
    mark = await bookmarks.edit(request.app[LOCKER], case_id, _id(request), who=principal_of(request),
                                at_ms=int_field(body, "at_ms", maximum=bookmarks.MAX_AT_MS),
                                note=body.get("note"))
    return json_response(describe(mark))


async def remove_bookmark(request: web.Request) -> web.Response:
    mark = await bookmarks.remove(request.app[LOCKER], request.match_info["case"], _id(request),
                                  who=principal_of(request))
    return json_response(describe(mark))
