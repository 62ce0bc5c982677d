"""Sharing with a prosecutor in a real browser: the investigator makes the link on the case page; the
recipient, with no account, opens it, downloads the original, verifies it in the browser; revoking ends it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from tests.web.conftest import BROWSER_CASE, REPO, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CASE = BROWSER_CASE


async def share_entries(served: Served) -> list[dict[str, Any]]:
    lines = (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()
    return [e for e in (json.loads(line) for line in lines) if e["kind"].startswith("share.")]


async def test_a_recipient_downloads_an_original_and_verifies_it_in_the_browser(served: Served,
                                                                                tmp_path: Path) -> None:
    if not (REPO / "api" / "web" / "static" / "vendor" / "hash-wasm.esm.min.js").exists():
        pytest.skip("SHARE VERIFY NOT TESTED: vendor scripts not generated — run ./deploy/web-assets.sh")
    original = blake3(served.clip.read_bytes()).hexdigest()
    staff = await served.signed_in("ivy")
    await staff.goto(f"{served.base}/cases/{CASE}")
    await staff.fill("#share-form input[name=organisation]", "朝阳区人民检察院")
    await staff.fill("#share-form input[name=person]", "李检察官")
    await staff.fill("#share-form input[name=purpose]", "审查起诉 indictment review")
    await staff.fill("#share-form input[name=days]", "14")
    await staff.fill("#share-form input[name=max_downloads]", "3")
    await staff.check(f"#share-form input[name=items][value='{original}']")
    await staff.click("#share-form button[type=submit]")
    link = await (await staff.wait_for_selector("#share-link")).get_attribute("value")
    assert link and "/s/csh_" in link
    await shot(staff, "share-created")

    recipient = await served.page("zh-CN")  # no session: the link is the credential
    await recipient.goto(link)
    await recipient.wait_for_selector("#verify[data-ready='1']")
    assert "共享的证据" in await recipient.inner_text("h1")
    assert "李检察官" in await recipient.inner_text("#share-recipient")
    row = await recipient.inner_text(f"#share-items tr[data-blake3='{original}']")
    assert "CAM9_0001.mp4" in row and "officer-7" in row
    await shot(recipient, "share-recipient")
    async with recipient.expect_download() as info:
        await recipient.click(f"#share-items tr[data-blake3='{original}'] a.download")
    download = await info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.name == "CAM9_0001.mp4" and saved.read_bytes() == served.clip.read_bytes()

    requests: list[str] = []
    recipient.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    await recipient.set_input_files("#verify-file", str(saved))
    verdict = await recipient.wait_for_selector("#verdict")
    assert await verdict.get_attribute("data-verdict") == "match", await recipient.inner_text("#verify-result")
    assert await recipient.get_attribute(".match-card li[data-check=inclusion]", "class") == "passed"
    assert await recipient.get_attribute(".match-card li[data-check=signature]", "class") == "passed"
    assert not [r for r in requests if r.startswith("POST")]  # the file never left the browser
    await shot(recipient, "share-verified")

    entries = await share_entries(served)
    share_id = entries[-1]["share"]
    kinds = [(e["kind"], e["actor"]) for e in entries if e["share"] == share_id]
    assert kinds[0] == ("share.created", "investigator:ivy")
    assert ("share.viewed", f"share:{share_id}") in kinds and ("share.downloaded", f"share:{share_id}") in kinds

    await staff.goto(f"{served.base}/cases/{CASE}?lang=en")
    await staff.fill(f"#share-list tr[data-share='{share_id}'] input[name=reason]", "indictment filed")
    await staff.click(f"#share-list tr[data-share='{share_id}'] button[type=submit]")
    await staff.wait_for_selector("text=The share is revoked")
    assert "revoked" in await staff.inner_text(f"#share-list tr[data-share='{share_id}']")
    answer = await recipient.goto(link)
    assert answer is not None and answer.status == 404
    assert "链接未知、已过期或已撤销" in await recipient.inner_text("#error-message")
    assert (await share_entries(served))[-1]["kind"] == "share.revoked"
