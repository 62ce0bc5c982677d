"""The publication check on the record page (issue 13 item 2): the findings, masking one and clearing
another as not personal data with a reason, then approval goes through; both languages."""

from __future__ import annotations

import html
import json

from tests.web.conftest import CASE, Web
from tests.web.test_disclosure_pages import alert, draft, post

VIOLATION = "当事人于2026年5月6日占道经营。现场检查记录编号7302145，收据流水号20261234567890123456。"


async def test_findings_are_masked_or_cleared_on_the_record_page(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "zh-CN"})
    rid = await draft(dora, violation=VIOLATION)
    page = await dora.get(f"/disclosure/{rid}")
    assert 'data-open="2"' in page.text and "尚有2项未处理：不能审批或公开。" in page.text
    en = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    assert "2 findings open: approval and publication are blocked." in (await en.get(f"/disclosure/{rid}")).text
    no_reason = await post(dora, f"/disclosure/{rid}/findings", {"finding": "7302145", "resolution": "mask",
                                                                  "reason": ""})
    assert no_reason.status == 422 and "reason" in alert(no_reason)
    masked = await post(dora, f"/disclosure/{rid}/findings", {"finding": "7302145", "resolution": "mask",
                                                               "reason": "检查记录编号不公开"})
    assert masked.status == 303 and masked.location.endswith("done=resolved#findings")
    cleared = await post(dora, f"/disclosure/{rid}/findings", {
        "finding": "20261234567890123456", "resolution": "not_personal", "reason": "收据流水号，不指向个人"})
    assert cleared.status == 303
    page = await dora.get(f"/disclosure/{rid}")
    assert 'data-open="0"' in page.text and "7302145" not in page.text.split('id="preview-text"')[1].split("</pre>")[0]
    assert "非个人信息：收据流水号，不指向个人" in html.unescape(page.text)
    approved = await post(await dora.colleague(), f"/disclosure/{rid}/approve")
    assert approved.status == 303, alert(approved)
    kinds = [json.loads(r.body) for r in await web_app.locker.log.entries(CASE)]
    resolved = [e for e in kinds if e["kind"] == "disclosure.finding_resolved"]
    assert [e["resolution"] for e in resolved] == ["mask", "not_personal"]
    reader = await web_app.sign_in("investigator")
    assert 'id="findings"' not in (await reader.get(f"/disclosure/{rid}")).text
