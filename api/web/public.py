"""The public portal (公示平台): published decisions, masked, each with its case log's checkpoint.

No sign-in.  Only what ``services.disclosure.published`` made public at publication or correction is
read here, and of it only the masked ``public_fields`` / ``public_text``, the publication date and the
case's latest checkpoint (size and root hash), which lets anyone later hold the bureau to what it
published.  Taken-down records disappear from here but not from the log; the explanations published
with a takedown are listed as notices.  A signed-in member of staff sees their navigation too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import LOCKER, PRINCIPAL, WEB_SESSION
from api.cases import _safe_name, parse_range, send_checked
from api.disclosures import PUBLIC_NOTICES, PUBLIC_PAGE, public_query
from api.params import blake3_param
from api.web.render import page
from api.web.session import current
from foundation.errors import NotFound
from policy.masking import PUBLIC_FIELDS
from services import basic_info, disclosure, release

#: The portal's renders: no referrer, no sniffing, never run in our origin; a published render may be cached
#: by nobody (a takedown must take effect at once).
MEDIA_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; sandbox"}


def public_record(row: dict[str, Any]) -> dict[str, Any]:
    """What the portal may show of a published row: the masked fields and text, dates, the checkpoint."""
    fields = row.get("public_fields") or {}
    return {
        "id": row["id"], "fields": {k: fields[k] for k in PUBLIC_FIELDS if k in fields},
        "text": row.get("public_text") or "", "published_on": row["published_on"], "case_id": row["case_id"],
        "checkpoint_size": row["checkpoint_size"], "checkpoint_root": row["checkpoint_root"],
        "corrected_on": row.get("corrected_on"), "history": row.get("public_history") or [],
    }


async def portal(request: web.Request) -> web.StreamResponse:
    """``/public``: published records (masked) and takedown notices, in the visitor's language."""
    signed = await current(request)
    if signed is not None:  # staff keep their navigation; the page itself is the same for everyone
        request[WEB_SESSION], request[PRINCIPAL] = signed
    pool = request.app[LOCKER].pool
    number, text = public_query(request)
    rows = await disclosure.published(pool, text=text, limit=PUBLIC_PAGE + 1, offset=(number - 1) * PUBLIC_PAGE)
    records = [public_record(row) for row in rows[:PUBLIC_PAGE]]
    renders = await release.published_renders(request.app[LOCKER], [r["id"] for r in records])
    for r in records:
        r["renders"] = renders.get(r["id"], [])
    return page(request, "public.html", {
        "records": records, "page": number,
        "has_next": len(rows) > PUBLIC_PAGE, "q": text or "",
        "notices": await disclosure.notices(pool, limit=PUBLIC_NOTICES),
        "basic_info": await basic_info.public(request.app[LOCKER]), "basic_kinds": basic_info.KINDS})


async def media(request: web.Request) -> web.StreamResponse:
    """A published record's redacted render (Range supported), while the record is published."""
    locker = request.app[LOCKER]
    hexd = blake3_param(request.match_info["blake3"])
    try:
        found = await release.open_published(locker, request.match_info["id"], hexd)
    except NotFound:
        raise web.HTTPNotFound(text="no such published recording", headers=MEDIA_HEADERS) from None
    span = parse_range(request.headers.get("Range"), found.size)
    start, length = (0, found.size) if span is None else span
    headers = {**MEDIA_HEADERS, "Accept-Ranges": "bytes", "ETag": f'"{hexd}"',
               "Content-Disposition": f'inline; filename="{_safe_name(found.file_name)}"'}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{found.size}"
    resp = web.StreamResponse(status=206 if span else 200, headers=headers)
    resp.content_type = "video/mp4"
    resp.content_length = length
    await resp.prepare(request)

    async def mismatch(seen: str) -> None:
        await release.public_check_failed(locker, found, seen)

    return await send_checked(request, resp, hexd, start, length, whole=span is None, mismatch=mismatch)
