"""Organising and finding in the service layer (issue 18, item 3): the bureau's tag list and tags,
search with facets under need to know (Chinese free text included), stills made by ffmpeg from a real
proxy, assignment from an intake case, bulk actions with per-item results, and scrub catching a
tampered tag row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from blake3 import blake3

from foundation.errors import Forbidden, Invalid
from integrity.bundle_files import verify_bundle
from policy.cases import GOVERNANCE_CASE
from policy.errors import Restricted
from services import assignment, bulk, restriction, scrub, search, tags, thumbnails
from services.locker import Locker
from storage import thumbnails as thumb_rows
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import bytes_source
from storage.principals import Principal
from tests.acting import add_principal, principal

HOST = "evidence.test"
CASE, SECRET, INTAKE = "C-O1", "C-O2", "INTAKE-officer-7-20261120"
CLIP = b"body camera clip " * 1000
PROXY = b"proxy of the clip " * 300
RECORD = "询问笔录：当事人张三承认在人民路占道经营，现场有烧烤摊。".encode()
SECRET_RECORD = "询问笔录：未成年人李四在场。".encode()
IDS: dict[str, int] = {}


def user(actor: str) -> Principal:
    return principal(actor, IDS.get(actor.partition(":")[2], 0))


ANN, BOB, ROOT = "investigator:ann", "investigator:bob", "admin:root"


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """Case C-O1 (ann's: a clip with its proxy and a Chinese inquiry record), case C-O2 restricted to ann,
    and an intake case holding a clip of officer-7's."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST, archive=store), ring)
    for name, role in (("ann", "investigator"), ("bob", "investigator"), ("root", "admin")):
        IDS[name] = (await add_principal(locker, name, role))[0].id
    for case, title in ((CASE, "人民路占道经营"), (SECRET, "涉及未成年人"), (INTAKE, "Intake: officer-7 20261120")):
        await locker.log.open_case(case, ANN, title=title, handler_id=IDS["ann"])
    await locker.add_object(CASE, bytes_source(CLIP), kind="evidence.ingested", actor="station:dock",
                            fields={"file_name": "clip.mp4", "media_type": "video/mp4", "officer": "officer-7",
                                    "camera": "CAM-9", "station": "dock-1", "stage": "investigation",
                                    "recorded_at": "2026-11-20T00:30:00Z"})
    await locker.add_object(CASE, bytes_source(PROXY), kind="evidence.derived", actor="station:dock",
                            fields={"file_name": "clip.proxy.mp4", "media_type": "video/mp4",
                                    "original_blake3": blake3(CLIP).hexdigest()})
    await locker.add_object(CASE, bytes_source(RECORD), kind="record.added", actor=ANN,
                            fields={"file_name": "inquiry.txt", "media_type": "text/plain; charset=utf-8",
                                    "stage": "investigation", "title": "询问笔录（张三）"})
    await locker.add_object(SECRET, bytes_source(SECRET_RECORD), kind="record.added", actor=ANN,
                            fields={"file_name": "minor.txt", "media_type": "text/plain", "stage": "investigation",
                                    "officer": "officer-7"})
    await restriction.set_level(locker, SECRET, "privacy", who=user(ANN), reason="a minor is named")
    await locker.add_object(INTAKE, bytes_source(b"intake clip " * 500), kind="evidence.ingested",
                            actor="station:dock", fields={"file_name": "CAM9_0002.mp4", "media_type": "video/mp4",
                                                          "officer": "officer-7", "camera": "CAM-9"})
    yield locker
    await store.close()


async def test_only_admins_keep_the_list_and_every_change_is_logged(locker: Locker) -> None:
    with pytest.raises(Forbidden):
        await tags.define(locker, "noise", label_zh="噪声", label_en="Noise", who=user(ANN))
    await tags.define(locker, "noise", label_zh="噪声", label_en="Noise", who=user(ROOT))
    with pytest.raises(Invalid):
        await tags.define(locker, "Bad Name", label_zh="坏", label_en="Bad", who=user(ROOT))
    await tags.retire(locker, "noise", who=user(ROOT))
    assert [t.name for t in await tags.bureau_list(locker)] == []
    kinds = [r.kind for r in await locker.log.entries(GOVERNANCE_CASE)]
    assert kinds[-2:] == ["tag.defined", "tag.retired"]
    with pytest.raises(tags.TagNotFound):  # a retired tag is put on nothing new
        await tags.tag(locker, CASE, "noise", who=user(ANN))


async def test_tags_on_items_and_cases_are_entries_and_scrub_catches_a_tampered_row(locker: Locker) -> None:
    await tags.define(locker, "vending", label_zh="占道经营", label_en="Street vending", who=user(ROOT))
    await tags.define(locker, "minor", label_zh="未成年人", label_en="Minor", who=user(ROOT))
    clip = blake3(CLIP).hexdigest()
    await tags.tag(locker, CASE, "vending", who=user(ANN), blake3=clip)
    await tags.tag(locker, CASE, "vending", who=user(ANN))
    with pytest.raises(tags.AlreadyTagged):
        await tags.tag(locker, CASE, "vending", who=user(ANN))
    with pytest.raises(Restricted):  # need to know: bob may not read the restricted case
        await tags.tag(locker, SECRET, "minor", who=user(BOB))
    bodies = [json.loads(r.body) for r in await locker.log.entries_of_kinds(CASE, ("tag.",))]
    assert [(b["kind"], b["scope"], b.get("blake3")) for b in bodies] == [
        ("tag.added", "item", clip), ("tag.added", "case", None)]
    assert await scrub.scrub(locker, CASE) == []
    assert await scrub.scrub(locker, GOVERNANCE_CASE) == []
    # Someone with the database puts a tag on the case and relabels the bureau's list: both are reported.
    await locker.pool.execute("INSERT INTO item_tags (case_id, blake3, tag, tagged_by) VALUES ($1, '', 'minor', 'x')",
                              CASE)
    await locker.pool.execute("UPDATE tags SET label_en = 'Other' WHERE name = 'vending'")
    assert [f.code for f in await scrub.scrub(locker, CASE)] == ["tag_unlogged"]
    assert [f.code for f in await scrub.scrub(locker, GOVERNANCE_CASE)] == ["tag_list_mismatch"]
    await tags.untag(locker, CASE, "vending", who=user(ANN), blake3=clip)
    assert [(t.blake3, t.tag) for t in await tags.of_case(locker, CASE, who=user(ANN))] == [
        ("", "minor"), ("", "vending")]


async def test_search_facets_need_to_know_and_chinese_text(locker: Locker) -> None:
    await tags.define(locker, "vending", label_zh="占道经营", label_en="Street vending", who=user(ROOT))
    await tags.tag(locker, CASE, "vending", who=user(ANN))
    # Chinese inside a longer run of Chinese, in a text record's text
    found = await search.search(locker, who=user(BOB), text="烧烤")
    assert [(h.case_id, h.file_name) for h in found.hits] == [(CASE, "inquiry.txt")]
    found = await search.search(locker, who=user(BOB), text="笔录")  # in the title and both records' text
    assert {h.case_id for h in found.hits} == {CASE}  # the restricted case is not among them for bob
    assert found.total == 1
    # bob sees no trace of the restricted case: not in the hits, not in any count
    everything = await search.search(locker, who=user(BOB))
    assert SECRET not in {h.case_id for h in everything.hits}
    assert SECRET not in dict(everything.facets["case"])
    assert dict(everything.facets["officer"]) == {"officer-7": 2}  # C-O1's clip and the intake clip
    assert dict(everything.facets["kind"]) == {"evidence.ingested": 2, "record.added": 1}
    assert dict(everything.facets["tag"]) == {"vending": 2}  # the case tag covers both items of C-O1
    # ann handles the restricted case: she finds it, and it counts for her
    mine = await search.search(locker, who=user(ANN), text="未成年人")
    assert [h.case_id for h in mine.hits] == [SECRET]
    assert dict((await search.search(locker, who=user(ANN))).facets["officer"]) == {"officer-7": 3}
    # facets combine; a facet's own counts ignore its own choice
    by_tag = await search.search(locker, who=user(BOB), values={"tag": "vending", "kind": "evidence.ingested"})
    assert [h.file_name for h in by_tag.hits] == ["clip.mp4"]
    assert dict(by_tag.facets["kind"]) == {"evidence.ingested": 1, "record.added": 1}
    # the date range: 2026-11-20 08:30 in Shanghai is 00:30 UTC
    zone = dt.timezone(dt.timedelta(hours=8))
    day = await search.search(locker, who=user(BOB), since=dt.datetime(2026, 11, 20, tzinfo=zone),
                              until=dt.datetime(2026, 11, 21, tzinfo=zone), values={"camera": "CAM-9"})
    assert [h.file_name for h in day.hits] == ["clip.mp4"]
    before = await search.search(locker, who=user(BOB), until=dt.datetime(2026, 11, 20, 8, tzinfo=zone),
                                 values={"camera": "CAM-9"})
    assert before.hits == []
    # wildcards in the text are taken literally
    assert (await search.search(locker, who=user(BOB), text="%")).hits == []
    with pytest.raises(Invalid):
        await search.search(locker, who=user(BOB), values={"colour": "red"})


async def test_assigning_from_the_intake_case_logs_in_both(locker: Locker) -> None:
    clip = blake3(b"intake clip " * 500).hexdigest()
    with pytest.raises(Invalid):
        await assignment.assign(locker, INTAKE, clip, CASE, who=user(ANN), reason="")
    with pytest.raises(Invalid):  # only from an intake case
        await assignment.assign(locker, CASE, blake3(CLIP).hexdigest(), SECRET, who=user(ANN), reason="x")
    done = await assignment.assign(locker, INTAKE, clip, CASE, who=user(ANN), reason="占道经营现场")
    moved = json.loads((await locker.log.entry(CASE, done.to_seq)).body)
    assert (moved["kind"], moved["blake3"], moved["assigned_from"], moved["file_name"]) == (
        "evidence.ingested", clip, INTAKE, "CAM9_0002.mp4")
    note = json.loads((await locker.log.entries_of_kinds(INTAKE, ("evidence.assigned",)))[0].body)
    assert (note["to_case"], note["to_seq"], note["reason"]) == (CASE, done.to_seq, "占道经营现场")
    assert await assignment.assignments(locker, INTAKE) == {clip: CASE}
    with pytest.raises(assignment.AlreadyAssigned):
        await assignment.assign(locker, INTAKE, clip, CASE, who=user(ANN), reason="again")
    assert await scrub.scrub(locker, CASE) == []
    assert await scrub.scrub(locker, INTAKE) == []


async def test_bulk_actions_report_each_item(locker: Locker, tmp_path: Path) -> None:
    await tags.define(locker, "vending", label_zh="占道经营", label_en="Street vending", who=user(ROOT))
    clip, record = blake3(CLIP).hexdigest(), blake3(RECORD).hexdigest()
    ghost = "0" * 64
    results = await bulk.run(locker, CASE, "tag", [clip, record, ghost], who=user(ANN), tag="vending")
    assert [(r.ok, r.code) for r in results] == [(True, ""), (True, ""), (False, "not_found")]
    again = await bulk.run(locker, CASE, "tag", [clip], who=user(ANN), tag="vending")
    assert [(r.ok, r.code) for r in again] == [(False, "already_tagged")]
    held = await bulk.run(locker, CASE, "hold", [clip, ghost], who=user(ANN), reason="appeal")
    assert [r.ok for r in held] == [True, False]
    refused = await bulk.run(locker, CASE, "hold", [clip], who=user(BOB.replace("investigator", "reviewer")),
                             reason="x")
    assert [r.code for r in refused] == ["forbidden"]
    shared = await bulk.run(locker, CASE, "share", [clip, record], who=user(ANN),
                            share={"organisation": "区人民检察院", "person": "李检察官", "purpose": "审查起诉",
                                   "days": 7})
    assert all(r.ok for r in shared) and len({r.detail["share"] for r in shared if r.detail}) == 1
    intake_clip = blake3(b"intake clip " * 500).hexdigest()
    moved = await bulk.run(locker, INTAKE, "assign", [intake_clip, clip], who=user(ANN), to_case=CASE, reason="现场")
    assert [(r.ok, r.code) for r in moved] == [(True, ""), (False, "not_found")]
    out = tmp_path / "selection.zip"
    exported = await bulk.export(locker, CASE, [record, ghost], out, who=user(ANN), purpose="审查起诉")
    assert [r.ok for r in exported] == [True, False]
    with zipfile.ZipFile(out) as z:
        objects = {n for n in z.namelist() if n.startswith("objects/")}
    assert objects == {f"objects/{record}"}
    assert verify_bundle(out).ok
    accesses = [json.loads(r.body) for r in await locker.log.entries_of_kinds(CASE, ("evidence.accessed",))]
    assert [(a["action"], a.get("object")) for a in accesses] == [("export", record)]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")
async def test_a_still_and_duration_made_by_ffmpeg_from_a_real_proxy(locker: Locker, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip))
    assert await proc.wait() == 0
    original = blake3(CLIP).hexdigest()
    appended = await locker.add_object(CASE, bytes_source(clip.read_bytes()), kind="evidence.derived",
                                       actor="station:dock", fields={"file_name": "clip.proxy2.mp4",
                                                                     "media_type": "video/mp4",
                                                                     "original_blake3": original})
    proxy = json.loads(appended.body)["blake3"]
    made = await thumbnails.make(locker, CASE, proxy)
    assert made is not None
    entry = json.loads(made.body)
    assert entry["kind"] == "evidence.thumbnail" and entry["of_blake3"] == proxy
    assert 2900 <= entry["duration_ms"] <= 3100
    still = b"".join([c async for c in locker.store.get(f"blake3/{entry['blake3']}")])
    assert still[:3] == b"\xff\xd8\xff"  # a JPEG
    assert (await thumb_rows.of_case(locker.pool, CASE))[original].blake3 == entry["blake3"]
    # the second proxy (bytes, no video) has none; the backfill makes what is missing, once
    made_now, failed = await thumbnails.backfill(locker, who=user(ROOT))
    assert (made_now, len(failed)) == (0, 1)  # the text "proxy" of the fixture: ffprobe cannot read it
    again = await thumbnails.make(locker, CASE, proxy)
    assert again is not None and again.seq == made.seq and not again.created
    assert await scrub.scrub(locker, CASE) == []
    bundle = tmp_path / "case.zip"  # the still travels in the case bundle like any logged object, and verifies
    await locker.write_bundle(CASE, bundle, with_media=True)
    assert verify_bundle(bundle).ok
    with zipfile.ZipFile(bundle) as z:
        assert f"objects/{entry['blake3']}" in z.namelist()
    await locker.pool.execute("UPDATE thumbnails SET duration_ms = 1 WHERE case_id = $1", CASE)
    assert [f.code for f in await scrub.scrub(locker, CASE)] == ["thumbnail_mismatch"]
