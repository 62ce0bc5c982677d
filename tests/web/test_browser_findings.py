"""The publication check's findings on the record page in a real browser (issue 13 item 2): a disclosure
officer masks one and clears another as not personal data, in Chinese; the approver sees the cleared
finding and its reason in English and approves."""

from __future__ import annotations

import pytest

from tests.web.conftest import RECORD, Served, shot
from tests.web.test_browser_disclosure import CASE, state_becomes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

VIOLATION = "当事人于2026年9月3日在建国路占道经营。现场检查记录编号7302145，收据流水号20261234567890123456。"


async def test_findings_are_masked_or_cleared_then_approved(served: Served) -> None:
    decision_no = "京朝城管罚字〔2026〕第0901号"
    await served.determine(decision_no)
    page = await served.signed_in("dora", lang="zh-CN")
    await page.goto(f"{served.base}/disclosure/new")
    await page.fill("#f-case", CASE)
    await page.fill("#f-decision_no", decision_no)
    for name in ("party_name", "category", "legal_basis", "penalty", "decision_date"):
        await page.fill(f"#f-{name}", RECORD[name])
    await page.fill("#f-violation", VIOLATION)
    await page.click("#draft-form button[type=submit]")
    await state_becomes(page, "draft")
    rid = (await page.inner_text("#record-id")).strip()
    assert await page.get_attribute("#findings", "data-open") == "2"
    assert "尚有2项未处理" in await page.inner_text("#findings-open")
    await shot(page, "findings-zh")

    row = "#findings-table tr[data-finding='7302145']"
    await page.fill(f"{row} input[name=reason]", "检查记录编号不公开")
    await page.click(f"{row} .finding-mask")
    await page.wait_for_selector("#done-notice")
    assert "7302145" not in await page.inner_text("#preview-text")
    row = "#findings-table tr[data-finding='20261234567890123456']"
    await page.fill(f"{row} input[name=reason]", "收据流水号，不指向个人")
    await page.click(f"{row} .finding-clear")
    await page.wait_for_selector("#findings[data-open='0']")
    assert "非个人信息：收据流水号，不指向个人" in await page.inner_text(row)

    dina = await served.signed_in("dina")
    await dina.goto(f"{served.base}/disclosure/{rid}")
    assert "not personal data: 收据流水号，不指向个人" in await dina.inner_text("#findings")
    assert "Publication check" in await dina.inner_text("#findings h2")
    await shot(dina, "findings-en")
    await dina.click("#act-approve button")
    await state_becomes(dina, "approved")
