"""Retention classes, legal holds and disposition against both object stores (file and S3 protocol)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import asyncpg
import pytest

from integrity.hashing import object_key
from policy.retention import RetentionClass
from services import retention, thumbnails
from services.locker import Locker
from services.scrub import scrub
from storage import thumbnails as thumb_rows
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import ObjectLocked, ObjectStore, bytes_source
from tests.acting import principal

HOST = "evidence.test"
OLD = "2020-03-01T08:00:00Z"  # recorded long ago: the standard class (2 years) has run out
FAR = dt.datetime(2090, 1, 1, tzinfo=dt.UTC)

ADMIN = principal("admin:root")


@pytest.fixture
async def locker(pool: asyncpg.Pool, store: ObjectStore, tmp_path: Path) -> Locker:
    ring = KeyRing(tmp_path / "keys")
    return Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST, archive=store), ring)


async def ingest(locker: Locker, case_id: str, n: int = 2, recorded_at: str = OLD) -> list[str]:
    if not await locker.log.case_exists(case_id):
        await locker.log.open_case(case_id, "investigator:ann")
    hashes = []
    for i in range(n):
        appended = await locker.add_object(
            case_id, bytes_source(os.urandom(5000 + i)), kind="evidence.ingested", actor="station:dock-1",
            fields={"file_name": f"clip{i}.mp4", "camera": "CAM-1", "recorded_at": recorded_at})
        hashes.append(json.loads(appended.body)["blake3"])
    return hashes


async def kinds(locker: Locker, case_id: str) -> list[str]:
    return [r.kind for r in await locker.log.entries(case_id)]


async def test_retain_until_comes_from_the_class_and_locks_the_store(locker: Locker) -> None:
    [b3, _] = await ingest(locker, "C-1", recorded_at="2026-11-01T08:00:00Z")
    [row] = [r for r in await retention.case_objects(locker.pool, "C-1") if r["blake3"] == b3]
    assert row["class"] == "standard" and not row["retention_open"]
    assert row["retain_until"] == dt.datetime(2028, 11, 2, tzinfo=dt.UTC)  # 2 years from recording
    with pytest.raises(ObjectLocked):
        await locker.store.delete(object_key(b3))  # the store itself enforces it


async def test_longest_class_wins_and_retention_never_shortens(locker: Locker) -> None:
    [b3] = await ingest(locker, "C-2", n=1, recorded_at="2026-11-01T08:00:00Z")
    await retention.set_class(locker, RetentionClass("long", 7, 0, 0, "recorded"), who=principal("admin:root"),
                              reason="court practice")
    await retention.assign_class(locker, "C-2", "long", blake3=b3, who=principal("investigator:ann"),
                                 reason="appeal likely")
    [row] = await retention.case_objects(locker.pool, "C-2")
    assert row["retain_until"] == dt.datetime(2033, 11, 2, tzinfo=dt.UTC)
    await retention.assign_class(locker, "C-2", "standard", blake3=b3, who=principal("investigator:ann"),
                                 reason="mistake")
    [row] = await retention.case_objects(locker.pool, "C-2")
    assert row["retain_until"] == dt.datetime(2033, 11, 2, tzinfo=dt.UTC)  # extended, never shortened
    assert (await kinds(locker, "C-2")).count("retention.assigned") == 2
    gov = [json.loads(r.body) for r in await locker.log.entries(retention.GOVERNANCE_CASE)]
    assert gov[-1]["kind"] == "retention.class_set" and gov[-1]["reason"] == "court practice"


async def test_case_closed_clock_is_open_until_the_case_closes(locker: Locker) -> None:
    await locker.log.open_case("C-3", "investigator:ann")
    await retention.assign_class(locker, "C-3", "case", blake3=None, who=principal("admin:root"), reason="policy")
    [b3] = await ingest(locker, "C-3", n=1)
    [row] = await retention.case_objects(locker.pool, "C-3")
    assert row["retention_open"]  # not closed: never due, however old the recording
    assert not (await retention.plan_disposition(locker, now=FAR)).disposed
    await retention.close_case(locker, "C-3", who=principal("investigator:ann"), reason="decision executed",
                               at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))
    [row] = await retention.case_objects(locker.pool, "C-3")
    assert not row["retention_open"] and row["retain_until"] == dt.datetime(2036, 1, 11, tzinfo=dt.UTC)
    assert b3 in [d.blake3 for d in (await retention.plan_disposition(locker, now=FAR)).disposed]


async def test_dry_run_lists_and_deletes_nothing(locker: Locker) -> None:
    hashes = await ingest(locker, "C-4")
    before = len(await kinds(locker, "C-4"))
    report = await retention.plan_disposition(locker)
    assert sorted(d.blake3 for d in report.disposed) == sorted(hashes)
    for b3 in hashes:
        assert await locker.store.exists(object_key(b3))
    assert len(await kinds(locker, "C-4")) == before


async def test_disposition_deletes_and_keeps_the_log(locker: Locker) -> None:
    hashes = await ingest(locker, "C-5")
    report = await retention.run_disposition(locker, who=ADMIN)
    assert sorted(d.blake3 for d in report.disposed) == sorted(hashes) and not report.failed
    for b3 in hashes:
        assert not await locker.store.exists(object_key(b3))
    entries = [json.loads(r.body) for r in await locker.log.entries("C-5")]
    disposed = [e for e in entries if e["kind"] == "retention.disposed"]
    assert sorted(e["blake3"] for e in disposed) == sorted(hashes)
    assert all(e["size"] > 0 and len(e["sha256"]) == 64 for e in disposed)
    assert [e["kind"] for e in entries].count("evidence.ingested") == 2  # the proof it existed remains
    again = await retention.run_disposition(locker, who=ADMIN)
    assert not again.disposed and not again.failed  # nothing twice
    assert await scrub(locker) == []  # what was disposed of under retention is not missing


async def test_disposition_refuses_a_held_item_and_a_held_case(locker: Locker) -> None:
    [a, b] = await ingest(locker, "C-6")
    item = await retention.place_hold(locker, "C-6", blake3=a, reason="complaint filed",
                                      who=principal("investigator:ann"))
    report = await retention.run_disposition(locker, who=ADMIN)
    assert [d.blake3 for d in report.disposed] == [b]
    assert [d.blake3 for d in report.held] == [a] and report.held[0].held_by == [item.id]
    assert await locker.store.exists(object_key(a))
    with pytest.raises(ObjectLocked):
        await locker.store.delete(object_key(a))  # the store's legal hold, not only our query

    [c] = await ingest(locker, "C-6", n=1, recorded_at="2019-05-05T00:00:00Z")
    whole = await retention.place_hold(locker, "C-6", blake3=None, reason="litigation", who=principal("admin:root"))
    await retention.lift_hold(locker, item.id, who=principal("investigator:ann"), reason="settled")
    assert not (await retention.run_disposition(locker, who=ADMIN)).disposed  # the case hold still covers a and c
    assert await locker.store.exists(object_key(a)) and await locker.store.exists(object_key(c))
    await retention.lift_hold(locker, whole.id, who=principal("admin:root"), reason="litigation over")
    assert sorted(d.blake3 for d in (await retention.run_disposition(locker, who=ADMIN)).disposed) == sorted([a, c])
    assert (await kinds(locker, "C-6")).count("hold.placed") == 2


async def test_a_case_hold_covers_evidence_that_arrives_later(locker: Locker) -> None:
    await locker.log.open_case("C-7", "investigator:ann")
    await retention.place_hold(locker, "C-7", blake3=None, reason="preserve everything",
                               who=principal("investigator:ann"))
    [b3] = await ingest(locker, "C-7", n=1)
    assert (await locker.store.head(object_key(b3))).legal_hold
    assert not (await retention.run_disposition(locker, who=ADMIN)).disposed


async def test_only_the_placer_or_an_admin_lifts_a_hold(locker: Locker) -> None:
    await ingest(locker, "C-8", n=1)
    hold = await retention.place_hold(locker, "C-8", blake3=None, reason="x", who=principal("investigator:ann"))
    with pytest.raises(retention.NotAllowed):
        await retention.lift_hold(locker, hold.id, who=principal("investigator:bob"), reason="mine now")
    with pytest.raises(retention.RetentionError):
        await retention.lift_hold(locker, hold.id, who=principal("investigator:ann"), reason=" ")
    await retention.lift_hold(locker, hold.id, who=principal("investigator:ann"), reason="done")
    with pytest.raises(retention.RetentionError):
        await retention.lift_hold(locker, hold.id, who=principal("admin:root"), reason="again")


async def test_store_refuses_deletion_before_retain_until(locker: Locker) -> None:
    """The database may think an object is due (a clock injected far ahead); the store still says no."""
    [b3] = await ingest(locker, "C-9", n=1, recorded_at=dt.datetime.now(dt.UTC).isoformat())
    report = await retention.run_disposition(locker, now=FAR, who=ADMIN)
    assert [d.blake3 for d, _ in report.failed] == [b3] and not report.disposed
    assert await locker.store.exists(object_key(b3))
    assert "retention.disposed" not in await kinds(locker, "C-9")
    [row] = await retention.case_objects(locker.pool, "C-9")
    assert row["disposed_at"] is None


async def test_a_disposal_killed_after_the_delete_is_finished_next_run(locker: Locker) -> None:
    [b3] = await ingest(locker, "C-10", n=1)
    await locker.pool.execute("UPDATE objects SET disposing_since = now() WHERE blake3 = $1", b3)
    await locker.store.delete(object_key(b3))  # the run died right after deleting
    report = await retention.run_disposition(locker, who=ADMIN)
    assert [d.blake3 for d in report.disposed] == [b3]
    assert (await kinds(locker, "C-10")).count("retention.disposed") == 1


async def test_changing_a_class_moves_the_objects_already_under_it(locker: Locker) -> None:
    [b3] = await ingest(locker, "C-11", n=1, recorded_at="2026-11-01T08:00:00Z")
    await retention.set_class(locker, RetentionClass("standard", 10, 0, 0, "recorded"), who=principal("admin:root"),
                              reason="new archive rules")
    [row] = await retention.case_objects(locker.pool, "C-11")
    assert row["retain_until"] == dt.datetime(2036, 11, 2, tzinfo=dt.UTC)
    await retention.set_class(locker, RetentionClass("standard", 1, 0, 0, "recorded"), who=principal("admin:root"),
                              reason="shorter")
    [row] = await retention.case_objects(locker.pool, "C-11")
    assert row["retain_until"] == dt.datetime(2036, 11, 2, tzinfo=dt.UTC)  # never earlier
    assert b3 not in [d.blake3 for d in (await retention.plan_disposition(locker,
                      now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))).disposed]


async def test_bytes_stored_again_after_disposal_are_new_evidence_with_entries_of_their_own(locker: Locker) -> None:
    from services.intake import UploadManager

    data = os.urandom(6000)
    fields = {"file_name": "clip.mp4", "camera": "CAM-1", "recorded_at": OLD}
    await locker.log.open_case("C-L", "investigator:ann")

    async def store_it() -> tuple[int, bool]:
        appended = await locker.add_object("C-L", bytes_source(data), kind="evidence.ingested",
                                           actor="station:dock-1", fields=fields)
        return appended.seq, appended.created

    first, _ = await store_it()
    b3 = json.loads((await locker.log.entry("C-L", first)).body)["blake3"]
    uploads = UploadManager(locker, "test-server")
    upload = {"who": principal("station:dock-1"), "case_id": "C-L", "kind": "original", "blake3": b3,
              "size": len(data), "fields": {"file_name": "clip.mp4"}}
    assert (await uploads.create(**upload)).state == "committed"  # held: the existing receipt answers
    assert b3 in [d.blake3 for d in (await retention.run_disposition(locker, who=ADMIN)).disposed]

    # Disposed: a station offering the same bytes must not get the old receipt (it would wipe its copy).
    assert (await uploads.create(**upload)).state == "open"
    second, created = await store_it()
    assert created and second > first
    assert (await store_it()) == (second, False)  # a retry of the new life is idempotent
    assert b"".join([c async for c in locker.store.get(object_key(b3))]) == data
    assert (await uploads.create(**upload)).state == "committed"

    # The second life can be disposed of in turn, with its own entry.
    assert b3 in [d.blake3 for d in (await retention.run_disposition(locker, who=ADMIN)).disposed]
    story = [r.kind for r in await locker.log.entries_for_object(b3, "C-L")]
    assert story == ["evidence.ingested", "retention.disposed", "evidence.ingested", "retention.disposed"]
    assert await scrub(locker) == []


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")
async def test_a_still_goes_with_the_proxy_it_was_made_from(locker: Locker, tmp_path: Path) -> None:
    """A thumbnail shows what the recording showed: disposing of the proxy disposes of its still, logged."""
    [original] = await ingest(locker, "C-STILL", n=1)
    clip = tmp_path / "proxy.mp4"
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10",
        "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))
    assert await proc.wait() == 0
    appended = await locker.add_object("C-STILL", bytes_source(clip.read_bytes()), kind="evidence.derived",
                                       actor="station:dock-1", fields={"file_name": "clip.proxy.mp4",
                                                                       "media_type": "video/mp4", "recorded_at": OLD,
                                                                       "original_blake3": original})
    proxy = json.loads(appended.body)["blake3"]
    made = await thumbnails.make(locker, "C-STILL", proxy)
    assert made is not None
    still = json.loads(made.body)["blake3"]
    report = await retention.run_disposition(locker, who=ADMIN)
    assert proxy in [d.blake3 for d in report.disposed] and report.stills == 1
    assert not await locker.store.exists(object_key(still))
    disposed = [json.loads(r.body) for r in await locker.log.entries("C-STILL")
                if json.loads(r.body)["kind"] == "retention.disposed"]
    assert {e["blake3"] for e in disposed} == {original, proxy, still}
    assert await thumb_rows.of_case(locker.pool, "C-STILL") == {}  # no list shows a still that is gone
    assert (await retention.run_disposition(locker, who=ADMIN)).stills == 0  # nothing twice
    assert await scrub(locker) == []
