"""The redaction editor in a real browser (issue 19, item 4), over the astronaut clip of the redaction tests:
an investigator draws a box with two keyframes, accepts a suggested face track, saves (the version's hash
shown and logged), renders, watches the render play beside the source and steps both frame by frame; the
rendered pixels at the box differ from the source's.  A reviewer compares read-only; a disclosure officer
is refused; the page speaks Chinese."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from blake3 import blake3
from playwright.async_api import Page

from policy.redaction import Keyframe, Track, position_at
from services import faces
from tests.api.test_serve import cli
from tests.redaction_clip import face_box_at, make_clip
from tests.storage.test_redaction import frames
from tests.web.conftest import BROWSER_CASE, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

CASE = BROWSER_CASE
CLIP_NAME = "FACE0001.mp4"
FPS = 25
#: The box the investigator draws (frame pixels) at 0 s, and where it is moved to at 2 s: over the face.
BOX_0 = (20, 70, 200, 220)
MOVE_PX = 200
RENDER_WAIT_MS = 180_000


@pytest.fixture(scope="module")
def face_clip(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut clip, offloaded into the case by the station like any recording."""
    home = tmp_path_factory.mktemp("faces")
    camera = home / "camera"
    camera.mkdir()
    clip = make_clip(camera / CLIP_NAME, seconds=3)
    token_file = home / "dock.token"
    token_file.write_text(served.tokens["dock"] + "\n")
    out = cli({**served.env, "CUSTODY_HOME": str(home / "station")}, "ingest", str(camera), "--case", CASE,
              "--server", served.base, "--token-file", str(token_file), "--camera", "CAM-9", "--officer", "officer-7")
    assert f"receipted: {CLIP_NAME}" in out, out
    return clip


async def open_editor(served: Served, who: str, lang: str = "en-US", clip: str = CLIP_NAME) -> Page:
    """From the case page's evidence row to the editor, giving the access reason."""
    page = await served.signed_in(who, lang)
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.locator("tbody.group", has_text=clip).locator("a.redact").click()
    await page.fill("#purpose", "release to the press 对外发布")
    await page.click("#purpose-form button[type=submit]")
    await page.wait_for_selector("#redact[data-ready='1']")
    return page


async def screen_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """A frame pixel's place on the screen."""
    box = await page.locator("#overlay").bounding_box()
    assert box is not None
    size = await page.evaluate("[document.getElementById('source').videoWidth, "
                               "document.getElementById('source').videoHeight]")
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


async def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    await page.locator("#overlay").scroll_into_view_if_needed()
    await page.mouse.move(*await screen_point(page, *start))
    await page.mouse.down()
    target = await screen_point(page, *end)
    await page.mouse.move(*target, steps=8)
    await page.mouse.up()


async def frame_shown(page: Page) -> int:
    return int(await page.inner_text("#frame"))


async def step_to(page: Page, frame: int) -> None:
    """Step with the keyboard (``.`` and ``,``) to ``frame``."""
    await page.locator("#tracks-title").click()  # focus off the canvas: the arrows then step frames
    while (now := await frame_shown(page)) != frame:
        await page.keyboard.press("ArrowRight" if now < frame else "ArrowLeft")
    await page.wait_for_function("() => !document.getElementById('source').seeking")


async def both_at_same_frame(page: Page, frame: int) -> None:
    await page.wait_for_function(
        """(frame) => ['source', 'rendered'].every((id) => {
             const v = document.getElementById(id);
             return !v.seeking && v.readyState >= 2;
           }) && document.getElementById('frame-source').dataset.frame === String(frame)
             && document.getElementById('frame-rendered').dataset.frame === String(frame)""", arg=frame)
    times = await page.evaluate("['source', 'rendered'].map((id) => document.getElementById(id).currentTime)")
    assert times[0] == times[1] and int(times[0] * FPS) == frame, times


async def region_difference(page: Page, box: tuple[int, int, int, int]) -> dict[str, float]:
    """Mean absolute difference of the shown source and render frames, inside ``box`` and outside it."""
    return await page.evaluate(
        """([x, y, w, h]) => {
             const grab = (id) => {
               const v = document.getElementById(id);
               const c = new OffscreenCanvas(v.videoWidth, v.videoHeight);
               const g = c.getContext('2d');
               g.drawImage(v, 0, 0);
               return g.getImageData(0, 0, v.videoWidth, v.videoHeight);
             };
             const a = grab('source'), b = grab('rendered');
             let inside = 0, nIn = 0, outside = 0, nOut = 0;
             for (let py = 0; py < a.height; py += 2) for (let px = 0; px < a.width; px += 2) {
               const i = (py * a.width + px) * 4;
               const d = (Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1])
                          + Math.abs(a.data[i + 2] - b.data[i + 2])) / 3;
               if (px >= x && px < x + w && py >= y && py < y + h) { inside += d; nIn++; }
               else if (px < x - 40 || px >= x + w + 40 || py < y - 40 || py >= y + h + 40) { outside += d; nOut++; }
             }
             return {inside: inside / nIn, outside: outside / nOut};
           }""", list(box))


async def log_entries(served: Served, kind: str) -> list[dict[str, Any]]:
    lines = (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()
    return [e for e in (json.loads(line) for line in lines) if e["kind"] == kind]


async def test_draw_keyframe_accept_save_render_and_compare(served: Served, face_clip: Path,
                                                            tmp_path: Path) -> None:
    page = await open_editor(served, "ivy")
    assert not await page.locator("#read-only").count()
    x, y, w, h = BOX_0
    # at frame 0: draw the box, then at 2 s move it where the face has gone (a second keyframe)
    await drag(page, (x, y), (x + w, y + h))
    await step_to(page, 2 * FPS)
    await drag(page, (x + w / 2, y + h / 2), (x + w / 2 + MOVE_PX, y + h / 2))
    track = (await page.evaluate("window.custodyRedactEditor.tracks"))[0]
    assert [k["t_ms"] for k in track["keyframes"]] == [0, 2000], track
    for key, (kx, ky) in zip(track["keyframes"], ((x, y), (x + MOVE_PX, y)), strict=True):
        assert abs(key["x"] - kx) <= 2 and abs(key["y"] - ky) <= 2, key
        assert abs(key["w"] - w) <= 2 and abs(key["h"] - h) <= 2, key
    assert "keyframes: 2" in await page.inner_text("#tracks li.track")
    await page.select_option("#mode", "box")
    await page.fill("#label", "astronaut")
    await page.locator("#label").dispatch_event("change")

    # an audio range, bleeped, from 2 s for ten frames (the buttons: A and E from the keyboard)
    await page.select_option("#audio-mode", "bleep")
    await page.click("#audio-start")
    await step_to(page, 2 * FPS + 10)
    await page.click("#audio-end")
    assert "bleep" in await page.inner_text("#audio li")

    # face suggestions: a distinct track until accepted
    await page.click("#suggest")
    await page.wait_for_selector("#suggestions li.suggestion", timeout=60_000)
    suggested = await page.locator("#suggestions li").count()
    await page.locator("#suggestions li").first.locator("button.accept").click()
    assert await page.locator("#suggestions li").count() == suggested - 1
    assert await page.locator("#tracks li.track").count() == 2
    await shot(page, "redact-editor")

    await page.fill("#name", "for the press")
    await page.click("#save")
    await page.wait_for_function("() => document.getElementById('version-hash').textContent.length === 64")
    shown = await page.inner_text("#version-hash")
    saved = [e for e in await log_entries(served, "redaction.saved") if e["hash"] == shown]
    assert len(saved) == 1, shown
    entry = saved[0]
    assert entry["source"] == await page.get_attribute("#redact", "data-source")  # the clip or its proxy
    assert [t["label"] for t in entry["tracks"]] == ["astronaut", "face"] and entry["tracks"][0]["mode"] == "box"
    assert entry["audio"][0]["mode"] == "bleep" and entry["audio"][0]["start_ms"] == 2000

    await page.click("#render")
    await page.wait_for_selector("#render-state[data-state='done']", timeout=RENDER_WAIT_MS)
    assert await page.get_attribute("#render-progress", "value") == "100"
    await page.wait_for_selector("#rendered-view[data-ready='1']")

    # the preview plays, following the source
    await step_to(page, 0)
    await page.click("#play")
    await page.wait_for_function("""() => document.getElementById('rendered').currentTime > 0.4
                                    && !document.getElementById('rendered').paused""")
    await page.click("#play")
    await page.wait_for_function("() => document.getElementById('rendered').paused")

    # frame by frame: both step to the same frame; the box's region differs, the rest is the same picture
    for frame in (FPS, FPS + 1, FPS + 2, FPS + 1):
        await step_to(page, frame)
        await both_at_same_frame(page, frame)
    region = position_at(Track("rect", "box", tuple(Keyframe(**k) for k in track["keyframes"])), 1040)
    assert region is not None
    seen = await region_difference(page, (region[0], region[1], w, h))
    assert seen["inside"] > 25 and seen["outside"] < 4, seen
    await shot(page, "redact-compare")

    # the stored render, decoded by ffmpeg: at the box the face's detail is gone
    render = (await log_entries(served, "evidence.redacted"))[-1]
    assert render["project_hash"] == shown
    out = tmp_path / "redacted.mp4"
    async with aiohttp.ClientSession() as http, http.get(
            f"{served.base}/api/v1/cases/{CASE}/objects/{render['blake3']}",
            params={"purpose": "test of the render"},
            headers={"Authorization": f"Bearer {served.tokens['ivy']}"}) as resp:
        assert resp.status == 200
        out.write_bytes(await resp.read())
    for t, before, after in zip((0.5, 1.5), frames(face_clip, [0.5, 1.5]), frames(out, [0.5, 1.5]), strict=True):
        fx, fy, fw, fh = face_box_at(t)
        was, now = before[fy:fy + fh, fx:fx + fw], after[fy:fy + fh, fx:fx + fw]
        assert np.abs(was.astype(np.float64) - now).mean() > 12, t
        # the face the detector finds in the source is gone from the render
        assert faces.detect_faces(before) and not faces.detect_faces(after), t


async def test_a_reviewer_compares_read_only(served: Served, face_clip: Path) -> None:
    page = await open_editor(served, "rex")
    assert await page.locator("#read-only").is_visible()
    assert not await page.locator("#tools, #save, #render, #suggest").count()
    await page.wait_for_selector("#renders li[data-state='done'] button.compare", timeout=RENDER_WAIT_MS)
    await page.locator("#renders li[data-state='done'] button.compare").first.click()
    await page.wait_for_selector("#rendered-view[data-ready='1']")
    for _ in range(3):
        await page.click("#step-forward")
    await both_at_same_frame(page, 3)
    # the server refuses the reviewer's save, whatever the page shows
    status = await page.evaluate(
        """async (source) => (await fetch('/ui/api/cases/CASE-B/redactions', {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content},
             body: JSON.stringify({source, tracks: []})})).status""",
        await page.get_attribute("#redact", "data-source"))
    assert status == 403


async def test_a_disclosure_officer_is_refused(served: Served, face_clip: Path) -> None:
    page = await served.signed_in("dora")
    await page.goto(f"{served.base}/cases/{CASE}")
    assert not await page.locator("a.redact").count()
    source = blake3(face_clip.read_bytes()).hexdigest()
    answer = await page.goto(f"{served.base}/cases/{CASE}/redact/{source}")
    assert answer is not None and answer.status == 403
    status = await page.evaluate("async () => (await fetch('/ui/api/cases/CASE-B/redactions')).status")
    assert status == 403


async def test_the_editor_speaks_chinese(served: Served, face_clip: Path) -> None:
    page = await open_editor(served, "ivy", "zh-CN")
    assert await page.inner_text("h1") == "视频遮挡编辑"
    assert await page.inner_text("#play") == "播放"
    assert "下一帧" in await page.inner_text("#step-forward")
    assert await page.inner_text("#save") == "保存版本"
    assert "第 0 帧" in await page.inner_text("#frame-source")
    labels = await page.evaluate("[...document.querySelectorAll('label')].map((l) => l.textContent.trim())")
    assert "遮挡方式" in labels and "每秒帧数" in labels
    await page.click("#play")
    await page.wait_for_selector("#play[aria-pressed='true']")
    assert await page.inner_text("#play") == "暂停"
    await page.click("#play")


async def test_the_editor_interpolates_as_the_render_does(served: Served, face_clip: Path) -> None:
    """The page's geometry (redact.js) against policy.redaction.position_at, halves included."""
    page = await open_editor(served, "ivy")
    tracks = [
        [Keyframe(0, 20, 70, 200, 220), Keyframe(2000, 220, 70, 200, 220)],
        [Keyframe(100, 11, 7, 33, 21), Keyframe(1100, 40, 90, 17, 45), Keyframe(1900, 3, 3, 60, 60)],
        [Keyframe(0, 0, 0, 5, 5), Keyframe(3, 1, 1, 5, 5)],  # a half-pixel step: Python rounds half to even
        [Keyframe(500, 100, 100, 40, 40)],
    ]
    times = [*range(0, 2100, 7), 1, 2]
    for keys in tracks:
        body = [{"t_ms": k.t_ms, "x": k.x, "y": k.y, "w": k.w, "h": k.h} for k in keys]
        shown = await page.evaluate(
            """async ([keyframes, times]) => {
                 const m = await import('/static/redact.js');
                 return times.map((t) => m.positionAt({keyframes}, t));
               }""", [body, times])
        expected = [position_at(Track("rect", "blur", tuple(keys)), t) for t in times]
        assert [tuple(p) if p else None for p in shown] == expected, keys
    assert await page.evaluate("async () => (await import('/static/redact.js')).pyRound(2.5)") == round(2.5)


async def test_the_frame_rate_is_measured_as_the_source_plays(served: Served) -> None:
    """The served fixture's clip runs at 15 frames a second (the field starts at 25)."""
    page = await open_editor(served, "ivy", clip=served.clip.name)
    assert await page.input_value("#fps") == "25"
    await page.click("#play")
    await page.wait_for_selector("#fps[data-measured='1']")
    await page.click("#play")
    assert await page.input_value("#fps") == "15"
    await step_to(page, 20)
    seconds = await page.evaluate("() => document.getElementById('source').currentTime")
    assert int(seconds * 15) == 20, seconds


async def test_the_main_actions_work_from_the_keyboard(served: Served, face_clip: Path) -> None:
    """New box, move it, step frames, keyframe, audio range and save without the mouse; every control labelled."""
    page = await open_editor(served, "ivy")
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, button, canvas')]
             .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                            && !e.textContent.trim())
             .map((e) => e.id || e.outerHTML.slice(0, 80))""")
    assert unlabelled == []
    before = len(await page.evaluate("window.custodyRedactEditor.tracks"))
    await page.focus("#overlay")
    await page.keyboard.press("n")
    for _ in range(3):
        await page.keyboard.press("Shift+ArrowRight")  # on the canvas: move the new box 10 px
    for _ in range(FPS):
        await page.keyboard.press(".")  # a frame on
    for _ in range(5):
        await page.keyboard.press("Shift+ArrowRight")
    await page.keyboard.press("Alt+ArrowDown")  # one pixel taller
    await page.keyboard.press("a")
    for _ in range(5):
        await page.keyboard.press(".")
    await page.keyboard.press("e")
    await page.keyboard.press("Control+s")
    await page.wait_for_function("() => document.getElementById('version-state').textContent.includes('Version')")
    tracks = await page.evaluate("window.custodyRedactEditor.tracks")
    assert len(tracks) == before + 1
    keys = tracks[-1]["keyframes"]
    assert [k["t_ms"] for k in keys] == [0, 1000], keys
    assert keys[1]["x"] - keys[0]["x"] == 50 and keys[1]["h"] - keys[0]["h"] == 1, keys
    shown = await page.inner_text("#version-hash")
    entry = next(e for e in await log_entries(served, "redaction.saved") if e["hash"] == shown)
    assert entry["tracks"][-1]["keyframes"] == keys
    assert [1000, 1200] in [[a["start_ms"], a["end_ms"]] for a in entry["audio"]], entry["audio"]
