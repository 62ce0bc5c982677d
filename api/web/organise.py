"""Organising and finding on the web (issue 18, item 3): the search page with facets, the bureau's tag
list (admins), and what the case page's selection toolbar (``static/organise.js``) calls: bulk actions,
tags, the export of a selection, and the stills of the evidence list.

Everything is a call to the services (``services.search``, ``services.tags``, ``services.bulk``,
``services.thumbnails``): the rules are theirs.  Dates on the search page are days in the bureau's
zone (``CUSTODY_TIMEZONE``), turned into instants here as on the case search.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, SETTINGS
from api.client import client_address
from api.errors import http_status
from api.params import blake3_param, json_object, json_response
from api.web import i18n
from api.web.bundles import send_bundle
from api.web.render import page, redirect
from api.web.timeline import stage_label
from foundation.errors import CustodyError, Invalid, Malformed
from policy.cases import STAGES
from services import assignment, bulk, search, tags, thumbnails
from services.permissions import INVESTIGATORS, READERS
from storage.catalog import EvidenceRow
from storage.search import FACETS

#: Event types as the search page names them.
KIND_KEYS = {"evidence.ingested": "ev.original", "record.added": "org.kind_record",
             "evidence.redacted": "org.kind_redacted"}


def _day(raw: str, zone: dt.tzinfo, *, end: bool = False) -> dt.datetime | None:
    if not raw:
        return None
    day = dt.date.fromisoformat(raw) + dt.timedelta(days=1 if end else 0)
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"




async def search_page(request: web.Request) -> web.StreamResponse:
    """Items across the cases the user may read: facets with counts, a local-day range and free text."""
    lang = i18n.choose(request)
    t = i18n.translator(lang)
    filters = {k: request.query.get(k, "").strip()[:100] for k in (*FACETS, "from", "to", "q")}
    error, found = None, None
    try:
        zone = request.app[SETTINGS].zone
        since, until = _day(filters["from"], zone), _day(filters["to"], zone, end=True)
        found = await search.search(request.app[LOCKER], who=request[PRINCIPAL],
                                    values={k: filters[k] for k in FACETS}, since=since, until=until,
                                    text=filters["q"] or None, limit=search.WEB_PAGE)
    except ValueError:
        error = t("cases.bad_date")
    except Invalid as exc:
        error = str(exc)
    labels = {t_.name: t_.label(lang) for t_ in await tags.bureau_list(request.app[LOCKER], include_retired=True)}

    def value_label(facet: str, value: str) -> str:
        if facet == "tag":
            return labels.get(value, value)
        if facet == "kind":
            return t(KIND_KEYS[value]) if value in KIND_KEYS else value
        if facet == "stage":
            return stage_label(value, t)
        return value

    def link(facet: str, value: str | None) -> str:
        query = {k: v for k, v in filters.items() if v and k != facet}
        if value is not None:
            query[facet] = value
        return str(URL.build(path="/search", query=query))

    facets = [{"name": f, "label": t(f"org.facet.{f}"), "chosen": filters[f], "clear": link(f, None),
               "values": [{"value": v, "label": value_label(f, v), "count": n, "href": link(f, v),
                           "chosen": v == filters[f]} for v, n in counts]}
              for f, counts in (found.facets.items() if found else [])]
    hits = [{"hit": h, "kind": value_label("kind", h.kind), "stage": stage_label(h.stage, t),
             "tags": [labels.get(x, x) for x in h.tags]} for h in (found.hits if found else [])]
    return page(request, "search.html", {
        "filters": filters, "facets": facets, "hits": hits, "total": found.total if found else 0,
        "error": error, "timezone": request.app[SETTINGS].timezone, "stages": list(STAGES),
        "is_admin": request[PRINCIPAL].role == "admin"}, status=400 if error else 200)


# -- the bureau's tag list (admins) -------------------------------------------------------------------


async def tags_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    return page(request, "tags.html", {"tags": await tags.bureau_list(request.app[LOCKER], include_retired=True),
                                       "error": error, "done": request.query.get("done") == "1"}, status=status)


async def tags_show(request: web.Request) -> web.StreamResponse:
    return await tags_page(request)


async def tags_define(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        await tags.define(request.app[LOCKER], str(form.get("name", "")), label_zh=str(form.get("label_zh", "")),
                          label_en=str(form.get("label_en", "")), who=request[PRINCIPAL])
    except CustodyError as exc:
        return await tags_page(request, error=str(exc), status=http_status(exc))
    return redirect("/admin/tags?done=1")


async def tags_retire(request: web.Request) -> web.StreamResponse:
    try:
        await tags.retire(request.app[LOCKER], request.match_info["name"], who=request[PRINCIPAL])
    except CustodyError as exc:
        return await tags_page(request, error=str(exc), status=http_status(exc))
    return redirect("/admin/tags?done=1")


# -- the case page's selection toolbar ---------------------------------------------------------------


async def case_context(request: web.Request, case_id: str, rows: list[EvidenceRow]) -> dict[str, Any]:
    """What ``organise_panel.html`` and ``organise.js`` need on a case page: the tag list in the page's
    language, each item's and the case's tags, stills and durations, and (an intake case) assignments."""
    lang = i18n.choose(request)
    locker = request.app[LOCKER]
    who = request[PRINCIPAL]
    listed = await tags.bureau_list(locker, include_retired=True)
    labels = {t_.name: t_.label(lang) for t_ in listed}
    item_tags: dict[str, list[dict[str, str]]] = {}
    for tagged in await tags.of_case(locker, case_id, who=who):
        item_tags.setdefault(tagged.blake3 or "case", []).append({"name": tagged.tag,
                                                                  "label": labels.get(tagged.tag, tagged.tag)})
    stills = await thumbnails.of_case(locker.pool, case_id)
    shown = {r.blake3: {"duration": _duration(s.duration_ms),
                        "src": f"/cases/{case_id}/stills/{r.blake3}" if who.role in READERS else ""}
             for r in rows if (s := stills.get(r.blake3)) is not None}
    intake = assignment.is_intake(case_id)
    return {"tags": [{"name": t_.name, "label": t_.label(lang)} for t_ in listed if not t_.retired],
            "case_tags": item_tags.pop("case", []), "item_tags": item_tags, "stills": shown,
            "intake": intake, "assigned": await assignment.assignments(locker, case_id) if intake else {},
            "can_act": who.role in INVESTIGATORS}


async def still(request: web.Request) -> web.StreamResponse:
    """A recording's still for the evidence list (the reads of a list are logged once per window)."""
    case_id = request.match_info["case"]
    data = await thumbnails.open_still(request.app[LOCKER], case_id, blake3_param(request.match_info["blake3"]),
                                       who=request[PRINCIPAL])
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=600", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})


async def bulk_action(request: web.Request) -> web.StreamResponse:
    """The toolbar's action on the selected items; each item's outcome as JSON."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    items = body.get("items")
    if not isinstance(items, list):
        raise Invalid("items: the selected items' hashes")
    share = body.get("share") if isinstance(body.get("share"), dict) else None
    results = await bulk.run(request.app[LOCKER], case_id, str(body.get("action", "")), [str(h) for h in items],
                             who=request[PRINCIPAL], reason=str(body.get("reason") or ""),
                             tag=str(body.get("tag") or ""), to_case=str(body.get("to_case") or "").strip(),
                             share=share)
    answer: dict[str, Any] = {"results": [r.as_json() for r in results]}
    tokens = {r.detail.get("token") for r in results if r.detail and r.detail.get("token")}
    if tokens:
        answer["link"] = str(request.url.with_path(f"/s/{tokens.pop()}").with_query(None))
    for r in answer["results"]:
        r.pop("token", None)
    return json_response(answer)


async def case_tag(request: web.Request) -> web.StreamResponse:
    """Put a tag on the case or take it off (the case tag form); back to the case page."""
    case_id = request.match_info["case"]
    form = await request.post()
    step = tags.untag if form.get("remove") else tags.tag
    await step(request.app[LOCKER], case_id, str(form.get("tag", "")), who=request[PRINCIPAL])
    return redirect(str(URL.build(path=f"/cases/{case_id}")) + "#organise")


async def export_selection(request: web.Request) -> web.StreamResponse:
    """A bundle of the case with the selected items' media only (a stated purpose; each read logged)."""
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    form = await request.post()
    why = str(form.get("purpose", "")).strip()[:500]
    if not why:
        raise Malformed(i18n.translator(i18n.choose(request))("purpose.required"))
    items = [str(v) for v in form.getall("items", [])]
    who, client = request[PRINCIPAL], client_address(request)

    async def write(out: Path) -> dict[str, str]:
        results = await bulk.export(locker, case_id, items, out, who=who, purpose=why, client=client)
        if not out.exists():
            missing = ", ".join(r.blake3[:12] for r in results if not r.ok)
            raise Invalid(f"none of the selected items is in case {case_id}: {missing}")
        return {"X-Custody-Exported": str(sum(r.ok for r in results)),
                "X-Custody-Skipped": str(sum(not r.ok for r in results))}

    return await send_bundle(request, case_id, write, suffix="selection")


