"""Finding evidence across cases (issue 18, item 3): filters, facet counts and free text.

Facets are the case, officer, camera, station, event type (the entry kind: recording, text record,
redacted copy), tag (on the item or its whole case) and stage; a date range (``since``, ``until``:
instants, the web page turns its local days into them) applies to the recording time, else the time
the item was logged; free text matches the case title, the item's file name and title, and the
text of a text record.

Need to know (RULES §三): the cases the reader may read are decided first, each on its own log
(``services.restriction.access_many``), and the query and every facet count are confined to them,
so a restricted case neither appears nor changes a count.  The governance log holds no evidence.

Free text is a substring match (``ILIKE``), not PostgreSQL's full-text search: the ``simple`` and
``english`` configurations cut Chinese only at punctuation, so 笔录 would not find 询问笔录, and a
segmenter (jieba) cuts it into words that must then line up with the query's own cutting.  A
substring match finds any run of characters in either language; the embedded PostgreSQL ships no
``pg_trgm`` to index it, and at a bureau's scale (tens of thousands of items) the scan is short.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from foundation.errors import Invalid
from integrity.hashing import object_key
from policy.cases import GOVERNANCE_CASE
from services import restriction
from services.locker import Locker
from services.permissions import authorize
from storage import search as rows
from storage.principals import Principal
from storage.search import FACETS, Filters, Hit

logger = logging.getLogger(__name__)

#: A text record longer than this is indexed by its title only.
TEXT_INDEX_MAX_BYTES = 1024 * 1024
TEXT_MAX_CHARS = 200
#: The most items one page answers (the API's ``limit`` bound).
PAGE_MAX = 1000
#: What the web page shows at most.
WEB_PAGE = 200


@dataclass(frozen=True, slots=True)
class Found:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


async def readable_cases(locker: Locker, who: Principal) -> list[str]:
    """The case ids ``who`` may read, each decided on its log (never the governance log)."""
    ids = [c for c in await rows.case_ids(locker.pool) if c != GOVERNANCE_CASE]
    states = await restriction.access_many(locker.pool, ids, who.name)
    return [c for c, state in states.items() if state.may_read(who.id)]


async def refresh_index(locker: Locker) -> int:
    """Index the free text of items logged since the last search: title and, for plain text, the text."""
    done = 0
    while batch := await rows.unindexed(locker.pool):
        for item in batch:
            entry = json.loads(item["body"])
            title = " ".join(str(entry[k]) for k in ("title", "file_name") if isinstance(entry.get(k), str))
            body = ""
            media = (item["media_type"] or "").split(";")[0].strip().lower()
            if item["kind"] == "record.added" and media.startswith("text/") and item["size"] <= TEXT_INDEX_MAX_BYTES:
                data = b"".join([chunk async for chunk in locker.store.get(object_key(item["blake3"]))])
                body = data.decode("utf-8", errors="replace").replace("\x00", "")
            await rows.index_text(locker.pool, item["case_id"], item["seq"], title, body)
            done += 1
    return done


async def search(locker: Locker, *, who: Principal, values: dict[str, str] | None = None,
                 since: dt.datetime | None = None, until: dt.datetime | None = None, text: str | None = None,
                 limit: int = 50, offset: int = 0) -> Found:
    """Items matching every filter, with facet counts, in the cases ``who`` may read."""
    authorize(who, "search.items")
    chosen = {k: v.strip() for k, v in (values or {}).items() if v and v.strip()}
    if unknown := sorted(set(chosen) - set(FACETS)):
        raise Invalid(f"no facet {unknown[0]!r}; facets: {', '.join(FACETS)}")
    if any(len(v) > TEXT_MAX_CHARS for v in chosen.values()) or (text and len(text) > TEXT_MAX_CHARS):
        raise Invalid(f"a search value has at most {TEXT_MAX_CHARS} characters")
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise Invalid(f"limit: 1 to {PAGE_MAX}; offset: 0 or more")
    await refresh_index(locker)
    readable = await readable_cases(locker, who)
    f = Filters(chosen, since, until, (text or "").strip() or None)
    total, found, facets = await rows.search(locker.pool, f, readable, limit=limit, offset=offset)
    return Found(total, found, facets)
