"""Intake in a real browser (issue 18 item 2): files added to a case through the stations' upload path,
hashed with BLAKE3 in Chromium, resumed after a dropped connection, refused on a wrong hash; text records
written in a form; cases opened; roles without the permission refused here and through the API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from blake3 import blake3
from playwright.async_api import Page, Route

from tests.web.conftest import BROWSER_CASE, REPO, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CASE = BROWSER_CASE
MiB = 1024 * 1024
CHUNK = 16 * MiB  # intake.js's CHUNK_BYTES


@pytest.fixture(autouse=True)
def _vendored() -> None:
    if not (REPO / "api" / "web" / "static" / "vendor" / "hash-wasm.esm.min.js").exists():
        pytest.skip("BROWSER INTAKE NOT TESTED: vendor scripts not generated — run ./deploy/web-assets.sh")


async def entries(served: Served, case: str = CASE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (await served.api("ivy", f"/api/v1/cases/{case}/entries")).splitlines()]


def home(served: Served) -> Path:
    return Path(served.env["CUSTODY_HOME"])


def stored_files(served: Served, hexd: str) -> list[Path]:
    """The object store's file for ``hexd`` (``blake3/<2 hex>/<hex>`` in the file store)."""
    return [p for p in home(served).rglob(hexd) if p.is_file() and p.parent.parent.name == "blake3"]


def part_files(served: Served) -> list[Path]:
    return [p for p in home(served).rglob("*.part") if p.is_file()]


def make_photo(path: Path, size: str = "1280x720") -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}", "-frames:v", "1", "-q:v", "3", str(path)], check=True)


def make_pdf(path: Path, pages_of_noise: int = 1) -> None:
    """A small, valid PDF (one page, a line of text) padded with a binary stream, as a scan would be."""
    noise = os.urandom(pages_of_noise * 700 * 1024)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(noise) + noise + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


async def intake_page(served: Served, who: str = "ivy", lang: str = "en-US") -> Page:
    page = await served.signed_in(who, lang)
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.wait_for_selector("#intake[data-ready='1']")
    return page


async def upload(page: Page, files: list[Path], *, kind: str = "original", stage: str = "", title: str = "",
                 timeout_ms: int = 120_000) -> list[dict[str, str]]:
    """Pick ``files``, press the button, wait for each row to end; the rows' data attributes."""
    before = int(await page.get_attribute("#intake", "data-finished") or 0)
    await page.select_option("#intake-kind", kind)
    await page.select_option("#intake-stage", stage)
    await page.fill("#intake-title", title)
    await page.set_input_files("#intake-files", [str(f) for f in files])
    await page.click("#intake-start")
    await page.wait_for_function(f"() => Number(document.getElementById('intake').dataset.finished ?? 0) >= "
                                 f"{before + len(files)}", timeout=timeout_ms)
    rows = await page.eval_on_selector_all(
        "#intake-list li", "items => items.map(li => ({...li.dataset, text: li.innerText, "
                           "bar: String(li.querySelector('progress').value)}))")
    return rows[-len(files):]


async def test_a_photo_and_a_pdf_go_in_with_progress_and_a_receipt(served: Served, tmp_path: Path) -> None:
    photo, pdf = tmp_path / "scene-photo.jpg", tmp_path / "scan.pdf"
    make_photo(photo)
    make_pdf(pdf, pages_of_noise=30)  # ~21 MiB: two parts
    page = await intake_page(served)
    rows = await upload(page, [photo, pdf])
    await shot(page, "intake-uploaded-en")
    logged = {e["seq"]: e for e in await entries(served)}
    for path, row in zip((photo, pdf), rows, strict=True):
        hexd = blake3(path.read_bytes()).hexdigest()
        assert row["state"] == "committed", row["text"]
        assert row["phases"].split() == ["hashing", "declaring", "uploading", "verifying", "committed"]
        assert row["bar"] == "1" and int(row["progressSteps"]) > 3  # the bar moved while hashing and sending
        assert row["hashed"] == hexd and row["blake3"] == hexd  # BLAKE3 computed in Chromium
        assert row["receipt"] == "ok", row["text"]
        assert "receipt verified here" in row["text"] and "Stored and logged" in row["text"]
        entry = logged[int(row["seq"])]
        assert entry["kind"] == "evidence.ingested" and entry["blake3"] == hexd
        assert entry["actor"] == "investigator:ivy" and entry["file_name"] == path.name
        assert entry["size"] == path.stat().st_size and "station" not in entry
        assert entry["media_type"] == ("image/jpeg" if path is photo else "application/pdf")
        assert len(stored_files(served, hexd)) == 1
    assert not part_files(served)

    # The same file again: the case already holds it; nothing is stored or logged twice.
    size_before = len(logged)
    again = await upload(page, [photo])
    assert again[0]["state"] == "already", again[0]["text"]
    assert "Already in this case" in again[0]["text"]
    assert len(await entries(served)) == size_before

    await page.goto(f"{served.base}/cases/{CASE}")
    row = await page.inner_text(f"#evidence tr[data-blake3='{blake3(photo.read_bytes()).hexdigest()}']")
    assert "scene-photo.jpg" in row


async def test_a_scanned_record_in_chinese(served: Served, tmp_path: Path) -> None:
    scan = tmp_path / "询问笔录-张三.pdf"
    make_pdf(scan)
    page = await intake_page(served, lang="zh-CN")
    assert "向本案添加材料" in await page.inner_text("#case-intake h2")
    rows = await upload(page, [scan], kind="record", stage="investigation", title="询问笔录")
    await shot(page, "intake-record-zh")
    assert rows[0]["state"] == "committed", rows[0]["text"]
    assert "已存储并记入日志" in rows[0]["text"] and "回执已在本浏览器核验" in rows[0]["text"]
    entry = next(e for e in await entries(served) if e["seq"] == int(rows[0]["seq"]))
    assert entry["kind"] == "record.added" and entry["blake3"] == blake3(scan.read_bytes()).hexdigest()
    assert (entry["stage"], entry["stage_zh"], entry["title"]) == ("investigation", "调查取证", "询问笔录")
    await page.goto(f"{served.base}/cases/{CASE}")
    assert "询问笔录-张三.pdf" in await page.inner_text("#records")


async def test_a_dropped_connection_resumes_from_the_servers_offset(served: Served, tmp_path: Path) -> None:
    video = tmp_path / "long-recording.bin"
    data = os.urandom(2 * CHUNK + 3 * MiB)
    video.write_bytes(data)
    hexd = blake3(data).hexdigest()
    page = await intake_page(served)
    cut = CHUNK + 5 * MiB + 123  # the second part breaks off after 5 MiB: the server holds more than a part
    dropped: list[int] = []

    async def drop_once(route: Route) -> None:
        offset = int(route.request.url.rsplit("offset=", 1)[1])
        if route.request.method != "PUT" or offset != CHUNK or dropped:
            await route.continue_()
            return
        dropped.append(offset)
        # What reached the server before the line went: part of the part.  The browser hears nothing back.
        response = await route.fetch(post_data=data[offset:cut], timeout=60_000)
        assert response.status == 200, await response.text()
        await route.abort("connectionreset")

    await page.route("**/ui/api/uploads/*?offset=*", drop_once)
    rows = await upload(page, [video])
    await page.unroute("**/ui/api/uploads/*?offset=*")
    assert dropped == [CHUNK]
    row = rows[0]
    assert row["state"] == "committed", row["text"]
    assert "resuming" in row["phases"].split()
    assert row["resumedAt"] == str(cut)  # asked the server, which held the broken part's first bytes
    assert row["blake3"] == hexd and row["receipt"] == "ok"
    mine = [e for e in await entries(served) if e.get("blake3") == hexd]
    assert [e["kind"] for e in mine] == ["evidence.ingested"] and mine[0]["size"] == len(data)
    objects = stored_files(served, hexd)
    assert len(objects) == 1
    assert blake3(objects[0].read_bytes()).hexdigest() == hexd  # whole, not half-written
    assert not part_files(served)


async def test_an_upload_cut_by_a_reload_continues_when_the_same_file_is_picked_again(served: Served,
                                                                                      tmp_path: Path) -> None:
    video = tmp_path / "interrupted.bin"
    data = os.urandom(CHUNK + 2 * MiB)
    video.write_bytes(data)
    hexd = blake3(data).hexdigest()
    page = await intake_page(served)
    declared: list[str] = []
    page.on("request", lambda r: declared.append(r.url) if r.method == "POST" and "/ui/api/uploads" in r.url
            else None)
    held: list[Route] = []

    async def hold_second_part(route: Route) -> None:
        if route.request.url.endswith(f"offset={CHUNK}"):
            held.append(route)  # never answered: the page is reloaded while it waits
        else:
            await route.continue_()

    await page.route("**/ui/api/uploads/*?offset=*", hold_second_part)
    await page.select_option("#intake-kind", "original")
    await page.set_input_files("#intake-files", str(video))
    await page.click("#intake-start")
    for _ in range(600):
        if held:
            break
        await asyncio.sleep(0.1)
    assert held, "the second part was never sent"
    await page.reload()  # the held part is dropped with the page: it never reaches the server
    await page.unroute("**/ui/api/uploads/*?offset=*")
    await page.wait_for_selector("#intake[data-ready='1']")
    rows = await upload(page, [video])
    assert rows[0]["state"] == "committed", rows[0]["text"]
    assert rows[0]["continuedAt"] == str(CHUNK)  # the server's copy of the first part was kept
    assert len(declared) == 1  # the same upload, not a second one
    mine = [e for e in await entries(served) if e.get("blake3") == hexd]
    assert [e["kind"] for e in mine] == ["evidence.ingested"]
    assert len(stored_files(served, hexd)) == 1 and not part_files(served)


async def test_a_wrong_hash_is_refused_with_a_clear_message(served: Served, tmp_path: Path) -> None:
    photo = tmp_path / "tampered.jpg"
    make_photo(photo, "1024x576")  # not the other test's photo, which the case already holds
    data = photo.read_bytes()
    hexd = blake3(data).hexdigest()
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF  # one byte changed in transit
    for lang, words in (("en-US", "Refused: the bytes the server received do not have the BLAKE3"),
                        ("zh-CN", "已拒收：服务器收到的内容与本浏览器计算的BLAKE3不符")):
        page = await intake_page(served, lang=lang)

        async def corrupt(route: Route) -> None:
            response = await route.fetch(post_data=bytes(bad))
            await route.fulfill(response=response)

        await page.route("**/ui/api/uploads/*?offset=*", corrupt)
        rows = await upload(page, [photo])
        await page.unroute("**/ui/api/uploads/*?offset=*")
        assert rows[0]["state"] == "failed" and rows[0]["refused"] == "hash", rows[0]
        assert words in rows[0]["text"] and hexd in rows[0]["text"]
        await shot(page, f"intake-wrong-hash-{lang[:2]}")
    assert not [e for e in await entries(served) if e.get("blake3") in (hexd, blake3(bytes(bad)).hexdigest())]
    assert not stored_files(served, hexd) and not part_files(served)


async def test_a_text_record_written_in_the_form(served: Served) -> None:
    text = "现场笔录\n时间：2026年11月20日 08:00\n地点：建国路88号\n当事人在人行道上摆摊。"
    for lang, done in (("en-US", "Text record stored and logged."), ("zh-CN", "文书已存储并记入日志。")):
        page = await served.signed_in("ivy", lang)
        await page.goto(f"{served.base}/cases/{CASE}")
        await page.click("#record-form-panel summary")
        await page.select_option("#record-form select[name=stage]", "investigation")
        await page.fill("#record-form input[name=title]", "现场笔录")
        await page.fill("#record-form input[name=file_name]", f"xianchang-{lang}.txt")
        await page.fill("#record-text", text + lang)
        await page.click("#record-form button[type=submit]")
        await page.wait_for_selector("#done-notice")
        assert done in await page.inner_text("#done-notice")
        assert f"xianchang-{lang}.txt" in await page.inner_text("#records")
        entry = next(e for e in reversed(await entries(served)) if e.get("file_name") == f"xianchang-{lang}.txt")
        assert entry["kind"] == "record.added" and entry["actor"] == "investigator:ivy"
        assert (entry["stage"], entry["title"]) == ("investigation", "现场笔录")
        assert entry["blake3"] == blake3((text + lang).encode()).hexdigest()
        assert page.url.endswith(f"#entry-{entry['seq']}")
    await shot(page, "intake-text-record-zh")

    # The decision stage needs its cleared decision (§四): refused on the page with the service's words.
    await page.click("#record-form-panel summary")
    await page.select_option("#record-form select[name=stage]", "decision")
    await page.fill("#record-text", "处罚决定书")
    await page.click("#record-form button[type=submit]")
    assert "decision" in (await page.inner_text("#case-error")).lower()


async def test_a_case_is_opened_in_the_browser(served: Served) -> None:
    page = await served.signed_in("ivy")
    await page.goto(f"{served.base}/cases")
    await page.click("#open-case-link")
    await page.fill("#open-case-form input[name=id]", "CASE-WEB-1")
    await page.fill("#open-case-form input[name=title]", "占道经营 opened in the browser")
    await page.click("#open-case-form button[type=submit]")
    await page.wait_for_selector("#done-notice")
    assert "Case opened" in await page.inner_text("#done-notice")
    assert "CASE-WEB-1" in await page.inner_text("#case-id")
    opened = (await entries(served, "CASE-WEB-1"))[0]
    assert opened["kind"] == "case.opened" and opened["actor"] == "investigator:ivy"
    assert opened["handler"] == "investigator:ivy"

    for case_id, handler, words in (("governance", "", "reserved for the bureau's governance log"),
                                    ("CASE-WEB-2", "rex", "a case is handled by an investigator"),
                                    ("CASE-WEB-3", "nobody", "no active user 'nobody'"),
                                    ("CASE-WEB-1", "", "exists")):
        await page.goto(f"{served.base}/open-case")
        await page.fill("#open-case-form input[name=id]", case_id)
        await page.fill("#open-case-form input[name=handler]", handler)
        await page.click("#open-case-form button[type=submit]")
        error = await page.inner_text("#open-case-error")
        assert words in error, error
        assert await page.input_value("#open-case-form input[name=id]") == case_id  # kept for correcting

    zh = await served.signed_in("ivy", "zh-CN")
    await zh.goto(f"{served.base}/open-case")
    assert "新建案件" in await zh.inner_text("h1")
    await zh.fill("#open-case-form input[name=id]", "CASE-WEB-ZH")
    await zh.fill("#open-case-form input[name=handler]", "ada")  # an administrator may handle a case
    await zh.click("#open-case-form button[type=submit]")
    assert "案件已立" in await zh.inner_text("#done-notice")
    assert (await entries(served, "CASE-WEB-ZH"))[0]["handler"] == "admin:ada"
    await shot(zh, "intake-case-opened-zh")


async def _fetch_in_page(page: Page, method: str, url: str, body: Any = None, *, csrf: bool = True) -> dict[str, Any]:
    answer: dict[str, Any] = await page.evaluate(
        """async ([method, url, body, csrf]) => {
             const token = document.querySelector('meta[name="csrf-token"]').content;
             const response = await fetch(url, {method, credentials: "same-origin",
               headers: {"Content-Type": "application/json", ...(csrf ? {"X-CSRF-Token": token} : {})},
               body: body === null ? undefined : JSON.stringify(body)});
             return {status: response.status, body: await response.json()};
           }""", [method, url, body, csrf])
    return answer


async def test_roles_without_the_permission_are_refused_in_the_browser_and_the_api(served: Served,
                                                                                   tmp_path: Path) -> None:
    data = os.urandom(4096)
    declaration = {"case": CASE, "blake3": blake3(data).hexdigest(), "size": len(data), "file_name": "x.jpg"}
    for who in ("rex", "dora"):
        page = await served.signed_in(who)
        await page.goto(f"{served.base}/cases/{CASE}")
        assert await page.query_selector("#case-intake") is None  # no panel to offer
        refused = await _fetch_in_page(page, "POST", "/ui/api/uploads", declaration)
        assert refused["status"] == 403 and refused["body"]["error"] == "forbidden", refused
        answer = await page.goto(f"{served.base}/open-case")
        assert answer is not None and answer.status == 403
        async with aiohttp.ClientSession() as http, http.post(
                f"{served.base}/api/v1/uploads", json=declaration,
                headers={"Authorization": f"Bearer {served.tokens[who]}"}) as resp:
            assert resp.status == 403 and (await resp.json())["error"] == "forbidden"

    # The investigator's session needs its CSRF token; with it, the same declaration is taken.
    page = await intake_page(served)
    refused = await _fetch_in_page(page, "POST", "/ui/api/uploads", declaration, csrf=False)
    assert refused["status"] == 403 and "CSRF" in refused["body"]["message"]
    taken = await _fetch_in_page(page, "POST", "/ui/api/uploads", declaration)
    assert taken["status"] == 201 and taken["body"]["state"] == "open"
    # Another user's (or a station's) upload is not theirs to resume.
    async with aiohttp.ClientSession() as http, http.get(
            f"{served.base}/api/v1/uploads/{taken['body']['id']}",
            headers={"Authorization": f"Bearer {served.tokens['dock']}"}) as resp:
        assert resp.status == 404
    # The same path through the API with the investigator's own token: declared, sent, receipted.
    headers = {"Authorization": f"Bearer {served.tokens['ivy']}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{served.base}/api/v1/uploads", json={**declaration, "file_name": "api.jpg"},
                             headers=headers) as resp:
            state = await resp.json()
            assert resp.status == 201, state
        async with http.put(f"{served.base}/api/v1/uploads/{state['id']}?offset=0", data=data,
                            headers=headers) as resp:
            done = await resp.json()
            assert resp.status == 200 and done["state"] == "committed", done
        # A user may not claim to be a station, nor upload into the governance log.
        async with http.post(f"{served.base}/api/v1/uploads", json={**declaration, "station": "dock-1"},
                             headers=headers) as resp:
            assert resp.status == 403
        async with http.post(f"{served.base}/api/v1/uploads", json={**declaration, "case": "governance"},
                             headers=headers) as resp:
            assert resp.status == 422 and "governance" in (await resp.json())["message"]
    await asyncio.sleep(0)
