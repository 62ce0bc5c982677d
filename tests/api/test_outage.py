"""A database outage: every route answers 503 ``database_unavailable`` with ``Retry-After``, and the
server recovers by itself when the database is back (no restart)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import asyncpg
from blake3 import blake3

from api.auth import TOKENS
from storage import db
from tests.api.conftest import check_receipt, serving, settings_for

ROUTES = [("GET", "/api/v1/cases", "investigator"), ("GET", "/api/v1/cases/CASE-1", "investigator"),
          ("GET", "/api/v1/principals", "admin"), ("GET", "/public/api/records", None),
          ("GET", "/api/v1/keys", None)]


async def test_a_database_stop_gives_503_and_the_server_recovers_without_restart(tmp_path: Path) -> None:
    pg_dir = tmp_path / "pg"
    url = await asyncio.to_thread(db.start_embedded, pg_dir)
    try:
        conn = await asyncpg.connect(url)
        try:
            await db.migrate(conn)
        finally:
            await conn.close()
        async with serving(settings_for("file", tmp_path / "home", url, None)) as api:
            for method, path, who in ROUTES:
                status, _ = await api.call(method, path, who)
                assert status == 200, path
            await asyncio.to_thread(db.stop_embedded, pg_dir)
            api.app[TOKENS]._entries.clear()  # the tokens must be looked up again, in the database
            for _ in range(2):  # the pool's old connections die first, then new ones are refused
                for method, path, who in ROUTES:
                    if path == "/api/v1/keys":
                        continue  # served from the key ring in memory: it needs no database
                    async with api.http.request(method, api.base + path,
                                                headers=api.auth(who) if who else {}) as resp:
                        body = await resp.json()
                        assert resp.status == 503, (path, body)
                        assert body["error"] == "database_unavailable"
                        assert int(resp.headers["Retry-After"]) > 0
            status, health = await api.call("GET", "/healthz")
            assert status == 503 and health["database"].startswith("failed")
            await asyncio.to_thread(db.start_embedded, pg_dir)
            for method, path, who in ROUTES:
                status, body = await api.call(method, path, who)
                assert status == 200, (path, body)
            status, health = await api.call("GET", "/healthz")
            assert status == 200
    finally:
        await asyncio.to_thread(db.stop_embedded, pg_dir)


async def test_an_upload_cut_off_by_an_outage_is_retried_cleanly(tmp_path: Path) -> None:
    """The database stops mid-upload: 503, then, with the database back, the station's retry commits:
    the stored bytes are reused, the entry is appended once and the receipt verifies."""
    pg_dir = tmp_path / "pg"
    url = await asyncio.to_thread(db.start_embedded, pg_dir)
    try:
        conn = await asyncpg.connect(url)
        try:
            await db.migrate(conn)
        finally:
            await conn.close()
        async with serving(settings_for("file", tmp_path / "home", url, None)) as api:
            data = os.urandom(2 * 1024 * 1024 + 77)
            status, up = await api.declare(data, "CASE-1")
            assert status == 201, up
            path = f"/api/v1/uploads/{up['id']}"
            status, body = await api.call("PUT", f"{path}?offset=0", "station", data=data[:1024 * 1024])
            assert status == 200 and body["state"] == "open", body
            await asyncio.to_thread(db.stop_embedded, pg_dir)
            for _ in range(2):  # the pool's old connection dies first, then new ones are refused
                status, body = await api.call("PUT", f"{path}?offset={1024 * 1024}", "station",
                                              data=data[1024 * 1024:])
                assert status == 503 and body["error"] == "database_unavailable", body
            await asyncio.to_thread(db.start_embedded, pg_dir)
            done = await api.upload(data)
            assert done["state"] == "committed"
            entry = await check_receipt(api, done["receipt"], data)
            digest = blake3(data).hexdigest()
            assert [r.kind for r in await api.locker.log.entries_for_object(digest)] == ["evidence.ingested"]
            assert entry["blake3"] == digest
            again = await api.upload(data)  # a second retry changes nothing
            assert again["receipt"]["leaf_index"] == done["receipt"]["leaf_index"]
            assert len(await api.locker.log.entries_for_object(digest)) == 1
            assert await api.locker.store.object_keys(dt.timedelta(seconds=-5)) == [f"blake3/{digest}"]
    finally:
        await asyncio.to_thread(db.stop_embedded, pg_dir)
