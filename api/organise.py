"""Organising and finding over HTTP (issue 18, item 3): the bureau's tag list, tags, search, bulk actions,
assignment from an intake case.  The rules are the services' (``services.tags``, ``services.search``,
``services.bulk``, ``services.assignment``); times in answers are UTC."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import blake3_param, json_object, json_response, query_int, query_time, text_field
from foundation.errors import Invalid
from services import assignment, bulk, search, tags
from storage.search import FACETS, Hit
from storage.tags import Tag, Tagged


def describe_tag(tag: Tag) -> dict[str, Any]:
    return asdict(tag)


def describe_tagged(t: Tagged) -> dict[str, Any]:
    return {"tag": t.tag, "scope": "item" if t.blake3 else "case", "blake3": t.blake3 or None,
            "tagged_by": t.tagged_by}


def describe_hit(h: Hit) -> dict[str, Any]:
    return asdict(h)


async def list_tags(request: web.Request) -> web.Response:
    retired = request.query.get("retired") in ("1", "true")
    found = await tags.bureau_list(request.app[LOCKER], include_retired=retired)
    return json_response({"tags": [describe_tag(t) for t in found]})


async def define_tag(request: web.Request) -> web.Response:
    body = await json_object(request)
    tag = await tags.define(request.app[LOCKER], request.match_info["name"], who=principal_of(request),
                            label_zh=text_field(body, "label_zh", required=True, max_len=40) or "",
                            label_en=text_field(body, "label_en", required=True, max_len=60) or "")
    return json_response(describe_tag(tag))


async def retire_tag(request: web.Request) -> web.Response:
    await tags.retire(request.app[LOCKER], request.match_info["name"], who=principal_of(request))
    return json_response({"tag": request.match_info["name"], "retired": True})


async def case_tags(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    found = await tags.of_case(request.app[LOCKER], case_id, who=principal_of(request))
    return json_response({"case": case_id, "tags": [describe_tagged(t) for t in found]})


def _item(body: dict[str, Any]) -> str | None:
    raw = body.get("blake3")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Invalid("blake3: the item's hash, or absent for the whole case")
    return blake3_param(raw)


async def add_tag(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    body = await json_object(request)
    done = await tags.tag(request.app[LOCKER], case_id, text_field(body, "tag", required=True, max_len=40) or "",
                          who=principal_of(request), blake3=_item(body))
    return json_response({"case": case_id, "seq": done.seq}, status=201)


async def remove_tag(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    raw = request.query.get("blake3")
    done = await tags.untag(request.app[LOCKER], case_id, request.match_info["name"], who=principal_of(request),
                            blake3=blake3_param(raw) if raw else None)
    return json_response({"case": case_id, "seq": done.seq})


async def search_items(request: web.Request) -> web.Response:
    """Items in the cases the caller may read, with facet counts (``from``/``to``: instants, ``to`` exclusive)."""
    q = request.query
    found = await search.search(
        request.app[LOCKER], who=principal_of(request), values={k: q[k] for k in FACETS if q.get(k)},
        since=query_time(request, "from"), until=query_time(request, "to"), text=q.get("q"),
        limit=query_int(request, "limit", 50, minimum=1, maximum=search.PAGE_MAX),
        offset=query_int(request, "offset", 0))
    return json_response({"total": found.total, "items": [describe_hit(h) for h in found.hits],
                          "facets": {k: [{"value": v, "count": n} for v, n in counts]
                                     for k, counts in found.facets.items()}})


async def bulk_action(request: web.Request) -> web.Response:
    """One action on each selected item; 200 with each item's outcome (some may have failed)."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(h, str) for h in items):
        raise Invalid("items: a list of BLAKE3 hashes")
    share = body.get("share")
    if share is not None and not isinstance(share, dict):
        raise Invalid("share: the recipient (organisation, person, purpose, days, max_downloads)")
    results = await bulk.run(
        request.app[LOCKER], case_id, text_field(body, "action", required=True, max_len=20) or "", items,
        who=principal_of(request), reason=text_field(body, "reason", max_len=2000) or "",
        tag=text_field(body, "tag", max_len=40) or "", to_case=text_field(body, "to_case", max_len=64) or "",
        share=share)
    return json_response({"case": case_id, "results": [r.as_json() for r in results],
                          "done": sum(r.ok for r in results), "failed": sum(not r.ok for r in results)})


async def assign_item(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    body = await json_object(request)
    done = await assignment.assign(
        request.app[LOCKER], case_id, blake3_param(text_field(body, "blake3", required=True, max_len=64) or ""),
        text_field(body, "to_case", required=True, max_len=64) or "", who=principal_of(request),
        reason=text_field(body, "reason", required=True, max_len=assignment.REASON_MAX_CHARS) or "")
    return json_response(asdict(done), status=201)
