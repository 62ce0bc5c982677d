"""Disclosure records (公示), legal review (法制审核), law changes, and the public portal's JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.appkeys import CALENDAR, LOCKER
from api.auth import principal_of
from api.params import int_field, json_object, json_response, query_int, text_field
from foundation import clock
from foundation.errors import Invalid, Malformed
from policy.takedown import parse_iso_date
from services import disclosure

#: URL action name -> lifecycle action.
ACTIONS = {"approve": "approve", "publish": "publish", "correct": "correct", "update": "update",
           "take-down": "take_down", "revoke": "revoke", "withdraw": "withdraw"}


def _view(d: disclosure.Disclosure) -> dict[str, Any]:
    """Staff view: raw record, the secrets treatment, the masked preview beside them, schedule and review
    state.  Only ever built for someone who may read the record's case (RULES §三): the services leave
    the others' records out of lists and refuse them one by one."""
    preview = d.preview()
    view = asdict(d)
    view.pop("public_root", None)
    return {**view, "public_root": d.public_root.hex() if d.public_root else None,
            "preview": {"text": preview.text, "fields": preview.fields, "excluded": list(preview.excluded)}}


async def list_records(request: web.Request) -> web.Response:
    pool = request.app[LOCKER].pool
    rows, withheld = await disclosure.records_for(pool, who=principal_of(request), state=request.query.get("state"),
                                                  case_id=request.query.get("case"))
    return json_response({"disclosures": [_view(d) for d in rows], "withheld": withheld})


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    case_id = text_field(body, "case", required=True, max_len=64) or ""
    fields = {k: v for k, v in body.items() if k != "case"}
    d = await disclosure.create(request.app[LOCKER], case_id, fields, who=principal_of(request))
    return json_response(_view(d), status=201)


async def get(request: web.Request) -> web.Response:
    """A record with its reviews, for someone who may read its case (else 403 ``restricted``)."""
    pool = request.app[LOCKER].pool
    d = await disclosure.read(pool, request.match_info["id"], who=principal_of(request))
    return json_response({**_view(d), "reviews": await disclosure.reviews(pool, d.id)})


async def treat(request: web.Request) -> web.Response:
    """Record the secrets treatment of a draft (trade-secret and privacy cases need one before approval)."""
    body = await json_object(request)
    d = await disclosure.record_treatment(request.app[LOCKER], request.match_info["id"], body,
                                          who=principal_of(request))
    return json_response(_view(d), status=201)


async def flag_major(request: web.Request) -> web.Response:
    body = await json_object(request)
    criteria = body.get("criteria")
    if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
        raise Invalid("'criteria' must be a list of §四(二) criterion codes")
    d = await disclosure.flag_major(request.app[LOCKER], request.match_info["id"], criteria,
                                    who=principal_of(request))
    return json_response(_view(d))


async def add_review(request: web.Request) -> web.Response:
    """passed / failed: reviewers only (never the case handler); disputed: the handling side."""
    body = await json_object(request)
    outcome = text_field(body, "outcome", required=True, max_len=20) or ""
    who = principal_of(request)
    checklist = body.get("checklist") or {}
    if not isinstance(checklist, dict) or not all(isinstance(v, bool) for v in checklist.values()):
        raise Invalid("'checklist' must map §四(三) item codes to true/false")
    d = await disclosure.record_review(request.app[LOCKER], request.match_info["id"], who=who,
                                       outcome=outcome, checklist=checklist,
                                       opinion=text_field(body, "opinion", max_len=20_000) or "",
                                       decision=text_field(body, "decision", max_len=20))
    return json_response(_view(d), status=201)


async def act(request: web.Request) -> web.Response:
    """One lifecycle step; the body carries reason / explanation / takedown_reason / changes."""
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise Invalid(f"unknown action; one of {', '.join(ACTIONS)}")
    body = await json_object(request)
    changes = body.get("changes")
    if changes is not None and not isinstance(changes, dict):
        raise Invalid("'changes' must be an object of record fields")
    d = await disclosure.transition(
        request.app[LOCKER], request.match_info["id"], action, who=principal_of(request),
        today=clock.today(), reason=text_field(body, "reason", max_len=2000),
        explanation=text_field(body, "explanation", max_len=20_000),
        takedown_reason=text_field(body, "takedown_reason", max_len=40), changes=changes,
        law_change=int_field(body, "law_change"))
    # 202: the end of a major decision was asked for and waits for a second person to confirm it.
    waiting = action in ("take_down", "revoke") and d.state == "published" and d.pending_end is not None
    return json_response(_view(d), status=202 if waiting else 200)


async def links(request: web.Request) -> web.Response:
    """The linked-evidence check lists the case's evidence: for those who may read the case."""
    result = await disclosure.check_links(request.app[LOCKER], request.match_info["id"],
                                          who=principal_of(request))
    return json_response(result)


def _today(request: web.Request) -> dt.date:
    given = request.query.get("today")
    return parse_iso_date(given) if given else clock.today()


async def due(request: web.Request) -> web.Response:
    """Records due for takedown on ``today`` and law-change updates outstanding (overdue flagged)."""
    result, withheld = await disclosure.due_for(request.app[LOCKER].pool, _today(request), who=principal_of(request))
    return json_response({"takedowns": [_view(d) for d in result.takedowns], "updates": result.updates,
                          "withheld": withheld})


async def list_law_changes(request: web.Request) -> web.Response:
    return json_response({"law_changes": await disclosure.law_changes(request.app[LOCKER].pool)})


async def add_law_change(request: web.Request) -> web.Response:
    body = await json_object(request)
    categories = body.get("categories")
    if not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories):
        raise Invalid("'categories' must be a non-empty list of record categories")
    result = await disclosure.record_law_change(
        request.app[LOCKER], request.app[CALENDAR].current(),
        title=text_field(body, "title", required=True, max_len=500) or "",
        effective=parse_iso_date(text_field(body, "effective", required=True, max_len=10) or ""),
        categories=categories, description=text_field(body, "description", max_len=20_000) or "",
        who=principal_of(request))
    return json_response(result, status=201)


async def add_working_days(request: web.Request) -> web.Response:
    start = parse_iso_date(request.query.get("date", ""))
    n = query_int(request, "n", 20, maximum=MAX_WORKING_DAYS)
    try:
        result = request.app[CALENDAR].current().add_working_days(start, n)
    except OverflowError:
        raise Invalid(f"{n} working days after {start} is beyond the last date the calendar can name") from None
    return json_response({"date": start, "n": n, "result": result})


#: The longest walk ``add-working-days`` takes (about forty years of working days).
MAX_WORKING_DAYS = 10_000


# -- public (no sign-in; masked text only) -------------------------------------------------------------


#: Records per page of the public list (no sign-in: every answer is bounded).
PUBLIC_PAGE = 50
PUBLIC_NOTICES = 100
MAX_SEARCH_CHARS = 100


def public_query(request: web.Request) -> tuple[int, str | None]:
    """``?page=N`` (from 1) and ``?q=TEXT`` of a public list request; bad values are 400."""
    page = query_int(request, "page", 1, minimum=1, maximum=100_000)
    text = request.query.get("q", "").strip()
    if len(text) > MAX_SEARCH_CHARS:
        raise Malformed(f"q is longer than {MAX_SEARCH_CHARS} characters")
    return page, text or None


async def public_records(request: web.Request) -> web.Response:
    """Published records as the public sees them, newest first, a page at a time, each with its case's
    latest checkpoint root; the most recent takedown notices."""
    page, text = public_query(request)
    pool = request.app[LOCKER].pool
    rows = await disclosure.published(pool, text=text, limit=PUBLIC_PAGE + 1, offset=(page - 1) * PUBLIC_PAGE)
    return json_response({"records": rows[:PUBLIC_PAGE], "page": page, "has_next": len(rows) > PUBLIC_PAGE,
                          "notices": await disclosure.notices(pool, limit=PUBLIC_NOTICES)})
