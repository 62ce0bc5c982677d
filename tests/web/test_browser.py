"""The staff pages in a real browser: Debian's Chromium, driven by Playwright, against `custody serve`.

One server for the module (the ``served`` fixture in ``conftest.py``): a fresh database cloned from the
session template, users made with `custody user add`, a real clip (ffmpeg testsrc2 + sine) offloaded
through the agent's pipeline with `custody ingest --server`, which makes the proxy.  Screenshots of the
main pages go to ``var/screenshots/`` (not committed) for reviewers.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity.bundle_files import verify_bundle
from integrity.note import vkey_string
from tests.web.conftest import BROWSER_CASE, REPO, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

VENDOR = REPO / "api" / "web" / "static" / "vendor"
CASE = BROWSER_CASE


async def entries(served: Served) -> list[dict[str, Any]]:
    lines = (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()
    return [json.loads(line) for line in lines]


async def test_investigator_finds_the_case_and_plays_the_proxy_with_seeking(served: Served) -> None:
    page = await served.signed_in("ivy")
    assert page.url.endswith("/cases")
    await page.fill("input[name=officer]", "officer-7")
    await page.click("form.filters button[type=submit]")
    await page.click(f"#case-list a[href='/cases/{CASE}']")
    await page.wait_for_selector("#evidence tr.proxy")
    await shot(page, "case")
    assert await page.text_content("#checkpoint-signature") == "✓ signature valid"
    timeline = await page.inner_text("#timeline")
    assert "Recording CAM9_0001.mp4 ingested from camera CAM-9 (officer officer-7) by station dock-1" in timeline
    assert "Proxy CAM9_0001.proxy.mp4 made from original" in timeline

    await page.click("#evidence tr.original button.verify")
    await page.wait_for_selector("#evidence tr.original td.status .result.ok")
    assert "matches" in (await page.inner_text("#evidence tr.original td.status .result"))

    await page.click("#evidence tr.original a.play")  # plays the proxy, after asking the reason
    await page.wait_for_selector("#purpose-form")
    assert "/play/" in page.url and await page.query_selector("video") is None
    await page.fill("#purpose", "调查取证 review of the stop")
    await shot(page, "access-reason")
    await page.click("#purpose-form button[value=play]")
    await page.wait_for_selector("video#player")
    duration = await page.wait_for_function(
        "() => { const v = document.getElementById('player'); "
        "return v && Number.isFinite(v.duration) && v.duration > 0 ? v.duration : null; }")
    assert 2.0 < float(await duration.json_value()) < 4.5
    position = await page.evaluate("""() => new Promise((resolve, reject) => {
        const v = document.getElementById('player');
        v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
        v.addEventListener('error', () => reject(new Error('media error ' + v.error?.code)), {once: true});
        v.currentTime = 2.0;
    })""")
    assert abs(float(position) - 2.0) < 0.5
    await shot(page, "player")
    accessed = [e for e in await entries(served) if e["kind"] == "evidence.accessed"]
    assert accessed and accessed[-1]["actor"] == "investigator:ivy"
    assert accessed[-1]["purpose"] == "调查取证 review of the stop" and accessed[-1]["action"] == "view"

    await page.goto(f"{served.base}/cases/{CASE}")
    await page.click("a.lang")  # the language switch, remembered for the next pages
    await page.wait_for_selector("html[lang=zh-CN]")
    await page.goto(f"{served.base}/cases/{CASE}")
    timeline = await page.inner_text("#timeline")
    assert "执法记录仪 CAM-9 的录像 CAM9_0001.mp4" in timeline and "访问事由：调查取证 review of the stop" in timeline
    await shot(page, "case-zh")


async def test_investigator_exports_a_bundle_that_verifies(served: Served, tmp_path: Path) -> None:
    page = await served.signed_in("ivy")
    await page.goto(f"{served.base}/cases/{CASE}")
    await page.fill("#export-purpose", "court bundle")
    async with page.expect_download() as info:
        await page.click("#export-form button[type=submit]")
    download = await info.value
    assert download.suggested_filename == f"{CASE}-bundle.zip"
    bundle = tmp_path / "bundle.zip"
    await download.save_as(bundle)
    vkey = json.loads(await served.api("ivy", "/api/v1/keys"))["current"]
    report = verify_bundle(bundle, [vkey])
    assert report.ok, report.as_json()
    entries = [json.loads(line) for line in (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()]
    media = {e["blake3"] for e in entries if e["kind"] in ("evidence.ingested", "evidence.derived")}
    stills = {e["blake3"] for e in entries if e["kind"] == "evidence.thumbnail"}  # made from the proxy at ingest
    assert len(media) == 2 and {o.blake3 for o in report.objects} == media | stills  # original, proxy, still


async def drop_clip(page: Any, served: Served) -> str:
    """Drop the served clip on the verify page; the verdict's data-verdict."""
    data = base64.b64encode(served.clip.read_bytes()).decode()
    transfer = await page.evaluate_handle("""([name, b64]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'video/mp4'}));
        return dt;
    }""", [served.clip.name, data])
    await page.evaluate("() => document.getElementById('verify-result').replaceChildren()")
    await page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    verdict = await page.wait_for_selector("#verdict")
    return str(await verdict.get_attribute("data-verdict"))


async def test_verify_a_dropped_file_in_the_browser(served: Served, tmp_path: Path) -> None:
    if not (VENDOR / "hash-wasm.esm.min.js").exists():
        pytest.skip(f"VERIFY PAGE NOT TESTED: {VENDOR} not generated — run ./deploy/web-assets.sh")
    page = await served.signed_in("rex", lang="zh-CN")
    await page.click("a[data-nav='/verify']")
    await page.wait_for_selector("#verify[data-ready='1']")
    await shot(page, "verify")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    assert await drop_clip(page, served) == "match", await page.inner_text("#verify-result")
    verdict = await page.wait_for_selector("#verdict")
    card = await page.inner_text(".match-card")
    assert CASE in card and "CAM-9" in card and "officer-7" in card and "dock-1" in card
    assert await page.get_attribute(".match-card li[data-check=inclusion]", "class") == "passed"
    assert await page.get_attribute(".match-card li[data-check=signature]", "class") == "passed"
    assert "一致" in await verdict.inner_text()
    # An absent part of the answer is left out, not printed as the word "null".
    assert "null" not in (await page.inner_text("#verify-result")).split()
    assert not [r for r in requests if r.startswith("POST")]  # the file never left the browser
    await shot(page, "verify-match")

    other = tmp_path / "not-evidence.bin"
    other.write_bytes(os.urandom(300_000))
    await page.set_input_files("#verify-file", str(other))
    await page.wait_for_function("() => document.getElementById('verdict')?.dataset.verdict === 'nomatch'")
    assert "null" not in (await page.inner_text("#verify-result")).split()
    await shot(page, "verify-no-match")


async def test_verify_page_trusts_its_own_pinned_keys_not_the_servers_word(served: Served) -> None:
    if not (VENDOR / "hash-wasm.esm.min.js").exists():
        pytest.skip(f"VERIFY PAGE NOT TESTED: {VENDOR} not generated — run ./deploy/web-assets.sh")
    server_vkey = json.loads(await served.api("ivy", "/api/v1/keys"))["current"]
    page = await served.signed_in("ivy")
    await page.goto(served.base + "/verify")
    await page.wait_for_selector("#verify[data-ready='1']")
    assert await page.query_selector("#trusted-key-list") is None  # a fresh browser trusts nothing yet

    # First use pins the server's key, says so, and verifies under it.
    assert await drop_clip(page, served) == "match", await page.inner_text("#verify-result")
    assert await page.query_selector("#keys-first-use") is not None
    pins = json.loads(await page.evaluate("() => localStorage.getItem('custody.trustedVkeys.v1')"))
    assert [p["vkey"] for p in pins] == [server_vkey] and pins[0]["how"] == "first-use"

    # A browser that trusts another key: the same answer from the server no longer verifies, and the
    # server's key is shown as untrusted until someone here accepts it.
    other = vkey_string("custody.example/other", Ed25519PrivateKey.generate().public_key())
    await page.evaluate("(pins) => localStorage.setItem('custody.trustedVkeys.v1', JSON.stringify(pins))",
                        [{"vkey": other, "how": "manual", "added": "2026-11-27T00:00:00Z"}])
    await page.reload()
    await page.wait_for_selector("#verify[data-ready='1']")
    assert await drop_clip(page, served) == "failed"
    assert await page.get_attribute(".match-card li[data-check=signature]", "class") == "failed"
    assert await page.query_selector("#keys-first-use") is None
    untrusted = await page.wait_for_selector("[data-untrusted] button.trust-key")
    await shot(page, "verify-untrusted-key")
    await untrusted.click()  # accepting re-checks the same file
    await page.wait_for_function("() => document.getElementById('verdict')?.dataset.verdict === 'match'")
    refs = await page.eval_on_selector_all("#trusted-key-list li", "items => items.map(i => i.dataset.key)")
    assert len(refs) == 2

    # A pasted key that is not a vkey is refused with a reason, and nothing is added.
    await page.click("#trusted-keys summary")
    await page.fill("#vkey-input", "not+a+key")
    await page.click("#vkey-add")
    assert "verifier key" in await page.inner_text("#vkey-error")
    assert len(await page.query_selector_all("#trusted-key-list li")) == 2
    # Removing the server's key makes its checkpoints fail again.
    await page.click(f"#trusted-key-list li[data-key='{refs[1]}'] button[data-remove]")
    assert await drop_clip(page, served) == "failed"


async def test_each_role_sees_only_what_it_may(served: Served) -> None:
    page = await served.page()
    await page.goto(served.base + "/signin")
    await page.fill("#token", served.tokens["dock"])
    await page.click("button[type=submit]")
    assert "cannot sign in" in await page.inner_text("#signin-error")
    await shot(page, "signin-station-refused")

    expected = {"dora": {"/cases", "/search", "/verify", "/disclosure", "/public"},
                "rex": {"/cases", "/search", "/verify", "/disclosure", "/review", "/public"},
                "ivy": {"/cases", "/search", "/verify", "/disclosure", "/public"},
                "ada": {"/cases", "/search", "/verify", "/disclosure", "/review", "/admin", "/admin/retention",
                        "/admin/law-changes", "/public", "/admin/audit"}}
    for who, nav in expected.items():
        page = await served.signed_in(who)
        links = await page.eval_on_selector_all("nav.main a", "els => els.map(e => e.dataset.nav)")
        assert set(links) == nav, who
        if who != "ada":
            response = await page.goto(served.base + "/admin")
            assert response is not None and response.status == 403
    dora = await served.signed_in("dora")
    await dora.goto(f"{served.base}/cases/{CASE}")
    assert await dora.query_selector("a.play") is None and await dora.query_selector("button.verify") is None
    evidence = json.loads(await served.api("ivy", f"/api/v1/cases/{CASE}/evidence"))["evidence"]
    proxy = next(e["blake3"] for e in evidence if e["kind"] == "evidence.derived")
    response = await dora.goto(f"{served.base}/cases/{CASE}/play/{proxy}?purpose=curious")
    assert response is not None and response.status == 403
    await shot(dora, "disclosure-forbidden-playback")
    response = await dora.goto(f"{served.base}/cases/{CASE}/objects/{proxy}?purpose=curious")
    assert response is not None and response.status == 403


async def test_admin_adds_a_user_and_sees_the_token_once(served: Served) -> None:
    page = await served.signed_in("ada", lang="zh-CN")
    assert page.url.endswith("/admin")
    await shot(page, "admin")
    await page.fill("#add-principal input[name=name]", "newcomer")
    await page.select_option("#add-principal select[name=role]", "reviewer")
    await page.click("#add-principal button[type=submit]")
    token = (await page.inner_text("#issued-token")).strip()
    assert token.startswith("cst_") and "只显示这一次" in await page.inner_text("main")
    await shot(page, "token-once")
    await page.goto(served.base + "/admin")
    assert token not in await page.content()
    assert "newcomer" in await page.inner_text("#principals")
    served.tokens["newcomer"] = token
    newcomer = await served.signed_in("newcomer")
    assert "newcomer" in await newcomer.inner_text("#signed-in-user")


async def test_verify_page_says_withheld_not_no_match_for_a_case_the_user_may_not_read(served: Served) -> None:
    if not (VENDOR / "hash-wasm.esm.min.js").exists():
        pytest.skip(f"VERIFY PAGE NOT TESTED: {VENDOR} not generated — run ./deploy/web-assets.sh")

    async def restrict(who: str, level: str) -> None:
        async with aiohttp.ClientSession() as http, http.put(
                f"{served.base}/api/v1/cases/{CASE}/restriction", json={"level": level, "reason": "test"},
                headers={"Authorization": f"Bearer {served.tokens[who]}"}) as resp:
            assert resp.status == 200, await resp.text()

    await restrict("ivy", "privacy")  # ivy handles the case; rex (a reviewer) has no grant
    try:
        page = await served.signed_in("rex")
        await page.goto(served.base + "/verify")
        await page.wait_for_selector("#verify[data-ready='1']")
        assert await drop_clip(page, served) == "withheld", await page.inner_text("#verify-result")
        assert "1" in await page.inner_text("#verify-withheld")
        assert await page.query_selector(".match-card") is None
    finally:
        await restrict("ada", "none")  # lowering takes an admin; later tests see the case again
