"""The web pages under test: an in-process server with seeded evidence, and signed-in browsers-to-be.

``web`` starts the real app (API and pages) on a free port over the test's own database, creates one
principal per role and a case holding an original, its proxy and a text record.  ``Visitor`` is an
HTTP client with its own cookie jar, as one browser would be.  Real-browser tests are marked
``browser`` and use the fixtures in ``test_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from api.appkeys import LOCKER, WEB_HOLDERS, WEB_SESSIONS
from api.web.cookies import SessionCodec
from storage import principals
from storage.locker import Locker
from storage.objects import bytes_source
from tests.api.conftest import ROLES, settings_for, start_api

STAFF_ROLES = ("investigator", "disclosure", "reviewer", "admin")
CASE = "CASE-1"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]*)">')
_FORM_CSRF = re.compile(r'name="_csrf" value="([0-9a-f]+)"')


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's /usr/bin/chromium through Playwright "
                                       "against a real `custody serve`")


@dataclass
class Reply:
    status: int
    headers: Any  # CIMultiDictProxy[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return str(self.headers.get("Location", ""))


@dataclass
class Visitor:
    """One browser's worth of state: a cookie jar and the CSRF token of the last page seen."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""

    async def request(self, method: str, path: str, **kw: Any) -> Reply:
        kw.setdefault("allow_redirects", False)
        async with self.http.request(method, self.base + path, **kw) as resp:
            reply = Reply(resp.status, resp.headers, await resp.read())
        if m := _CSRF_META.search(reply.text if "html" in resp.headers.get("Content-Type", "") else ""):
            self.csrf = m.group(1) or self.csrf
        return reply

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any) -> Reply:
        form = dict(data or {})
        if csrf:
            form.setdefault("_csrf", self.csrf)
        return await self.request("POST", path, data=form, **kw)

    def cookie(self, name: str) -> str | None:
        for morsel in self.http.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None


@dataclass
class Web:
    base: str
    app: web.Application
    tokens: dict[str, str] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)  # "original" / "proxy" / "record" -> blake3
    _clients: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def locker(self) -> Locker:
        return self.app[LOCKER]

    @property
    def codec(self) -> SessionCodec:
        return self.app[WEB_SESSIONS]

    def visitor(self, **headers: str) -> Visitor:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
        self._clients.append(http)
        return Visitor(self.base, http)

    async def sign_in(self, who: str, *, token: str | None = None, **headers: str) -> Visitor:
        visitor = self.visitor(**headers)
        form = await visitor.get("/signin")
        m = _FORM_CSRF.search(form.text)
        assert m, form.text
        reply = await visitor.post("/signin", {"token": token or self.tokens[who], "_csrf": m.group(1)})
        assert reply.status == 303, (reply.status, reply.text[:2000])
        page = await visitor.get("/cases")
        assert page.status == 200, page.text[:2000]
        return visitor

    def no_cache(self) -> None:
        """Revocation visible at once (no 5 s principal cache) for tests about revocation."""
        self.app[WEB_HOLDERS].ttl_s = 0

    async def close(self) -> None:
        for http in self._clients:
            await http.close()


async def seed_case(locker: Locker, case_id: str = CASE) -> dict[str, str]:
    """A case with an original recording, its proxy and a text record (bytes need not be real video)."""
    await locker.log.open_case(case_id, "investigator:investigator", title="Street vending 占道经营")
    original = await locker.add_object(
        case_id, bytes_source(b"original camera bytes " * 5000), kind="evidence.ingested", actor="station:dock-1",
        fields={"file_name": "CAM7_0001.MP4", "media_type": "video/mp4", "camera": "CAM7", "officer": "officer-7",
                "station": "dock-1", "recorded_at": "2026-11-20T08:00:00Z"})
    original_b3 = _blake3(original.body)
    proxy = await locker.add_object(
        case_id, bytes_source(b"proxy bytes " * 3000), kind="evidence.derived", actor="station:dock-1",
        fields={"file_name": "CAM7_0001.proxy.mp4", "media_type": "video/mp4", "camera": "CAM7",
                "officer": "officer-7", "station": "dock-1", "recorded_at": "2026-11-20T08:00:00Z",
                "original_blake3": original_b3, "ffmpeg": {"command": "ffmpeg -i …", "version": "6"}})
    record = await locker.add_object(
        case_id, bytes_source("现场检查笔录\n".encode()), kind="record.added", actor="investigator:investigator",
        fields={"file_name": "inspection.txt", "media_type": "text/plain; charset=utf-8", "stage": "investigation",
                "stage_zh": "调查取证"})
    return {"original": original_b3, "proxy": _blake3(proxy.body), "record": _blake3(record.body)}


def _blake3(entry_body: bytes) -> str:
    import json

    value = json.loads(entry_body)["blake3"]
    assert isinstance(value, str)
    return value


@pytest.fixture
async def web_app(database_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    settings = settings_for("file", tmp_path, database_url, None)
    runner, app = await start_api(settings)
    client = Web(f"http://127.0.0.1:{settings.port}", app)
    try:
        for role in ROLES:
            _, client.tokens[role] = await principals.add_principal(app[LOCKER].pool, role, role, "test")
        client.objects = await seed_case(app[LOCKER])
        yield client
    finally:
        await client.close()
        await runner.cleanup()
