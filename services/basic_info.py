"""Basic enforcement information (§二 行政执法基本信息) as managed pages of the public portal.

The bureau publishes not only its decisions but its enforcing bodies, powers and their legal basis,
procedures, remedies and the random-inspection list (随机抽查事项清单).  Each is a page with the same
lifecycle as a decision's record: drafted, approved by another person, published (by a third when
duties are separated), updated with a reason — within 20 working days of a law change that touches its
category (``*``: every page) — or withdrawn.  Every step is an entry ``basic_info.*`` in the governance
log, with the actor and, for the public text, the text itself (it is public: no personal data belongs
in these pages, and the publication check refuses what looks like it).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import asyncpg

from foundation.errors import Conflict, CustodyError, Status
from policy.cases import GOVERNANCE_CASE
from policy.errors import DutiesNotSeparated
from policy.publication_check import findings as suspected
from services import calendar, retention
from services.locker import Locker
from services.permissions import authorize
from storage import basic_info as rows
from storage.basic_info import Page
from storage.log import Draft, RowWriter
from storage.principals import Principal

#: The kinds of basic information §二 names, in the portal's order.
KINDS = ("bodies", "powers", "procedures", "remedies", "random_inspection")
TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 100_000
#: action → (states it applies to, the state it leads to)
STEPS = {"approve": (("draft",), "approved"), "publish": (("approved",), "published"),
         "update": (("published",), "published"), "withdraw": (("draft", "approved", "published"), "withdrawn")}

#: The entry each step writes: ``basic_info.<done>``.
DONE = {"approve": "approved", "publish": "published", "update": "updated", "withdraw": "withdrawn"}


class BasicInfoError(CustodyError):
    status = Status.INVALID
    code = "basic_info"


class PageNotFound(BasicInfoError):
    status = Status.NOT_FOUND
    code = "basic_info_not_found"


def _text(value: Any, name: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise BasicInfoError(f"{name} must be non-empty text of at most {max_len} characters")
    return value.strip()


def _no_personal_data(body: str) -> None:
    """The portal's basic information names offices and laws, not people: refuse what looks personal."""
    if found := suspected(body):
        raise BasicInfoError("the text looks like it holds personal data (" + ", ".join(
            sorted({f.text for f in found})[:5]) + "); basic information names offices, duties and laws")


async def get(locker: Locker, page_id: str) -> Page:
    page = await rows.get(locker.pool, page_id)
    if page is None:
        raise PageNotFound(f"no basic-information page {page_id!r}")
    return page


async def create(locker: Locker, *, kind: str, title: str, body: str, category: str = "",
                 who: Principal) -> Page:
    """A draft page (``basic_info.created``)."""
    authorize(who, "basic_info.edit")
    if kind not in KINDS:
        raise BasicInfoError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    title, body = _text(title, "title", TITLE_MAX_CHARS), _text(body, "body", BODY_MAX_CHARS)
    category = (category or "").strip()[:100]
    _no_personal_data(title + "\n" + body)
    page_id, made = "B-" + secrets.token_hex(5), []

    async def insert(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        made.append(await rows.insert(conn, page_id, kind, title, body, category, who.actor, who.id))

    await _log(locker, "basic_info.created", who, {"page": page_id, "page_kind": kind, "title": title,
                                                   "category": category, "body": body}, insert)
    return made[0]


async def act(locker: Locker, page_id: str, action: str, *, who: Principal, today: dt.date,
              reason: str | None = None, body: str | None = None, law_change: int | None = None) -> Page:
    """One lifecycle step: approve, publish, update (a new text, with a reason; naming the law change it
    answers, if any), withdraw (with a reason)."""
    authorize(who, "basic_info.edit")
    if action not in STEPS:
        raise BasicInfoError(f"unknown step {action!r}; one of {', '.join(STEPS)}")
    page = await get(locker, page_id)
    sources, target = STEPS[action]
    if page.state not in sources:
        raise Conflict(f"{page_id} is {page.state}: it cannot be {action}d")
    _check_duties(action, page, who, separate=locker.separate_duties)
    sets: dict[str, Any] = {"state": target}
    fields: dict[str, Any] = {"page": page_id, "from": page.state, "to": target}
    deadlines: list[tuple[int, dt.date]] = []
    if action == "approve":
        sets.update(approved_by=who.actor, approved_by_id=who.id)
    elif action == "publish":
        _no_personal_data(page.body)
        deadlines = await _publication_deadlines(locker, page_id, today)
        sets.update(public_body=page.body, published_on=today, published_by=who.actor)
        fields.update(body=page.body, published_on=today.isoformat())
    elif action == "update":
        new_body = _text(body, "body", BODY_MAX_CHARS)
        reason = _text(reason, "reason", 2000)
        if new_body == page.public_body:
            raise BasicInfoError("the update changes nothing")
        _no_personal_data(new_body)
        sets.update(body=new_body, public_body=new_body, updated_on=today,
                    public_history=[*page.public_history, {"text": page.public_body, "until": today.isoformat()}])
        fields.update(body=new_body, reason=reason, **({"law_change": law_change} if law_change else {}))
    else:
        fields["reason"] = _text(reason, "reason", 2000)
    if action == "update" and law_change is not None and not any(
            u["law_change_id"] == law_change for u in await rows.open_updates(locker.pool, page_id)):
        raise BasicInfoError(f"law change {law_change} is unknown, does not touch {page_id}, or was answered")
    done: list[Page] = []

    async def step(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        # the row moves with its entry or not at all; a change since we read it refuses both
        page_now = await rows.update(conn, page_id, page.state, page.updated_at, sets)
        if page_now is None:
            raise Conflict(f"{page_id} changed meanwhile; reload and try again")
        if action == "update" and law_change is not None:
            await rows.answer_update(conn, page_id, law_change)
        done.append(page_now)

    await _log(locker, f"basic_info.{DONE[action]}", who, fields, step)
    await _log_deadlines(locker, who, page_id, deadlines, today)
    return done[0]


async def _log_deadlines(locker: Locker, who: Principal, page_id: str, deadlines: list[tuple[int, dt.date]],
                         today: dt.date) -> None:
    """Each law change that waited for the page's publication gets its deadline, with its entry."""
    for change_id, due in deadlines:
        async def set_due(conn: asyncpg.Connection, case_id: str, seq: int, change_id: int = change_id,
                          due: dt.date = due) -> None:
            await rows.set_due(conn, page_id, change_id, due)

        await _log(locker, "basic_info.update_required", who, {"page": page_id, "law_change": change_id,
                                                               "update_due": due.isoformat(),
                                                               "from_publication": today.isoformat()}, set_due)


def _check_duties(action: str, page: Page, who: Principal, *, separate: bool) -> None:
    """§二 采集、审核、发布 by different people: the drafter never approves; approver and publisher differ
    (unless the bureau turned separation off)."""
    if action == "approve" and who.id == page.created_by_id:
        raise DutiesNotSeparated(f"{who.actor} drafted {page.id}: another person approves it (§二)")
    if action == "publish" and separate and who.id == page.approved_by_id:
        raise DutiesNotSeparated(f"{who.actor} approved {page.id}: another person publishes it "
                                 "(§二, CUSTODY_SEPARATE_DUTIES)")


async def _publication_deadlines(locker: Locker, page_id: str, today: dt.date) -> list[tuple[int, dt.date]]:
    """Law changes recorded before publication: 20 working days from publication, never earlier than
    the change's own deadline (as for decisions)."""
    waiting = await rows.awaiting(locker.pool, page_id)
    if not waiting:
        return []
    from_publication = calendar.of(locker).update_due(today)
    return [(change_id, max(own, from_publication)) for change_id, own in waiting]


async def mark_for_law_change(locker: Locker, change_id: int, categories: list[str], update_due: dt.date, *,
                              who: Principal) -> dict[str, list[str]]:
    """A law change touches the pages of its categories (``*``: all): each must be updated by
    ``update_due`` (published pages) or within 20 working days of its publication (the others)."""
    affected, awaiting = await rows.mark_for_update(locker.pool, change_id, categories, update_due)
    if affected or awaiting:
        await _log(locker, "basic_info.update_required", who, {
            "law_change": change_id, "pages": affected, "awaiting_publication": awaiting,
            "update_due": update_due.isoformat()})
    return {"affected": affected, "awaiting_publication": awaiting}


async def pages(locker: Locker, *, who: Principal, state: str | None = None) -> list[Page]:
    """Every page (staff), with drafts."""
    authorize(who, "basic_info.read")
    return await rows.listing(locker.pool, state=state)


async def updates_due(locker: Locker, *, who: Principal) -> list[dict[str, Any]]:
    authorize(who, "basic_info.read")
    return await rows.open_updates(locker.pool)


async def public(locker: Locker) -> list[dict[str, Any]]:
    """What the portal shows: published pages, their public text only."""
    return await rows.public(locker.pool)


async def _log(locker: Locker, kind: str, who: Principal, fields: dict[str, Any],
               row_writer: RowWriter | None = None) -> None:
    await retention.ensure_governance_log(locker)
    await locker.log.append(GOVERNANCE_CASE, Draft(kind, who.actor, fields, rows=row_writer))
