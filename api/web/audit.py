"""The audit view (admins): who viewed, downloaded, exported or shared what, across cases.

Filters by user, case, action and dates (days in the bureau's zone, ``CUSTODY_TIMEZONE``); each row links
to its entry on the case page and to its receipt (the entry, its inclusion proof and the signed
checkpoint).  The CSV export is the same query, every matching row, times in UTC as in the log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from aiohttp import web

from api.appkeys import LOCKER, PRINCIPAL, SETTINGS
from api.web import i18n
from api.web.render import PAGE_HEADERS, page
from foundation.errors import Invalid
from services import audit

PAGE_ROWS = 200
CSV_COLUMNS = ("time_utc", "case", "seq", "actor", "display_name", "action", "kind", "object", "file_name",
               "purpose", "client", "share", "withheld", "receipt")


def _filters(request: web.Request) -> dict[str, str]:
    return {k: request.query.get(k, "").strip()[:100] for k in ("user", "case", "action", "from", "to")}


def _day(raw: str, zone: dt.tzinfo, *, end: bool = False) -> dt.datetime | None:
    if not raw:
        return None
    day = dt.date.fromisoformat(raw) + dt.timedelta(days=1 if end else 0)
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


async def _query(request: web.Request, filters: dict[str, str], *, limit: int, offset: int) -> list[audit.AuditEntry]:
    zone = request.app[SETTINGS].zone
    try:
        since, until = _day(filters["from"], zone), _day(filters["to"], zone, end=True)
    except ValueError:
        raise Invalid(i18n.translator(i18n.choose(request))("cases.bad_date")) from None
    return await audit.accesses(request.app[LOCKER].pool, who=request[PRINCIPAL], user=filters["user"] or None,
                                case_id=filters["case"] or None, action=filters["action"] or None, since=since,
                                until=until, limit=limit, offset=offset)


async def show(request: web.Request) -> web.StreamResponse:
    filters = _filters(request)
    try:
        offset = max(0, int(request.query.get("offset", "0") or 0))
    except ValueError:
        offset = 0
    error = None
    try:
        rows = await _query(request, filters, limit=PAGE_ROWS + 1, offset=offset)
    except Invalid as exc:
        rows, error = [], str(exc)
    query = {k: v for k, v in filters.items() if v}
    return page(request, "audit.html", {
        "filters": filters, "rows": rows[:PAGE_ROWS], "more": len(rows) > PAGE_ROWS, "offset": offset,
        "page_rows": PAGE_ROWS, "actions": audit.ACTIONS, "error": error, "query": query,
        "timezone": request.app[SETTINGS].timezone,
    }, status=400 if error else 200)


async def export_csv(request: web.Request) -> web.StreamResponse:
    """Every matching row as CSV (UTF-8 with a byte-order mark, so a spreadsheet reads the Chinese)."""
    rows = await _query(request, _filters(request), limit=audit.MAX_ROWS, offset=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in rows:
        j = entry.as_json()
        writer.writerow([_cell(v) for v in (j["at"], j["case_id"], j["seq"], j["actor"], j["display_name"],
                                            j["action"], j["kind"], j["object"], j["file_name"], j["purpose"],
                                            j["client"], j["share"], "yes" if j["withheld"] else "", j["receipt"])])
    return web.Response(body=("\ufeff" + out.getvalue()).encode(), headers={
        **PAGE_HEADERS, "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="custody-accesses.csv"'})


def _cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
