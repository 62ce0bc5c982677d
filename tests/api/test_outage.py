"""A database outage: every route answers 503 ``database_unavailable`` with ``Retry-After``, and the
server recovers by itself when the database is back (no restart)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from api.auth import TOKENS
from storage import db
from tests.api.conftest import serving, settings_for

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
