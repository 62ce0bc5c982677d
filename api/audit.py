"""The audit view's API twin: who viewed, downloaded, exported or shared what, across cases (admins)."""

from __future__ import annotations

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import json_response, query_int, query_time
from services import audit


async def list_accesses(request: web.Request) -> web.Response:
    """Access and sharing entries, newest first; times in UTC; each with its receipt's path.

    ``?access=`` is the action filter (``action`` is the disclosure steps' path parameter in this API)."""
    q = request.query
    entries = await audit.accesses(
        request.app[LOCKER].pool, who=principal_of(request), user=q.get("user"), case_id=q.get("case"),
        action=q.get("access"), since=query_time(request, "from"), until=query_time(request, "to"),
        limit=query_int(request, "limit", 200, minimum=1, maximum=audit.MAX_ROWS),
        offset=query_int(request, "offset", 0))
    return json_response({"accesses": [e.as_json() for e in entries]})
