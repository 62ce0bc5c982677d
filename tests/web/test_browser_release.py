"""Release of a redacted render in a real browser (issue 19 item 5): the render attached to a disclosure
record plays on the public portal with its hash, and stops the moment the record is revoked; the render
shared with a lawyer (a recipient who may have redacted renders only) plays and downloads from the link."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from blake3 import blake3

from tests.web.conftest import BROWSER_CASE, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CASE = BROWSER_CASE
RECORD = {"decision_no": "城管罚字〔2026〕第77号", "party_type": "legal", "party_name": "某某餐饮有限公司",
          "violation": "占道经营", "legal_basis": "《城市市容和环境卫生管理条例》第三十六条",
          "penalty": "罚款人民币200元", "decision_date": "2026-09-20", "category": "市容环境"}


async def call(served: Served, who: str, method: str, path: str, body: dict[str, Any] | None = None,
               expect: int = 200) -> Any:
    async with aiohttp.ClientSession() as http, http.request(
            method, served.base + path, json=body if body is not None else {},
            headers={"Authorization": f"Bearer {served.tokens[who]}"}) as resp:
        assert resp.status == expect, await resp.text()
        return await resp.json()


async def a_render(served: Served) -> str:
    """A redacted render of the case's clip: one box over its left half, rendered by the server's ffmpeg."""
    original = blake3(served.clip.read_bytes()).hexdigest()
    saved = await call(served, "ivy", "POST", f"/api/v1/cases/{CASE}/redactions", {
        "source": original, "name": "for release",
        "tracks": [{"mode": "box", "keyframes": [{"t_ms": 0, "x": 0, "y": 0, "w": 160, "h": 240}]}]}, expect=201)
    queued = await call(served, "ivy", "POST", f"/api/v1/cases/{CASE}/redactions/{saved['project_id']}/renders",
                        expect=202)
    for _ in range(600):
        render = await call(served, "ivy", "GET", f"/api/v1/cases/{CASE}/renders/{queued['render']}")
        if render["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert render["state"] == "done", render
    return str(render["output_blake3"])


async def media_status(served: Served, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(served.base + path) as resp:  # no sign-in
        return resp.status, await resp.read()


async def test_an_attached_render_plays_on_the_portal_until_the_record_is_revoked(served: Served) -> None:
    render = await a_render(served)
    original = blake3(served.clip.read_bytes()).hexdigest()
    await served.determine(RECORD["decision_no"])
    d = await call(served, "dora", "POST", "/api/v1/disclosures", {"case": CASE, **RECORD}, expect=201)
    refused = await call(served, "dora", "POST", f"/api/v1/disclosures/{d['id']}/attachments",
                         {"blake3": original}, expect=422)
    assert refused["error"] == "unredacted_release", refused
    await call(served, "dora", "POST", f"/api/v1/disclosures/{d['id']}/attachments", {"blake3": render}, expect=201)
    await call(served, "dina", "POST", f"/api/v1/disclosures/{d['id']}/approve")
    await call(served, "dora", "POST", f"/api/v1/disclosures/{d['id']}/publish")

    visitor = await served.page("zh-CN")
    await visitor.goto(f"{served.base}/public")
    figure = f"article[data-id='{d['id']}'] figure.public-render[data-blake3='{render}']"
    await visitor.wait_for_selector(figure)
    assert render in await visitor.inner_text(f"{figure} .render-hash")
    assert "已遮蔽录像" in await visitor.inner_text(f"{figure} figcaption")
    assert original not in await visitor.content()
    # the browser loads and can play it (metadata read: the duration of the 3 s clip)
    duration = await visitor.wait_for_function(
        f"() => {{ const v = document.querySelector(\"{figure} video\"); "
        "return v && v.readyState >= 1 && v.duration > 2 ? v.duration : false; }")
    assert 2 < await duration.json_value() < 4
    await shot(visitor, "public-render")
    media = f"/public/records/{d['id']}/media/{render}"
    status, body = await media_status(served, media)
    assert status == 200 and blake3(body).hexdigest() == render
    status, _ = await media_status(served, f"/public/records/{d['id']}/media/{original}")
    assert status == 404  # the original is not served, whatever the address

    await call(served, "dina", "POST", f"/api/v1/disclosures/{d['id']}/revoke",
               {"reason": "published in error", "explanation": "该决定公开有误，已撤回"})
    status, _ = await media_status(served, media)
    assert status == 404  # at once
    await visitor.goto(f"{served.base}/public")
    assert await visitor.query_selector(figure) is None


async def test_a_render_shared_with_a_lawyer_plays_and_downloads(served: Served) -> None:
    render = await a_render(served)
    original = blake3(served.clip.read_bytes()).hexdigest()
    base = {"organisation": "某某律师事务所", "person": "张律师", "purpose": "当事人查阅", "days": 7,
            "recipient": "other"}
    refused = await call(served, "ivy", "POST", f"/api/v1/cases/{CASE}/shares", {**base, "items": [original]},
                         expect=422)
    assert refused["error"] == "unredacted_release", refused
    share = await call(served, "ivy", "POST", f"/api/v1/cases/{CASE}/shares", {**base, "items": [render]},
                       expect=201)
    assert share["recipient"] == "other"
    lawyer = await served.page("zh-CN")
    await lawyer.goto(share["link"])
    row = f"#share-items tr[data-blake3='{render}']"
    await lawyer.wait_for_selector(row)
    assert await lawyer.query_selector(f"#share-items tr[data-blake3='{original}']") is None
    assert await lawyer.query_selector("#share-bundle") is None
    play = await lawyer.get_attribute(f"{row} a.play", "href")
    assert play == f"/s/{share['link'].rsplit('/', 1)[1]}/objects/{render}?play=1"
    assert "已遮蔽副本" in await lawyer.inner_text(f"{row} a.download")  # not "the original"
    await shot(lawyer, "share-render")
    async with lawyer.expect_download() as info:
        await lawyer.click(f"{row} a.download")
    download = await info.value
    path = await download.path()
    assert path is not None and blake3(path.read_bytes()).hexdigest() == render
