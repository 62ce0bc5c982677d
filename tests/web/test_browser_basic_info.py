"""The portal's basic enforcement information (issue 13 item 7) in a real browser: pages drafted,
approved and published through the API by two disclosure officers are shown on /public without
sign-in, in Chinese and English; a draft is not."""

from __future__ import annotations

import aiohttp
import pytest

from tests.web.conftest import Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

POWERS = "依据《中华人民共和国行政处罚法》第十八条，相对集中行使城市管理领域行政处罚权。"


async def post(served: Served, who: str, path: str, body: dict[str, str]) -> dict[str, str]:
    async with aiohttp.ClientSession() as http, http.post(
            served.base + path, json=body, headers={"Authorization": f"Bearer {served.tokens[who]}"}) as resp:
        assert resp.status in (200, 201), await resp.text()
        return dict(await resp.json())


async def test_published_basic_information_is_on_the_portal(served: Served) -> None:
    page = await post(served, "dora", "/api/v1/basic-info", {"kind": "powers", "title": "城市管理执法职权",
                                                             "body": POWERS})
    await post(served, "dina", f"/api/v1/basic-info/{page['id']}/approve", {})
    await post(served, "dora", f"/api/v1/basic-info/{page['id']}/publish", {})
    await post(served, "dora", "/api/v1/basic-info", {"kind": "remedies", "title": "草稿", "body": "尚未审核的草稿"})
    zh = await served.page("zh-CN")
    await zh.goto(served.base + "/public")
    section = await zh.inner_text("#basic-info")
    assert "行政执法基本信息" in section and "执法职权及依据 · 城市管理执法职权" in section and POWERS in section
    assert "尚未审核的草稿" not in section
    await shot(zh, "public-basic-info-zh")
    en = await served.page("en-US")
    await en.goto(served.base + "/public")
    assert "Powers and legal basis" in await en.inner_text(f"#basic-info article[data-id='{page['id']}'] h3")
    await shot(en, "public-basic-info-en")
