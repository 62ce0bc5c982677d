"""The player's tools in a real browser (issue 18 item 4): frame stepping at the clip's recorded frame
rate (the agent's ffprobe says 15/1 for the test clip), speeds, keyboard shortcuts that keep quiet while
one types, the "?" overlay, and bookmarks added, edited, removed and sought by clicking, in both languages."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Dialog, Page

from tests.web.conftest import BROWSER_CASE, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CASE = BROWSER_CASE
FPS = 15  # make_clip: testsrc2 rate=15


async def entries(served: Served) -> list[dict[str, Any]]:
    lines = (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()
    return [json.loads(line) for line in lines]


async def clip_hashes(served: Served) -> tuple[str, str]:
    """(original, proxy) BLAKE3 of the clip the fixture offloaded."""
    logged = await entries(served)
    original = next(e["blake3"] for e in logged if e["kind"] == "evidence.ingested")
    proxy = next(e["blake3"] for e in logged if e["kind"] == "evidence.derived")
    return original, proxy


async def open_player(served: Served, who: str, lang: str = "en-US") -> Page:
    _, proxy = await clip_hashes(served)
    page = await served.signed_in(who, lang)
    await page.goto(f"{served.base}/cases/{CASE}/play/{proxy}?purpose={quote('调查取证 player tools')}")
    await page.wait_for_function("() => { const v = document.getElementById('player'); "
                                 "return v && Number.isFinite(v.duration) && v.duration > 0; }")
    await page.wait_for_selector("#bookmark-empty:not([hidden]), #bookmark-list li")
    return page


async def shown(page: Page) -> tuple[str, str]:
    return await page.inner_text("#player-time"), await page.inner_text("#player-frame")


def ms(text: str) -> int:
    """0:00:00.066 as milliseconds."""
    clock, _, frac = text.partition(".")
    h, m, s = (int(x) for x in clock.split(":"))
    return ((h * 60 + m) * 60 + s) * 1000 + int(frac)


async def seeked(page: Page, action: Any) -> None:
    """Do ``action`` and wait until the video has finished the seek it causes."""
    await page.evaluate("() => { window.__seeked = new Promise((resolve) => "
                        "document.getElementById('player').addEventListener('seeked', resolve, {once: true})); }")
    await action()
    await page.evaluate("() => window.__seeked")


async def blur(page: Page) -> None:
    await page.evaluate("() => document.activeElement?.blur()")


async def test_frame_stepping_speeds_and_shortcuts(served: Served) -> None:
    page = await open_player(served, "ivy")
    assert "Frame rate 15 frames/s, as recorded at ingest." in await page.inner_text("#frame-rate-note")
    assert await shown(page) == ("0:00:00.000", "frame 0")

    await seeked(page, lambda: page.click("#frame-forward"))
    one, frame = await shown(page)
    assert frame == "frame 1" and ms(one) == round(1000 / FPS)  # one frame: 67 ms at 15 frames/s
    await seeked(page, lambda: page.keyboard.press("."))
    two, frame = await shown(page)
    assert frame == "frame 2" and ms(two) - ms(one) in (66, 67)
    await seeked(page, lambda: page.keyboard.press(","))
    assert await shown(page) == (one, "frame 1")
    await seeked(page, lambda: page.click("#frame-back"))
    assert (await shown(page))[1] == "frame 0"
    await seeked(page, lambda: page.click("#frame-back"))  # never before the start
    assert (await shown(page))[1] == "frame 0"

    rate = "() => document.getElementById('player').playbackRate"
    await page.select_option("#player-speed", "0.25")
    assert await page.evaluate(rate) == 0.25
    await blur(page)
    await page.keyboard.press(">")
    assert await page.evaluate(rate) == 0.5 and await page.input_value("#player-speed") == "0.5"
    await page.keyboard.press("<")
    await page.keyboard.press("<")  # 0.25 is the slowest
    assert await page.evaluate(rate) == 0.25
    await page.select_option("#player-speed", "4.0")
    await blur(page)
    await page.keyboard.press(">")
    assert await page.evaluate(rate) == 4.0
    await page.select_option("#player-speed", "1.0")
    await blur(page)

    paused = "() => document.getElementById('player').paused"
    await page.keyboard.press("Space")
    await page.wait_for_function("() => !document.getElementById('player').paused")
    await page.keyboard.press("k")
    await page.wait_for_function("() => document.getElementById('player').paused")
    await seeked(page, lambda: page.keyboard.press("Home"))
    assert (await shown(page))[1] == "frame 0"

    # Typing in a field is typing: no frame step, no play, no overlay, no bookmark.
    await page.click("#bookmark-note")
    await page.keyboard.type("b. ,kL?> j")
    assert await page.input_value("#bookmark-note") == "b. ,kL?> j"
    assert await shown(page) == ("0:00:00.000", "frame 0")
    assert await page.evaluate(paused) and await page.evaluate(rate) == 1.0
    assert not await page.evaluate("() => document.getElementById('shortcuts-help').open")
    await page.fill("#bookmark-note", "")

    await blur(page)
    await page.keyboard.press("?")
    await page.wait_for_selector("#shortcuts-help[open]")
    help_text = await page.inner_text("#shortcuts-help")
    assert "Keyboard shortcuts" in help_text and "Previous or next frame" in help_text
    assert "Shortcuts do nothing while you type in a field." in help_text
    await shot(page, "player-shortcuts")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#shortcuts-help:not([open])", state="attached")
    await page.click("#shortcuts-open")
    await page.wait_for_selector("#shortcuts-help[open]")
    await page.click("#shortcuts-close")
    await page.wait_for_selector("#shortcuts-help:not([open])", state="attached")


async def test_bookmarks_added_sought_edited_and_removed(served: Served) -> None:
    original, _ = await clip_hashes(served)
    page = await open_player(served, "ivy")
    await seeked(page, lambda: page.evaluate("() => { document.getElementById('player').currentTime = 2.0; }"))
    at = ms((await shown(page))[0])
    await blur(page)
    await page.keyboard.press("b")
    assert await page.evaluate("() => document.activeElement.id") == "bookmark-note"
    assert await page.input_value("#bookmark-time") == (await shown(page))[0]
    await page.keyboard.type("车辆驶入 vehicle enters")
    await page.keyboard.press("Enter")
    item = await page.wait_for_selector("#bookmark-list li")
    assert "车辆驶入 vehicle enters" in await item.inner_text() and "investigator:ivy" in await item.inner_text()
    assert await page.is_hidden("#bookmark-empty") and await page.is_hidden("#bookmark-cancel")
    mark = next(e for e in reversed(await entries(served)) if e["kind"] == "evidence.bookmarked")
    assert (mark["blake3"], mark["at_ms"], mark["note"], mark["actor"]) == (
        original, at, "车辆驶入 vehicle enters", "investigator:ivy")
    assert isinstance(mark["author_id"], int)

    # A second one typed by hand, then click-to-seek to each.
    await page.fill("#bookmark-time", "0:00:00.500")
    await page.fill("#bookmark-note", "门口争执")
    await page.click("#bookmark-save")
    await page.wait_for_function("() => document.querySelectorAll('#bookmark-list li').length === 2")
    first = page.locator("#bookmark-list li").nth(0)
    assert "门口争执" in await first.inner_text()  # in time order
    await seeked(page, lambda: first.locator(".bookmark-seek").click())
    assert ms((await shown(page))[0]) == 500
    later = page.locator("#bookmark-list li").nth(1)
    await seeked(page, lambda: later.locator(".bookmark-seek").click())
    assert ms((await shown(page))[0]) == at

    await later.locator(".bookmark-edit").click()
    assert await page.input_value("#bookmark-note") == "车辆驶入 vehicle enters"
    assert await page.inner_text("#bookmark-save") == "Save changes" and await page.is_visible("#bookmark-cancel")
    await page.fill("#bookmark-note", "车辆驶入，停车")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#bookmark-list li:has-text('车辆驶入，停车')")
    assert "edited by investigator:ivy" in await page.locator("#bookmark-list li").nth(1).inner_text()
    await page.fill("#bookmark-time", "1:xx")
    await page.click("#bookmark-save")
    assert "H:MM:SS.mmm" in await page.inner_text("#bookmark-error")
    await shot(page, "player-bookmarks")

    # Someone else sees the bookmarks but may not change them; an admin may.
    rex = await open_player(served, "rex")
    await rex.wait_for_selector("#bookmark-list li")
    assert await rex.locator("#bookmark-list li .bookmark-actions").first.is_hidden()
    ada = await open_player(served, "ada")
    await ada.wait_for_selector("#bookmark-list li")
    assert await ada.locator("#bookmark-list li .bookmark-actions").first.is_visible()

    async def accept(dialog: Dialog) -> None:
        assert "stay in the case log" in dialog.message
        await dialog.accept()

    page.once("dialog", accept)
    await page.locator("#bookmark-list li").nth(0).locator(".bookmark-remove").click()
    await page.wait_for_function("() => document.querySelectorAll('#bookmark-list li').length === 1")
    kinds = [e["kind"] for e in await entries(served) if e["kind"].startswith("evidence.bookmark")]
    assert kinds[-4:] == ["evidence.bookmarked", "evidence.bookmarked", "evidence.bookmark_edited",
                          "evidence.bookmark_removed"]


async def test_the_tools_and_the_bookmark_log_in_chinese(served: Served) -> None:
    page = await open_player(served, "rex", "zh-CN")
    bar = await page.inner_text(".player-bar")
    for words in ("上一帧", "下一帧", "倍速", "键盘快捷键", "帧 0"):
        assert words in bar, (words, bar)
    assert "帧率 15 帧/秒" in await page.inner_text("#frame-rate-note")
    await seeked(page, lambda: page.click("#frame-forward"))
    assert (await shown(page))[1] == "帧 1"
    await blur(page)
    await page.keyboard.press("?")
    await page.wait_for_selector("#shortcuts-help[open]")
    assert "在输入框中输入时，快捷键不起作用。" in await page.inner_text("#shortcuts-help")
    await page.keyboard.press("Escape")
    await page.keyboard.press("b")
    await page.keyboard.type("审核要点")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#bookmark-list li:has-text('审核要点')")
    assert "书签" in await page.inner_text("#bookmarks-heading")
    await shot(page, "player-zh")

    await page.goto(f"{served.base}/cases/{CASE}")
    timeline = await page.inner_text("#timeline")
    assert "reviewer:rex 在" in timeline and "处添加书签：审核要点" in timeline
