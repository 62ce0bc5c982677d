"""A real Custody server for the agent to talk to, a station token and its pinned vkey, sample clips."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from api.appkeys import LOCKER
from ingest.client import CustodyClient
from tests import acting
from tests.api.conftest import Api, settings_for, start_api


@dataclass
class Station:
    api: Api
    token: str
    vkey: str

    def client(self, vkeys: list[str] | None = None) -> CustodyClient:
        return CustodyClient(self.api.base, self.token, vkeys=vkeys or [self.vkey])


@pytest.fixture
async def station(database_url: str, tmp_path: Path) -> AsyncIterator[Station]:
    settings = settings_for("file", tmp_path / "server", database_url, None)
    runner, app = await start_api(settings)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(f"http://127.0.0.1:{settings.port}", http, app)
            for role in ("investigator", "admin"):
                _, api.tokens[role] = await acting.add_principal(app[LOCKER], role, role)
            _, token = await acting.add_principal(app[LOCKER], "dock-1", "station")
            api.tokens["station"] = token
            await api.open_case("CASE-A")
            yield Station(api, token, app[LOCKER].log.signer.vkey)
    finally:
        await runner.cleanup()


async def make_clip(path: Path, seconds: int = 2, when: str = "2026-11-20T08:00:00.000000Z") -> Path:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-metadata", f"creation_time={when}", str(path),
    )
    assert await proc.wait() == 0
    return path


@pytest.fixture
async def camera_dir(tmp_path: Path) -> Path:
    """A docked mass-storage camera: a DCIM folder with three clips and a firmware log to ignore."""
    root = tmp_path / "camera" / "DCIM"
    root.mkdir(parents=True)
    base = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    stamps = [(base + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000000Z") for i in range(3)]
    await asyncio.gather(*(make_clip(root / f"CAM7_{i:04d}.mp4", when=stamp) for i, stamp in enumerate(stamps)))
    (root.parent / "SYSLOG.TXT").write_text("firmware log, not evidence")
    return root.parent
