"""The staff workspace (issue 18) in Debian's Chromium: the case page at phone width, keyboard reach,
Chinese without English leftovers, the audit view with its CSV, and people's display fields."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.web.conftest import BROWSER_CASE, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CASE = BROWSER_CASE
PHONE = {"width": 390, "height": 844}


async def test_case_page_at_phone_width_has_no_sideways_scroll_and_play_in_reach(served: Served) -> None:
    page = await served.signed_in("ivy")
    await page.set_viewport_size(PHONE)
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.wait_for_selector("#evidence tr.original a.play")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    play = page.locator("#evidence tr.original a.play")
    assert await play.inner_text() == "Play proxy"  # the original's Play says it plays the proxy
    await play.scroll_into_view_if_needed()
    box = await play.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    await shot(page, "case-phone")

    # The keyboard: the first Tab is the skip link, and the Play button is a few presses after it.
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip-link"
    await page.keyboard.press("Enter")
    presses = 0
    while presses < 8 and not await page.evaluate("document.activeElement.classList.contains('play')"):
        await page.keyboard.press("Tab")
        presses += 1
    assert presses < 8, "Play is not within a few Tab presses of the skip link"


async def test_chinese_case_page_and_nav_have_no_english_leftovers(served: Served) -> None:
    page = await served.signed_in("ivy", lang="zh-CN")
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.wait_for_selector("#timeline")
    assert await page.get_attribute("nav.main", "aria-label") == "主导航"
    timeline = await page.inner_text("#timeline")
    assert "evidence.ingested" not in timeline and "file_name" not in timeline
    await page.click("#timeline tr[data-kind='evidence.ingested'] details summary")
    opened = await page.inner_text("#timeline tr[data-kind='evidence.ingested'] dl.fields")
    assert "文件名" in opened and "file_name" not in opened
    assert "播放副本" in await page.inner_text("#evidence tr.original a.play")
    await shot(page, "case-zh-timeline")


async def test_verify_file_input_shows_a_focus_ring(served: Served) -> None:
    page = await served.signed_in("ivy")
    await page.goto(f"{served.base}/verify")
    await page.focus("#verify-file")
    style = await page.evaluate("getComputedStyle(document.querySelector('#dropzone')).outlineStyle")
    assert style not in ("none", "")


async def test_admin_audits_accesses_in_both_languages_and_exports_csv(served: Served, tmp_path: Path) -> None:
    ivy = await served.signed_in("ivy")
    await ivy.goto(f"{served.base}/cases/{CASE}")
    await ivy.click("#evidence tr.original a.play")
    await ivy.fill("#purpose", "复核 audit trail")
    await ivy.click("#purpose-form button[value=play]")
    await ivy.wait_for_selector("video#player")

    ada = await served.signed_in("ada", lang="zh-CN")
    await ada.click("nav.main a[href='/admin/audit']")
    await ada.fill("#audit-filters input[name=user]", "ivy")
    await ada.select_option("#audit-filters select[name=action]", "view")
    await ada.click("#audit-filters button[type=submit]")
    row = ada.locator("#audit-list tr[data-action='view']").first
    text = await row.inner_text()
    assert "查看" in text and CASE in text and "复核 audit trail" in text and "UTC+08:00" in text
    await shot(ada, "audit-zh")
    async with ada.expect_download() as waiting:
        await ada.click("#audit-csv")
    download = await waiting.value
    saved = tmp_path / "audit.csv"
    await download.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert table and {r["actor"] for r in table} == {"investigator:ivy"} and {r["action"] for r in table} == {"view"}
    seq = table[0]["seq"]
    await row.locator("a.entry-link").click()
    await ada.wait_for_selector(f"#entry-{seq}")
    assert ada.url.endswith(f"/cases/{CASE}#entry-{seq}")

    en = await served.signed_in("ada")
    await en.goto(f"{served.base}/admin/audit?user=ivy")
    assert "viewed" in await en.inner_text("#audit-list")
    await en.goto(f"{served.base}/admin/audit?user=nobody")
    assert await en.inner_text("#audit-none") == "No access matches these filters."


async def test_admin_gives_a_user_a_chinese_display_name_badge_and_unit(served: Served) -> None:
    ada = await served.signed_in("ada", lang="zh-CN")
    await ada.goto(f"{served.base}/admin")
    row = ada.locator("#principals tr[data-name='ivy']")
    await row.locator("details.profile-edit summary").click()
    await row.locator("input[name=display_name]").fill("王小明")
    await row.locator("input[name=badge_no]").fill("11010001")
    await row.locator("input[name=unit]").fill("朝阳区城管执法局")
    await row.locator("form.profile-form button[type=submit]").click()
    await ada.wait_for_selector("#admin-notice")
    row = ada.locator("#principals tr[data-name='ivy']")
    assert await row.locator("td.display-name").inner_text() == "王小明"
    assert await row.locator("td.badge-no").inner_text() == "11010001"
    await shot(ada, "admin-people-zh")

    await ada.fill("#add-principal input[name=name]", "张三")
    await ada.click("#add-principal button[type=submit]")
    error = await ada.wait_for_selector("#admin-error")
    assert error is not None and "中文姓名请填在“显示姓名”中" in await error.inner_text()
