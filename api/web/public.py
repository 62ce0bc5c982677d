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
from api.disclosures import PUBLIC_NOTICES, PUBLIC_PAGE, public_query
from api.web.render import page
from api.web.session import current
from policy.masking import PUBLIC_FIELDS
from services import basic_info, disclosure


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
    return page(request, "public.html", {
        "records": [public_record(row) for row in rows[:PUBLIC_PAGE]], "page": number,
        "has_next": len(rows) > PUBLIC_PAGE, "q": text or "",
        "notices": await disclosure.notices(pool, limit=PUBLIC_NOTICES),
        "basic_info": await basic_info.public(request.app[LOCKER]), "basic_kinds": basic_info.KINDS})
