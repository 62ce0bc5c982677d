"""Tags (categories) on items and cases, from a list the bureau defines (issue 18, item 3).

Administrators keep the list: each tag has a short name (``traffic``, ``noise``) and a label in each
language; defining, relabelling and retiring a tag is an entry in the governance log
(``tag.defined``, ``tag.retired``).  Staff who may read a case put tags from the list on its items or
on the whole case; each tag put on (``tag.added``) or taken off (``tag.removed``) is an entry in the
case's log, and its row is written in the same transaction.  ``custody scrub`` re-derives the tag
tables from the entries (``policy.log_state``) and reports any row no entry made.
"""

from __future__ import annotations

import re

import asyncpg

from foundation.errors import Conflict, Invalid, NotFound
from policy.cases import GOVERNANCE_CASE
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from services.retention import ensure_governance_log
from storage import catalog
from storage import tags as rows
from storage.log import Appended, Draft
from storage.principals import Principal
from storage.tags import CASE_SCOPE, Tag, Tagged

TAG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LABEL_MAX_CHARS = {"zh": 40, "en": 60}


class TagNotFound(NotFound):
    code = "tag_not_found"


class AlreadyTagged(Conflict):
    code = "already_tagged"


class NotTagged(Conflict):
    code = "not_tagged"


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not TAG_NAME.match(name):
        raise Invalid(f"tag name {name[:60]!r}: 1 to 40 of a-z, 0-9, _ and -, starting with a letter or digit")
    return name


def _label(value: str, lang: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > LABEL_MAX_CHARS[lang]:
        raise Invalid(f"label_{lang}: 1 to {LABEL_MAX_CHARS[lang]} characters")
    return value


async def define(locker: Locker, name: str, *, label_zh: str, label_en: str, who: Principal) -> Tag:
    """Add a tag to the bureau's list, or change its labels (in use again if retired); logged."""
    authorize(who, "tag.define")
    name, zh, en = check_name(name), _label(label_zh, "zh"), _label(label_en, "en")
    await ensure_governance_log(locker)

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.define(conn, name, zh, en, who.actor)

    await locker.log.append(GOVERNANCE_CASE, Draft("tag.defined", who.actor,
                                                   {"tag": name, "label_zh": zh, "label_en": en}, rows=write))
    return Tag(name, zh, en, who.actor, False)


async def retire(locker: Locker, name: str, *, who: Principal) -> None:
    """Take a tag off the list: no new uses; where it is already, it stays (and stays findable)."""
    authorize(who, "tag.define")
    tag = await rows.get(locker.pool, check_name(name))
    if tag is None:
        raise TagNotFound(f"no tag {name!r} on the bureau's list")
    if tag.retired:
        raise Conflict(f"tag {name!r} is already retired")

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.retire(conn, tag.name)

    await locker.log.append(GOVERNANCE_CASE, Draft("tag.retired", who.actor, {"tag": tag.name}, rows=write))


async def bureau_list(locker: Locker, *, include_retired: bool = False) -> list[Tag]:
    """The bureau's tags (the list is no secret: every user chooses from it)."""
    return [t for t in await rows.all_tags(locker.pool) if include_retired or not t.retired]


async def _in_use(locker: Locker, name: str) -> Tag:
    tag = await rows.get(locker.pool, check_name(name))
    if tag is None or tag.retired:
        raise TagNotFound(f"no tag {name!r} on the bureau's list" + (" (it was retired)" if tag else ""))
    return tag


async def _scope(locker: Locker, case_id: str, blake3: str | None) -> str:
    if case_id == GOVERNANCE_CASE:
        raise Invalid("the governance log is not tagged")
    if not blake3:
        return CASE_SCOPE
    hexd = blake3.strip().lower()
    if not any(e.blake3 == hexd for e in await catalog.case_evidence(locker.pool, case_id)):
        raise NotFound(f"case {case_id!r} holds no item {hexd[:80]}")
    return hexd


async def tag(locker: Locker, case_id: str, name: str, *, who: Principal, blake3: str | None = None) -> Appended:
    """Put a tag on one item of a case (``blake3``) or on the whole case; logged as ``tag.added``."""
    authorize(who, "tag.apply")
    await require_read(locker.pool, case_id, who)
    found = await _in_use(locker, name)
    scope = await _scope(locker, case_id, blake3)
    if await rows.is_tagged(locker.pool, case_id, scope, found.name):
        raise AlreadyTagged(f"{'item ' + scope[:16] if scope else 'case ' + case_id} already has tag {found.name!r}")

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.add(conn, case_id, scope, found.name, who.actor)

    return await locker.log.append(case_id, Draft(
        "tag.added", who.actor, {"tag": found.name, "scope": "item" if scope else "case",
                                 **({"blake3": scope} if scope else {})}, blake3=scope or None, rows=write))


async def untag(locker: Locker, case_id: str, name: str, *, who: Principal, blake3: str | None = None) -> Appended:
    """Take a tag off an item or the case; logged as ``tag.removed`` (a retired tag may be taken off)."""
    authorize(who, "tag.apply")
    await require_read(locker.pool, case_id, who)
    name = check_name(name)
    scope = await _scope(locker, case_id, blake3)
    if not await rows.is_tagged(locker.pool, case_id, scope, name):
        raise NotTagged(f"{'item ' + scope[:16] if scope else 'case ' + case_id} has no tag {name!r}")

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.remove(conn, case_id, scope, name)

    return await locker.log.append(case_id, Draft(
        "tag.removed", who.actor, {"tag": name, "scope": "item" if scope else "case",
                                   **({"blake3": scope} if scope else {})}, blake3=scope or None, rows=write))


async def of_case(locker: Locker, case_id: str, *, who: Principal) -> list[Tagged]:
    """The tags of a case and of its items (for those who may read it)."""
    await require_read(locker.pool, case_id, who)
    return await rows.of_case(locker.pool, case_id)
