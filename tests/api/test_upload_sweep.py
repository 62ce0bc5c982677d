"""kill -9 in the middle of an upload: the next start leaves no ``.part`` file and no open upload row
(issue 14, item 9)."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import aiohttp
import asyncpg
from blake3 import blake3

from tests.api.conftest import free_port
from tests.api.test_serve import Server, cli, custody_env, wait_healthy


async def test_a_killed_upload_is_swept_at_the_next_start(database_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = custody_env(home, database_url, free_port(), CUSTODY_LOG_LEVEL="WARNING", CUSTODY_UPLOAD_PART_GRACE_S="0")
    cli(env, "db", "migrate")
    token = cli(env, "station", "add", "dock-1").strip().splitlines()[-1]
    data = os.urandom(8 * 1024 * 1024)
    server = Server(env)
    try:
        await wait_healthy(server.base, server.proc)
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            spec = {"blake3": blake3(data).hexdigest(), "size": len(data), "file_name": "clip.mp4",
                    "officer": "A123", "recorded_at": "2026-11-20T08:00:00Z"}
            async with http.post(server.base + "/api/v1/uploads", json=spec, headers=auth) as resp:
                assert resp.status == 201, await resp.text()
                upload = (await resp.json())["id"]
            first = io.BytesIO(data[: 3 * 1024 * 1024])
            async with http.put(f"{server.base}/api/v1/uploads/{upload}?offset=0", data=first, headers=auth) as resp:
                assert resp.status == 200, await resp.text()
        parts = list((home / "objects" / "tmp").glob("*.part"))
        assert parts, "an upload in flight writes a temp file"
        server.proc.kill()  # kill -9: no clean shutdown, no cancelled session
        server.proc.wait(10)
        if server.proc.stderr is not None:
            server.proc.stderr.close()
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT state FROM uploads WHERE id = $1::uuid", upload) == "open"
            server = Server(env)
            await wait_healthy(server.base, server.proc)
            for _ in range(50):
                if await conn.fetchval("SELECT state FROM uploads WHERE id = $1::uuid", upload) != "open":
                    break
                await asyncio.sleep(0.1)
            assert await conn.fetchval("SELECT state FROM uploads WHERE id = $1::uuid", upload) == "aborted"
            assert await conn.fetchval("SELECT count(*) FROM uploads WHERE state = 'open'") == 0
        finally:
            await conn.close()
        assert not list((home / "objects" / "tmp").glob("*.part"))
    finally:
        server.stop()
