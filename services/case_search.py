"""Searching cases, with each case's restriction and readability decided on its log.

``storage.catalog.search_cases`` finds the rows (and already leaves out, on a filtered search, the
cases the tables say the reader may not read); here each found case's level, handler and grants are
taken from its log (``services.case_access``), so a restriction edited away in the ``cases`` row
neither lists a case to an officer search nor shows its details.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from policy import restriction
from services import case_access, cases
from storage import catalog


async def search(pool: asyncpg.Pool, *, reader: str | None, reader_id: int | None = None,
                 reader_role: str | None = None, case_id: str | None = None,
                 officer: str | None = None, station: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Cases matching every filter, each with ``restriction`` and ``readable`` (for ``reader``, a name, and
    ``reader_id``, its principal id; None: no one is asking need to know) as the case's log decides them.

    A restricted case the reader may not read matches on its id only.  The governance log is listed only
    to an admin ``reader_role`` (None: no one is asking, everything is listed).
    """
    rows = await catalog.search_cases(pool, case_id=case_id, officer=officer, station=station, since=since,
                                      until=until, limit=limit, offset=offset, reader=reader, reader_id=reader_id)
    states = await case_access.of_cases(pool, [r["id"] for r in rows])
    by_content = any(v is not None for v in (officer, station, since, until))
    found = []
    for row in rows:
        if reader_role is not None and not cases.listed_to(row["id"], reader_role):
            continue
        state = states.get(row["id"])
        if state is None:
            continue  # no log: not a case anyone may be shown
        readable = reader is None or restriction.may_read(state.level, principal_id=reader_id or 0,
                                                          handler_id=state.handler_id,
                                                          granted=reader in state.grantees)
        if by_content and not readable:
            continue
        found.append({**row, "restriction": state.level, "readable": readable})
    return found
