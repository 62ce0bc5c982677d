"""Bookmarks at a moment of a recording in the service layer: who may bookmark, the author-only edit and
removal (decided from the log), need to know, the entries, and scrub re-deriving the table from the log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from blake3 import blake3

from foundation.errors import Invalid
from policy.errors import Restricted
from services import bookmarks, restriction
from services.bookmarks import BookmarkNotFound, BookmarkRemoved, NotTheAuthor
from services.locker import Locker
from services.scrub import scrub
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import bytes_source
from storage.principals import Principal
from tests.acting import add_principal, principal
from tests.storage.test_scrub import superuser

HOST = "evidence.test"
CASE = "C-B1"
CLIP = b"body camera clip " * 1000
PROXY = b"proxy of the clip " * 300
IDS: dict[str, int] = {}
ORIGINAL = blake3(CLIP).hexdigest()


def user(actor: str) -> Principal:
    return principal(actor, IDS[actor.partition(":")[2]])


ANN, BOB, REX, ROOT = "investigator:ann", "investigator:bob", "reviewer:rex", "admin:root"


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """A case handled by ann holding a clip and its proxy."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring)
    for name, role in (("ann", "investigator"), ("bob", "investigator"), ("rex", "reviewer"), ("root", "admin"),
                       ("dora", "disclosure")):
        IDS[name] = (await add_principal(locker, name, role))[0].id
    await locker.log.open_case(CASE, ANN, title="Noise complaint", handler_id=IDS["ann"])
    await locker.add_object(CASE, bytes_source(CLIP), kind="evidence.ingested", actor="station:dock",
                            fields={"file_name": "clip.mp4", "media_type": "video/mp4", "frame_rate": "25/1"})
    await locker.add_object(CASE, bytes_source(PROXY), kind="evidence.derived", actor="station:dock",
                            fields={"file_name": "clip.proxy.mp4", "media_type": "video/mp4",
                                    "original_blake3": ORIGINAL})
    yield locker
    await store.close()


async def kinds(locker: Locker) -> list[str]:
    return [r.kind for r in await locker.log.entries(CASE)]


async def test_a_bookmark_is_an_entry_naming_item_time_note_and_author(locker: Locker) -> None:
    mark = await bookmarks.add(locker, CASE, ORIGINAL, at_ms=1040, note="  车辆驶入  ", who=user(ANN))
    entry = json.loads((await locker.log.entry(CASE, mark.id)).body)
    assert entry["kind"] == "evidence.bookmarked" and entry["actor"] == ANN
    assert {k: entry[k] for k in ("blake3", "at_ms", "note", "author_id")} == {
        "blake3": ORIGINAL, "at_ms": 1040, "note": "车辆驶入", "author_id": IDS["ann"]}
    listed = await bookmarks.of_item(locker, CASE, who=user(REX), blake3=ORIGINAL)
    assert [(m.id, m.at_ms, m.note, m.author) for m in listed] == [(mark.id, 1040, "车辆驶入", ANN)]


async def test_only_the_author_or_an_admin_edits_or_removes_and_each_change_is_a_new_entry(locker: Locker) -> None:
    mark = await bookmarks.add(locker, CASE, ORIGINAL, at_ms=500, note="first", who=user(ANN))
    before = await kinds(locker)
    for who in (BOB, REX):
        with pytest.raises(NotTheAuthor):
            await bookmarks.edit(locker, CASE, mark.id, who=user(who), note="not mine")
        with pytest.raises(NotTheAuthor):
            await bookmarks.remove(locker, CASE, mark.id, who=user(who))
    assert await kinds(locker) == before  # nothing half-written
    edited = await bookmarks.edit(locker, CASE, mark.id, who=user(ANN), at_ms=520, note="second")
    assert (edited.at_ms, edited.note, edited.edited_by, edited.edits) == (520, "second", ANN, 1)
    by_admin = await bookmarks.edit(locker, CASE, mark.id, who=user(ROOT), note="third")
    assert (by_admin.at_ms, by_admin.note, by_admin.edited_by) == (520, "third", ROOT)
    await bookmarks.remove(locker, CASE, mark.id, who=user(ANN))
    assert await bookmarks.of_item(locker, CASE, who=user(ANN)) == []
    with pytest.raises(BookmarkRemoved):
        await bookmarks.edit(locker, CASE, mark.id, who=user(ANN), note="again")
    assert (await kinds(locker))[len(before):] == [
        "evidence.bookmark_edited", "evidence.bookmark_edited", "evidence.bookmark_removed"]
    # The first entry is untouched: the log still says what the bookmark first said.
    assert json.loads((await locker.log.entry(CASE, mark.id)).body)["note"] == "first"
    assert not [f for f in await scrub(locker, CASE) if f.code.startswith("bookmark")]


async def test_the_author_is_the_logs_answer_not_the_tables(locker: Locker) -> None:
    mark = await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="ann's", who=user(ANN))
    await superuser(locker.pool, "UPDATE bookmarks SET author = $3, author_id = $4 WHERE case_id = $1 AND id = $2",
                    CASE, mark.id, BOB, IDS["bob"])
    with pytest.raises(NotTheAuthor):
        await bookmarks.edit(locker, CASE, mark.id, who=user(BOB), note="taken over")


async def test_who_may_bookmark_and_what(locker: Locker) -> None:
    with pytest.raises(Exception, match="may not bookmark: add") as refused:
        await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="", who=user("disclosure:dora"))
    assert getattr(refused.value, "code", "") == "forbidden"
    with pytest.raises(Invalid, match="holds no item"):
        await bookmarks.add(locker, CASE, "ab" * 32, at_ms=0, note="", who=user(ANN))
    for at_ms in (-1, bookmarks.MAX_AT_MS + 1, True):
        with pytest.raises(Invalid, match="at_ms"):
            await bookmarks.add(locker, CASE, ORIGINAL, at_ms=at_ms, note="", who=user(ANN))
    with pytest.raises(Invalid, match="note"):
        await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="x" * 2001, who=user(ANN))
    with pytest.raises(BookmarkNotFound):
        await bookmarks.edit(locker, CASE, 999, who=user(ANN), note="x")
    mark = await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="same", who=user(ANN))
    with pytest.raises(Invalid, match="nothing to change"):
        await bookmarks.edit(locker, CASE, mark.id, who=user(ANN), note="same")


async def test_need_to_know(locker: Locker) -> None:
    await restriction.set_level(locker, CASE, "privacy", who=user(ANN), reason="a minor is filmed")
    with pytest.raises(Restricted):
        await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="", who=user(BOB))
    with pytest.raises(Restricted):
        await bookmarks.of_item(locker, CASE, who=user(BOB))
    assert await bookmarks.add(locker, CASE, ORIGINAL, at_ms=0, note="", who=user(ANN))


@pytest.mark.parametrize(("sql", "code"), [
    pytest.param("UPDATE bookmarks SET note = 'nothing happens here' WHERE case_id = $1", "bookmark_mismatch",
                 id="note-rewritten"),
    pytest.param("UPDATE bookmarks SET at_ms = at_ms + 40 WHERE case_id = $1", "bookmark_mismatch", id="time-moved"),
    pytest.param("UPDATE bookmarks SET removed_by = 'admin:root' WHERE case_id = $1", "bookmark_mismatch",
                 id="hidden-from-the-list"),
    pytest.param("DELETE FROM bookmarks WHERE case_id = $1", "bookmark_missing", id="row-deleted"),
    pytest.param("INSERT INTO bookmarks (case_id, id, blake3, at_ms, note, author, author_id) "
                 "SELECT case_id, id + 100, blake3, 0, 'planted', author, author_id FROM bookmarks WHERE case_id = $1",
                 "bookmark_unlogged", id="row-planted"),
])
async def test_scrub_catches_a_tampered_bookmark_row(locker: Locker, sql: str, code: str) -> None:
    await bookmarks.add(locker, CASE, ORIGINAL, at_ms=2000, note="门口争执", who=user(ANN))
    assert not [f for f in await scrub(locker, CASE) if f.code.startswith("bookmark")]
    await superuser(locker.pool, sql, CASE)
    found = [f for f in await scrub(locker, CASE) if f.code.startswith("bookmark")]
    assert [f.code for f in found] == [code], found
