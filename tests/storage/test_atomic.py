"""Nothing half-written (issue 14 item 9): an entry and the rows it implies commit together, every field
is checked before anything is stored, and an outage between the store write and the entry leaves an
orphan that scrub names and that a retry logs once."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from foundation.errors import Invalid
from integrity.hashing import ContentHasher
from services import evidence
from services.locker import Locker
from services.scrub import leftovers, scrub
from storage import catalog, db, uploads
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog, Draft
from storage.objects import ObjectStore, bytes_source, object_key
from tests.acting import principal

HOST = "evidence.test"
CASE = "C-A1"
NOW = dt.timedelta(0)


def make_locker(pool: asyncpg.Pool, tmp_path: Path) -> Locker:
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    return Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST, archive=store), ring)


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> Locker:
    locker = make_locker(pool, tmp_path)
    await locker.log.open_case(CASE, "investigator:ann", title="atomic")
    return locker


def index_row(file_name: str) -> object:
    """A row writer that indexes an evidence row, bypassing the service's checks (the database's net)."""
    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await catalog.record_evidence(conn, case, seq, "evidence.ingested",
                                      {"blake3": "ab" * 32, "size": 1, "file_name": file_name})
    return write


async def test_a_row_the_database_refuses_rolls_its_entry_back(locker: Locker) -> None:
    with pytest.raises(asyncpg.PostgresError):
        await locker.log.append(CASE, Draft("evidence.ingested", "station:d1", {"n": 1}, rows=index_row("a\x00b")))
    assert (await locker.log.head(CASE))[0] == 1  # only case.opened: no entry without its row
    assert len(await locker.log.entries(CASE)) == 1
    assert (await locker.log.checkpoint(CASE)).size == 1
    assert await catalog.case_evidence(locker.pool, CASE) == []
    good = await locker.log.append(CASE, Draft("evidence.ingested", "station:d1", {"n": 2}, rows=index_row("ok")))
    assert good.seq == 1 and [e.seq for e in await catalog.case_evidence(locker.pool, CASE)] == [1]


async def test_one_refused_draft_in_a_batch_fails_alone(locker: Locker) -> None:
    drafts = [Draft("evidence.ingested", "station:d1", {"n": i},
                    rows=index_row("bad\x00" if i == 7 else f"f{i}")) for i in range(20)]
    results = await asyncio.gather(*(locker.log.append(CASE, d) for d in drafts), return_exceptions=True)
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [7]
    seqs = sorted(r.seq for r in results if not isinstance(r, BaseException))
    assert seqs == list(range(1, 20))  # gap-free
    assert [e.seq for e in await catalog.case_evidence(locker.pool, CASE)] == seqs
    assert (await locker.log.checkpoint(CASE)).size == 20


@pytest.mark.parametrize("file_name", ["scan\x00.pdf", "scan\x07.pdf", "x" * 256 + ".pdf"])
async def test_a_bad_file_name_stores_nothing(locker: Locker, file_name: str) -> None:
    ann = principal("investigator:ann")
    with pytest.raises(Invalid):
        await evidence.add_record(locker, CASE, bytes_source(os.urandom(100)), who=ann, stage="investigation",
                                  file_name=file_name, media_type="application/pdf")
    with pytest.raises(Invalid):
        await evidence.import_file(locker, CASE, bytes_source(os.urandom(100)), who=ann, kind="record.added",
                                   fields={"file_name": file_name, "stage": "investigation"})
    assert await locker.store.object_keys(NOW) == []
    assert (await locker.log.head(CASE))[0] == 1


@pytest.mark.parametrize("value", ["ann\x00", "ann\x1b[31m", "x" * 10_001, {"nested": "a\x00"}])
async def test_any_bad_field_is_refused_before_the_store_write(locker: Locker, value: object) -> None:
    with pytest.raises(Invalid):
        await locker.add_object(CASE, bytes_source(os.urandom(100)), kind="evidence.ingested", actor="station:d1",
                                fields={"file_name": "clip.mp4", "officer": value})
    assert await locker.store.object_keys(NOW) == []
    assert (await locker.log.head(CASE))[0] == 1
    # text with line breaks and tabs is fine
    done = await locker.add_object(CASE, bytes_source(b"ok"), kind="evidence.ingested", actor="station:d1",
                                   fields={"file_name": "clip.mp4", "note": "two\nlines\tand a tab"})
    assert done.created and done.seq == 1


async def test_scrub_names_an_upload_stuck_open(locker: Locker) -> None:
    row = await uploads.create_upload(locker.pool, station="d1", case_id=CASE, kind="original", blake3="cd" * 32,
                                      size=10, fields={}, owner="gone")
    assert await leftovers(locker, grace=NOW, stuck=dt.timedelta(hours=1)) == []
    found = await leftovers(locker, grace=NOW, stuck=NOW)
    assert [(f.code, f.case) for f in found] == [("upload_stuck_open", CASE)]
    assert str(row.id) in found[0].message
    await uploads.finish(locker.pool, row.id, "aborted")
    assert await leftovers(locker, grace=NOW, stuck=NOW) == []


async def test_scrub_takes_the_stuck_limit_from_the_servers_idle_setting(locker: Locker) -> None:
    row = await uploads.create_upload(locker.pool, station="d1", case_id=CASE, kind="original", blake3="ce" * 32,
                                      size=10, fields={}, owner="gone")
    await locker.pool.execute("UPDATE uploads SET updated_at = now() - interval '3 hours' WHERE id = $1", row.id)
    stuck = [f for f in await scrub(locker, orphan_grace=NOW) if f.code == "upload_stuck_open"]
    assert stuck == []  # the default idle limit (24 h) has not passed
    stuck = [f for f in await scrub(locker, orphan_grace=NOW, upload_idle=dt.timedelta(hours=1))
             if f.code == "upload_stuck_open"]
    assert [f.case for f in stuck] == [CASE]  # idle 1 h + the sweep's hour < 3 h without a write
    stuck = [f for f in await scrub(locker, orphan_grace=NOW, upload_idle=dt.timedelta(hours=3))
             if f.code == "upload_stuck_open"]
    assert stuck == []  # 3 h + 1 h: the sweep may not have run yet


async def test_lock_probes_are_not_orphans(locker: Locker) -> None:
    await locker.store.lock_probe(dt.timedelta(seconds=5))
    assert len(await locker.store.object_keys(NOW)) == 1
    assert await leftovers(locker, grace=NOW) == []


async def test_an_outage_during_the_store_write_leaves_an_orphan_that_a_retry_logs_once(tmp_path: Path) -> None:
    """A real PostgreSQL stopped while the bytes are being stored, then started again."""
    pg_dir = tmp_path / "pg"
    url = await asyncio.to_thread(db.start_embedded, pg_dir)
    try:
        async with db_pool(url) as pool:
            locker = make_locker(pool, tmp_path)
            await locker.log.open_case(CASE, "investigator:ann", title="outage")
            data = os.urandom(300_000)
            hasher = ContentHasher()
            hasher.update(data)
            key = object_key(hasher.digest().blake3)

            async def cut_off() -> AsyncIterator[bytes]:
                yield data[:1000]
                await asyncio.to_thread(db.stop_embedded, pg_dir)  # the database goes down mid-write
                yield data[1000:]

            fields = {"file_name": "clip.mp4", "officer": "ann"}
            with pytest.raises(Exception) as caught:
                await locker.add_object(CASE, cut_off(), kind="evidence.ingested", actor="station:d1", fields=fields)
            assert db.outage(caught.value) is not None, caught.value
            assert await locker.store.exists(key)  # the bytes are there, with no row and no entry

            await asyncio.to_thread(db.start_embedded, pg_dir)
            orphans = await leftovers(locker, grace=NOW)
            assert [(f.code, key.split("/")[1] in f.message) for f in orphans] == [("orphan_object", True)]
            assert await leftovers(locker) == []  # younger than the default grace: not reported yet

            first = await locker.add_object(CASE, bytes_source(data), kind="evidence.ingested", actor="station:d1",
                                            fields=fields)
            again = await locker.add_object(CASE, bytes_source(data), kind="evidence.ingested", actor="station:d1",
                                            fields=fields)
            assert first.created and first.seq == 1
            assert not again.created and again.seq == 1
            assert len(await locker.log.entries(CASE)) == 2
            assert [e.seq for e in await catalog.case_evidence(pool, CASE)] == [1]
            assert await locker.store.object_keys(NOW) == [key]  # the object was reused
            assert await scrub(locker, orphan_grace=NOW) == []
    finally:
        await asyncio.to_thread(db.stop_embedded, pg_dir)


def db_pool(url: str) -> object:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def opened() -> AsyncIterator[asyncpg.Pool]:
        conn = await asyncpg.connect(url)
        try:
            await db.migrate(conn)
        finally:
            await conn.close()
        pool = await db.create_pool(url, min_size=1, max_size=4)
        try:
            yield pool
        finally:
            await pool.close()

    return opened()


async def test_object_keys_lists_objects_by_age(store: ObjectStore) -> None:
    """Scrub's search for orphans, on the file store and a real S3 server."""
    stored = await store.put(bytes_source(os.urandom(1000)))
    assert stored.key in await store.object_keys(dt.timedelta(seconds=-5))
    assert stored.key not in await store.object_keys(dt.timedelta(hours=1))
