"""Bookmarks and notes at a moment of a recording (issue 18 item 4), one rule for every front end.

A bookmark names an item of the case by its BLAKE3, a time in milliseconds from the start of the
recording and a note; it is an ``evidence.bookmarked`` entry in the case log naming its author's
principal id, and its id is that entry's seq.  Only its author, or an admin, may edit it
(``evidence.bookmark_edited``) or remove it (``evidence.bookmark_removed``): each is a new entry,
nothing is rewritten.  Who the author is is the log's answer, never the table's (rows are a cache a
superuser could edit; scrub compares them with ``policy.log_state.fold``).

Whoever may read the evidence may bookmark it (``PERMISSIONS``), and only in a case they may read
(``services.restriction.require_read``).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from foundation.errors import Conflict, Forbidden, Invalid, NotFound
from policy.log_state import BOOKMARK_KINDS, fold_bookmarks
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import bookmarks as rows
from storage import catalog
from storage.bookmarks import Bookmark as Bookmark
from storage.log import Draft
from storage.principals import Principal

NOTE_MAX_CHARS = 2000
#: A recording longer than ten days is not one a body camera makes.
MAX_AT_MS = 10 * 24 * 3600 * 1000


class BookmarkNotFound(NotFound):
    code = "bookmark_not_found"


class BookmarkRemoved(Conflict):
    code = "bookmark_removed"


class NotTheAuthor(Forbidden):
    code = "not_the_author"


def _at_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AT_MS:
        raise Invalid(f"at_ms: a whole number of milliseconds from 0 to {MAX_AT_MS}")
    return value


def _note(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("note: text")
    note = value.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise Invalid(f"note: at most {NOTE_MAX_CHARS} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise Invalid("note: no control characters")
    return note


async def add(locker: Locker, case_id: str, blake3: str, *, at_ms: int, note: str, who: Principal) -> Bookmark:
    """Bookmark item ``blake3`` of the case at ``at_ms``; logged as ``evidence.bookmarked``."""
    authorize(who, "bookmark.add")
    await require_read(locker.pool, case_id, who)
    at, text = _at_ms(at_ms), _note(note)
    hexd = blake3.strip().lower()
    if not any(e.blake3 == hexd for e in await catalog.case_evidence(locker.pool, case_id)):
        raise Invalid(f"case {case_id} holds no item {hexd[:80]!r}")

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.insert(conn, case, seq, blake3=hexd, at_ms=at, note=text, author=who.actor, author_id=who.id)

    appended = await locker.log.append(case_id, Draft(
        "evidence.bookmarked", who.actor, {"blake3": hexd, "at_ms": at, "note": text, "author_id": who.id},
        blake3=hexd, rows=write))
    return await _row(locker, case_id, appended.seq)


async def edit(locker: Locker, case_id: str, bookmark_id: int, *, who: Principal, at_ms: int | None = None,
               note: str | None = None) -> Bookmark:
    """Change a bookmark's time and/or note (its author or an admin); logged as ``evidence.bookmark_edited``."""
    authorize(who, "bookmark.edit")
    await require_read(locker.pool, case_id, who)
    logged = await _logged(locker, case_id, bookmark_id, who)
    at = logged["at_ms"] if at_ms is None else _at_ms(at_ms)
    text = logged["note"] if note is None else _note(note)
    if (at, text) == (logged["at_ms"], logged["note"]):
        raise Invalid("nothing to change: give a new time (at_ms) or a new note")

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.edit(conn, case, bookmark_id, at_ms=at, note=text, actor=who.actor)

    await locker.log.append(case_id, Draft(
        "evidence.bookmark_edited", who.actor,
        {"bookmark": bookmark_id, "blake3": logged["blake3"], "at_ms": at, "note": text}, blake3=logged["blake3"],
        rows=write))
    return await _row(locker, case_id, bookmark_id)


async def remove(locker: Locker, case_id: str, bookmark_id: int, *, who: Principal) -> Bookmark:
    """Remove a bookmark from the list (its author or an admin); logged as ``evidence.bookmark_removed``.
    Its entries stay in the log."""
    authorize(who, "bookmark.remove")
    await require_read(locker.pool, case_id, who)
    logged = await _logged(locker, case_id, bookmark_id, who)

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.remove(conn, case, bookmark_id, actor=who.actor)

    await locker.log.append(case_id, Draft(
        "evidence.bookmark_removed", who.actor, {"bookmark": bookmark_id, "blake3": logged["blake3"]},
        blake3=logged["blake3"], rows=write))
    return await _row(locker, case_id, bookmark_id)


async def of_item(locker: Locker, case_id: str, *, who: Principal, blake3: str | None = None) -> list[Bookmark]:
    """The case's bookmarks (or one item's), in time order; removed ones are left out."""
    authorize(who, "bookmark.list")
    await require_read(locker.pool, case_id, who)
    return await rows.of_item(locker.pool, case_id, blake3.strip().lower() if blake3 else None)


def may_change(mark: Bookmark, who: Principal) -> bool:
    """Whether ``who`` is offered Edit and Remove (the service decides again from the log when they act)."""
    return who.role == "admin" or mark.author_id == who.id


async def _logged(locker: Locker, case_id: str, bookmark_id: int, who: Principal) -> dict[str, Any]:
    """The bookmark as the log says it stands, refused unless ``who`` is its author or an admin."""
    found = fold_bookmarks(json.loads(r.body) for r in await locker.log.entries_of_kinds(case_id, BOOKMARK_KINDS))
    logged = found.get(bookmark_id)
    if logged is None:
        raise BookmarkNotFound(f"case {case_id} has no bookmark {bookmark_id}")
    if logged["removed_by"] is not None:
        raise BookmarkRemoved(f"bookmark {bookmark_id} of case {case_id} was removed by {logged['removed_by']}")
    if who.role != "admin" and logged["author_id"] != who.id:
        raise NotTheAuthor(f"only its author ({logged['author']}) or an admin may change bookmark {bookmark_id}")
    return logged


async def _row(locker: Locker, case_id: str, bookmark_id: int) -> Bookmark:
    row = await rows.get(locker.pool, case_id, bookmark_id)
    assert row is not None  # written in the entry's own transaction
    return row
