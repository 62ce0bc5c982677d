"""A real `custody` HTTP server on a free port, over the embedded PostgreSQL and each object store."""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from blake3 import blake3

from api.app import create_app
from api.appkeys import LOCKER
from foundation.settings import Settings
from integrity.hashing import digest_bytes
from integrity.note import Verifier
from integrity.receipt import verify_receipt
from services.locker import Locker
from tests import acting
from tests.conftest import S3Server, s3_settings

ROLES = ("station", "investigator", "disclosure", "reviewer", "coordinator", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Api:
    base: str
    http: aiohttp.ClientSession
    app: web.Application
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def locker(self) -> Locker:
        return self.app[LOCKER]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {**kw.pop("headers", {}), **(self.auth(who) if who else {})}
        if isinstance(kw.get("data"), bytes):
            kw["data"] = io.BytesIO(kw["data"])  # streamed, as a station sends it
        async with self.http.request(method, self.base + path, headers=headers, **kw) as resp:
            body = await resp.read()
            if resp.content_type == "application/json":
                import json

                return resp.status, json.loads(body)
            return resp.status, body

    async def open_case(self, case_id: str) -> None:
        status, body = await self.call("POST", "/api/v1/cases", "investigator", json={"id": case_id})
        assert status == 201, body

    async def declare(self, data: bytes, case: str | None, station: str = "station", **meta: Any) -> tuple[int, Any]:
        spec = {"blake3": blake3(data).hexdigest(), "size": len(data), "file_name": "clip.mp4",
                "media_type": "video/mp4", "camera": "CAM-1", "officer": "officer-7",
                "recorded_at": "2026-11-20T08:00:00Z", **meta}
        if case is not None:
            spec["case"] = case
        return await self.call("POST", "/api/v1/uploads", station, json=spec)

    async def upload(self, data: bytes, case: str | None = "CASE-1", station: str = "station",
                     chunk: int = 3 * 1024 * 1024, **meta: Any) -> dict[str, Any]:
        status, body = await self.declare(data, case, station, **meta)
        assert status in (200, 201), body
        if body["state"] == "committed":
            return body
        offset = 0
        while True:
            status, body = await self.call("PUT", f"/api/v1/uploads/{body['id']}?offset={offset}", station,
                                           data=data[offset:offset + chunk])
            assert status == 200, body
            if body["state"] == "committed":
                return body
            offset = body["offset"]

    async def vkeys(self) -> list[Verifier]:
        _, body = await self.call("GET", "/api/v1/keys")
        return [Verifier.from_vkey(v) for v in body["vkeys"]]


async def check_receipt(api: Api, receipt: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What a station does before deleting from the camera: verify the receipt client-side."""
    return verify_receipt(receipt, await api.vkeys(), digest_bytes(data))


def settings_for(kind: str, home: Path, database_url: str, s3: S3Server | None) -> Settings:
    if kind == "s3":
        assert s3 is not None
        base = s3_settings(s3, home)
        import dataclasses

        return dataclasses.replace(base, database_url=database_url, origin="evidence.test", port=free_port())
    return Settings.from_env({}, home=home, database_url=database_url, origin="evidence.test", port=free_port())


async def start_api(settings: Settings) -> tuple[web.AppRunner, web.Application]:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    return runner, app


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Api]:
    """The API on ``settings``, on a free port, with one user per role and CASE-1 open."""
    runner, app = await start_api(settings)
    try:
        async with aiohttp.ClientSession() as http:
            client = Api(f"http://127.0.0.1:{settings.port}", http, app)
            for role in ROLES:
                _, client.tokens[role] = await acting.add_principal(app[LOCKER], role, role)
            # A second disclosure officer: the drafter never approves their own record (§二).
            _, client.tokens["dina"] = await acting.add_principal(app[LOCKER], "dina", "disclosure")
            await client.open_case("CASE-1")
            yield client
    finally:
        await runner.cleanup()


@pytest.fixture(params=["file", "s3"])
async def api(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    server = request.getfixturevalue("s3_server") if request.param == "s3" else None
    async with serving(settings_for(request.param, tmp_path, database_url, server)) as client:
        _, client.tokens["station2"] = await acting.add_principal(client.locker, "station2", "station")
        yield client


@pytest.fixture
async def file_api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The API on the file store only, for tests whose subject is not the store."""
    async with serving(settings_for("file", tmp_path, database_url, None)) as client:
        yield client
