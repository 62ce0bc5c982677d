"""Organising and finding in a real browser (issue 18, item 3): the admin keeps the tag list; the
investigator sees the still and duration ffmpeg made from the proxy at ingest, tags the case, acts on a
selection (tag, hold, export) and sees each item's outcome; a record of an intake case is assigned to its
case; search with facets in both languages, where a restricted case neither appears nor counts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from blake3 import blake3
from playwright.async_api import Page

from tests.web.conftest import BROWSER_CASE, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CASE = BROWSER_CASE
INTAKE = "INTAKE-officer-7-20261121"
SECRET = "CASE-SECRET"
RECORD = "询问笔录：当事人承认在人民路占道经营烧烤。".encode()
INTAKE_RECORD = "现场笔录：人民路口噪声扰民。".encode()
SECRET_RECORD = "询问笔录：未成年人在烧烤摊帮工。".encode()


async def call(served: Served, who: str, method: str, path: str, **kw: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.request(
            method, served.base + path, headers={"Authorization": f"Bearer {served.tokens[who]}",
                                                 **kw.pop("headers", {})}, **kw) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def add_record(served: Served, case: str, text: bytes, name: str) -> str:
    await call(served, "ivy", "POST", f"/api/v1/cases/{case}/records?stage=investigation&file_name={name}",
               data=text, headers={"Content-Type": "text/plain; charset=utf-8"})
    return blake3(text).hexdigest()


async def entries(served: Served, case: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (await served.api("ivy", f"/api/v1/cases/{case}/entries")).splitlines()]


async def results(page: Page) -> dict[str, str]:
    await page.wait_for_selector("#bulk-results li")
    return {await li.get_attribute("data-item") or "": await li.get_attribute("class") or ""
            for li in await page.query_selector_all("#bulk-results li")}


async def test_tags_stills_bulk_actions_assignment_and_search(served: Served, tmp_path: Path) -> None:
    original = blake3(served.clip.read_bytes()).hexdigest()
    record = await add_record(served, CASE, RECORD, "inquiry.txt")

    # -- the admin keeps the bureau's list (Chinese page) --
    admin = await served.signed_in("ada", "zh-CN")
    await admin.goto(f"{served.base}/admin/tags")
    assert await admin.inner_text("h1") == "标签目录"
    for name, zh, en in (("vending", "占道经营", "Street vending"), ("noise", "噪声扰民", "Noise")):
        await admin.fill("#tag-form input[name=name]", name)
        await admin.fill("#tag-form input[name=label_zh]", zh)
        await admin.fill("#tag-form input[name=label_en]", en)
        await admin.click("#tag-form button[type=submit]")
        await admin.wait_for_selector(f"#tag-list tr[data-tag='{name}']")
    assert "已保存" in await admin.inner_text("#done-notice")
    await admin.fill("#tag-form input[name=name]", "Bad Name")  # the browser's pattern stops it; the server too
    await shot(admin, "organise-tags-zh")

    # -- the investigator: the still and duration made from the proxy at ingest --
    ivy = await served.signed_in("ivy")
    for _ in range(30):  # the still is made in the background after the proxy's receipt
        await ivy.goto(f"{served.base}/cases/{CASE}")
        if await ivy.query_selector(f"#evidence tr[data-blake3='{original}'] .still img"):
            break
        await ivy.wait_for_timeout(500)
    still = await ivy.wait_for_selector(f"#evidence tr[data-blake3='{original}'] .still img")
    await still.scroll_into_view_if_needed()
    await ivy.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=still)
    assert await still.evaluate("img => img.naturalWidth") == 320  # a JPEG ffmpeg made, served to the page
    assert await ivy.inner_text(f"#evidence tr[data-blake3='{original}'] .still .duration") == "0:03"
    kinds = [e["kind"] for e in await entries(served, CASE)]
    assert "evidence.thumbnail" in kinds

    # -- a tag on the whole case, then the selection toolbar --
    await ivy.select_option("#case-tag-form select[name=tag]", "vending")
    await ivy.click("#case-tag-form button[type=submit]")
    await ivy.wait_for_selector("#case-tags .tag-chip[data-tag='vending']")
    await ivy.check(f"#evidence tr[data-blake3='{original}'] input.pick")
    await ivy.check(f"#records tr[data-blake3='{record}'] input.pick")
    assert await ivy.inner_text("#bulk-count") == "Selected: 2"
    await ivy.select_option("#bulk-action", "tag")
    await ivy.select_option("#bulk-tag", "noise")
    await ivy.click("#bulk-apply")
    assert await results(ivy) == {original: "ok", record: "ok"}
    await ivy.click("#bulk-apply")  # again: each item says it already has the tag
    await ivy.wait_for_selector("#bulk-results li.bad")
    assert await results(ivy) == {original: "bad", record: "bad"}
    assert "already has tag" in await ivy.inner_text("#bulk-results")
    await ivy.select_option("#bulk-action", "hold")
    await ivy.fill("#bulk-reason", "appeal 复议")
    await ivy.click("#bulk-apply")
    await ivy.wait_for_selector("#bulk-results li.ok")
    assert await results(ivy) == {original: "ok", record: "ok"}
    await shot(ivy, "organise-bulk-en")
    await ivy.select_option("#bulk-action", "share")  # one link for the selection
    await ivy.fill("#bulk-organisation", "朝阳区人民检察院")
    await ivy.fill("#bulk-person", "李检察官")
    await ivy.fill("#bulk-purpose", "审查起诉")
    await ivy.click("#bulk-apply")
    await ivy.wait_for_selector("#bulk-link:not([hidden])")
    assert "/s/csh_" in await ivy.inner_text("#bulk-link")
    assert await results(ivy) == {original: "ok", record: "ok"}
    logged = await entries(served, CASE)
    assert [(e.get("blake3"), e["tag"]) for e in logged if e["kind"] == "tag.added"] == [
        (None, "vending"), (original, "noise"), (record, "noise")]
    assert sorted(e["blake3"] for e in logged if e["kind"] == "hold.placed") == sorted([original, record])
    assert [sorted(e["items"]) for e in logged if e["kind"] == "share.created"] == [sorted([original, record])]
    # export of the selection: the record alone
    await ivy.goto(f"{served.base}/cases/{CASE}")
    await ivy.check(f"#records tr[data-blake3='{record}'] input.pick")
    await ivy.select_option("#bulk-action", "export")
    await ivy.fill("#bulk-purpose", "审查起诉")
    async with ivy.expect_download() as info:
        await ivy.click("#bulk-apply")
    saved = tmp_path / "selection.zip"
    await (await info.value).save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as z:
        assert {n for n in z.namelist() if n.startswith("objects/")} == {f"objects/{record}"}
    # the item tags are shown on the rows, in the page's language
    await ivy.goto(f"{served.base}/cases/{CASE}?lang=zh")
    assert "噪声扰民" in await ivy.inner_text(f"#records tr[data-blake3='{record}'] .item-tags")

    # -- assigning a record of an intake case to its case (Chinese page) --
    await call(served, "ivy", "POST", "/api/v1/cases", json={"id": INTAKE, "title": "Intake: officer-7 20261121"})
    intake_record = await add_record(served, INTAKE, INTAKE_RECORD, "scene.txt")
    zh = await served.signed_in("ivy", "zh-CN")
    await zh.goto(f"{served.base}/cases/{INTAKE}")
    await zh.check(f"#records tr[data-blake3='{intake_record}'] input.pick")
    await zh.select_option("#bulk-action", "assign")
    await zh.fill("#bulk-to-case", CASE)
    await zh.fill("#bulk-reason", "人民路占道经营案")
    await zh.click("#bulk-apply")
    assert await results(zh) == {intake_record: "ok"}
    assert "已完成" in await zh.inner_text("#bulk-results")
    await zh.goto(f"{served.base}/cases/{INTAKE}")
    assert f"已归入案件 {CASE}" in await zh.inner_text(f"#records tr[data-blake3='{intake_record}']")
    await shot(zh, "organise-assign-zh")
    moved = [e for e in await entries(served, CASE) if e.get("assigned_from") == INTAKE]
    assert [(e["kind"], e["blake3"]) for e in moved] == [("record.added", intake_record)]
    assert [e["to_case"] for e in await entries(served, INTAKE) if e["kind"] == "evidence.assigned"] == [CASE]

    # -- search with facets: a restricted case another user may not read neither appears nor counts --
    await call(served, "ivy", "POST", "/api/v1/cases", json={"id": SECRET, "title": "未成年人"})
    await add_record(served, SECRET, SECRET_RECORD, "minor.txt")
    await call(served, "ivy", "PUT", f"/api/v1/cases/{SECRET}/restriction", json={"level": "privacy",
                                                                                  "reason": "a minor"})
    dora = await served.signed_in("dora", "zh-CN")
    await dora.goto(f"{served.base}/search?q=烧烤")
    assert await dora.inner_text("#search-total") == "共找到 1 项"
    assert [await r.get_attribute("data-case") for r in await dora.query_selector_all("#search-results tbody tr")] \
        == [CASE]
    assert SECRET not in await dora.inner_text("#facets")
    assert SECRET not in await dora.content()
    tag_facet = await dora.inner_text("#facets section[data-facet=tag]")
    assert "占道经营" in tag_facet and "噪声扰民" in tag_facet
    await shot(dora, "organise-search-zh")
    await dora.goto(f"{served.base}/search?lang=en")
    await dora.click("#facets section[data-facet=tag] a[data-value='noise']")
    await dora.wait_for_selector("#facets section[data-facet=tag] a.chosen")
    assert await dora.inner_text("#search-total") == "Items found: 2"
    assert "Noise" in await dora.inner_text("#facets section[data-facet=tag]")
    kind_counts = await dora.inner_text("#facets section[data-facet=kind]")
    assert "Original" in kind_counts and "Text record" in kind_counts
    await shot(dora, "organise-search-en")
    # the handler of the restricted case finds it
    await ivy.goto(f"{served.base}/search?q=烧烤")
    assert sorted([await r.get_attribute("data-case") for r in await ivy.query_selector_all(
        "#search-results tbody tr")]) == sorted([CASE, SECRET])
