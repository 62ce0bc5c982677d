"""The web pages under test: an in-process server with seeded evidence, and a real served one with a browser.

``web_app`` starts the real app (API and pages) on a free port over the test's own database, creates
one principal per role and a case holding an original, its proxy and a text record.  ``Visitor`` is an
HTTP client with its own cookie jar, as one browser would be.

Real-browser tests are marked ``browser`` and use ``served`` (one per test module): a fresh database,
users made with `custody user add`, `custody serve` as a subprocess, a real clip offloaded through the
agent's pipeline, and Debian's Chromium driven by Playwright.  Screenshots go to ``var/screenshots/``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from api.appkeys import LOCKER, WEB_HOLDERS, WEB_SESSIONS
from api.cookies import SessionCodec
from policy.review import MAJOR_CRITERIA
from services.locker import Locker
from storage.objects import bytes_source
from tests import acting
from tests.acting import determined
from tests.api.conftest import ROLES, free_port, settings_for, start_api
from tests.api.test_serve import cli, custody_env, wait_healthy
from tests.conftest import fresh_database

STAFF_ROLES = ("investigator", "disclosure", "reviewer", "coordinator", "admin")
CASE = "CASE-1"
#: A natural person's personal data, none of which may ever reach a public page.
RAW = {
    "party_name": "欧阳娜娜", "party_id_no": "11010519491231002X", "party_phone": "13812345678",
    "party_address": "北京市朝阳区建国路88号3单元502",
}
PLATE = "京A12345"
RECORD = {
    "decision_no": "京朝城管罚字〔2026〕第0421号", "party_type": "natural", **RAW,
    "violation": f"欧阳娜娜于2026年9月3日在建国路占道经营，车辆{PLATE}停放于人行道，联系电话13812345678。",
    "legal_basis": "《北京市市容环境卫生条例》第二十四条", "penalty": "罚款人民币500元",
    "decision_date": "2026-09-20", "category": "市容环境",
}
#: Every raw personal value of ``RECORD`` (a public page must show none).
PERSONAL = (*RAW.values(), PLATE)
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
    #: The site it visits and its sign-in headers, so a test can bring in a colleague (``colleague``).
    site: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    async def colleague(self, who: str = "dina") -> Visitor:
        """Another user signed in the same way: the second disclosure officer who approves (§二)."""
        return await self.site.sign_in(who, **self.headers)

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
        visitor.site, visitor.headers = self, dict(headers)
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
    await determined(locker, case_id, RECORD["decision_no"])  # §四(二): before a draft of it
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
            _, client.tokens[role] = await acting.add_principal(app[LOCKER], role, role)
        # A second disclosure officer: the drafter never approves their own record (§二).
        _, client.tokens["dina"] = await acting.add_principal(app[LOCKER], "dina", "disclosure")
        client.objects = await seed_case(app[LOCKER])
        yield client
    finally:
        await client.close()
        await runner.cleanup()


# -- a real `custody serve` and a real browser --------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
BROWSER_CASE = "CASE-B"
USERS = {"ivy": "investigator", "dora": "disclosure", "dina": "disclosure", "rex": "reviewer", "ada": "admin"}
TIMEOUT_MS = 20_000


@dataclass
class Served:
    base: str
    env: dict[str, str]
    tokens: dict[str, str]
    clip: Path
    log: Path
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(self, lang: str = "en-US") -> Page:
        context = await self.browser.new_context(locale=lang, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return await context.new_page()

    async def signed_in(self, who: str, lang: str = "en-US") -> Page:
        page = await self.page(lang)
        await page.goto(self.base + "/")
        assert "/signin" in page.url
        await page.fill("#token", self.tokens[who])
        await page.click("button[type=submit]")
        await page.wait_for_selector("#signed-in-user")
        return page

    async def determine(self, decision_no: str) -> None:
        """The case handler (ivy) records the §四(二) determination a draft needs: not major."""
        answers = dict.fromkeys(MAJOR_CRITERIA, False)
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.base}/api/v1/cases/{BROWSER_CASE}/determinations",
                json={"decision_no": decision_no, "answers": answers, "reason": "the browser tests"},
                headers={"Authorization": f"Bearer {self.tokens['ivy']}"}) as resp:
            assert resp.status == 201, await resp.text()

    async def api(self, who: str, path: str) -> bytes:
        async with aiohttp.ClientSession() as http, http.get(
                self.base + path, headers={"Authorization": f"Bearer {self.tokens[who]}"}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.read()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def make_clip(path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
        "-f", "lavfi", "-i", "sine", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        "-metadata", "creation_time=2026-11-20T08:00:00.000000Z", str(path))
    assert await proc.wait() == 0


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("BROWSER TESTS SKIPPED: /usr/bin/chromium missing — run ./deploy/bootstrap.sh as root")
    if shutil.which("ffmpeg") is None:
        pytest.skip("BROWSER TESTS SKIPPED: ffmpeg missing (apt-get install ffmpeg)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
async def served_db(pg_url: str, template_db: str) -> AsyncIterator[str]:
    async with fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture(scope="module")
async def served(chromium: str, served_db: str, server_home: Path) -> AsyncIterator[Served]:
    env = custody_env(server_home / "home", served_db, free_port())
    tokens = {name: _last_line(cli(env, "user", "add", name, "--role", role)) for name, role in USERS.items()}
    tokens["dock"] = _last_line(cli(env, "station", "add", "dock-1"))
    log = server_home / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "custody", "serve"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=sink)
    base = f"http://127.0.0.1:{env['CUSTODY_PORT']}"
    try:
        await wait_healthy(base, proc)
        async with aiohttp.ClientSession() as http, http.post(
                base + "/api/v1/cases", json={"id": BROWSER_CASE, "title": "占道经营 street vending"},
                headers={"Authorization": f"Bearer {tokens['ivy']}"}) as resp:
            assert resp.status == 201, await resp.text()
        camera = server_home / "camera"
        camera.mkdir()
        clip = camera / "CAM9_0001.mp4"
        await make_clip(clip)
        token_file = server_home / "dock.token"
        token_file.write_text(tokens["dock"] + "\n")
        station_env = {**env, "CUSTODY_HOME": str(server_home / "station")}
        out = cli(station_env, "ingest", str(camera), "--case", BROWSER_CASE, "--server", base, "--token-file",
                  str(token_file), "--camera", "CAM-9", "--officer", "officer-7")
        assert "receipted: CAM9_0001.mp4" in out, out
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            state = Served(base, env, tokens, clip, log, browser)
            try:
                yield state
            finally:
                for context in state.contexts:
                    await context.close()
                await browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert not any(token in text for token in tokens.values()), "a token reached the server log"


def _last_line(out: str) -> str:
    return out.strip().splitlines()[-1]
