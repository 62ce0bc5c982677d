"""Disclosure, legal review, admin and public pages in a real browser against `custody serve`.

Debian's Chromium driven by Playwright, on the ``served`` fixture of ``conftest.py`` (its own server
and database for this module).  A disclosure user drafts, publishes, corrects and revokes a record
through the pages; a reviewer passes a major decision through the checklist form; the public portal
is scanned for raw personal data; each role sees only its own navigation and actions.  Screenshots of
every new page, in Chinese and English, go to ``var/screenshots/``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Page

from tests.web.conftest import BROWSER_CASE, PERSONAL, RECORD, Served, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CASE = BROWSER_CASE


async def fill_draft(served: Served, page: Page, decision_no: str) -> str:
    """Fill and save the draft form (a natural person); the new record's id."""
    await served.determine(decision_no)
    await page.click("#new-draft")
    await page.wait_for_selector("#draft-form")
    await page.fill("#f-case", CASE)
    await page.fill("#f-decision_no", decision_no)
    for name in ("party_name", "party_id_no", "party_phone", "party_address", "category", "violation", "legal_basis",
                 "penalty", "decision_date"):
        await page.fill(f"#f-{name}", RECORD[name])
    await page.fill("#f-other_names", "张三")
    await page.click("#draft-form button[type=submit]")
    await page.wait_for_selector("#record-state[data-state=draft]")
    return (await page.inner_text("#record-id")).strip()


async def state_becomes(page: Page, state: str) -> None:
    await page.wait_for_selector(f"#record-state[data-state={state}]")


async def case_entries(served: Served) -> list[dict[str, Any]]:
    lines = (await served.api("ivy", f"/api/v1/cases/{CASE}/entries")).splitlines()
    return [json.loads(line) for line in lines]


async def approve_as_dina(served: Served, rid: str) -> None:
    dina = await served.signed_in("dina")
    await dina.goto(f"{served.base}/disclosure/{rid}")
    await dina.click("#act-approve button")
    await state_becomes(dina, "approved")


async def test_disclosure_staff_draft_publish_correct_and_revoke(served: Served) -> None:
    page = await served.signed_in("dora")
    assert page.url.endswith("/disclosure")  # the disclosure role starts at its records
    rid = await fill_draft(served, page, "京朝城管罚字〔2026〕第0601号")
    preview = await page.inner_text("#public-preview")
    assert "欧阳**" in preview and not [v for v in PERSONAL if v in preview]
    assert "欧阳娜娜" in await page.inner_text("#raw-record")
    await shot(page, "disclosure-record-draft")

    await approve_as_dina(served, rid)  # the drafter never approves (§二)
    await page.reload()
    await page.click("#act-publish button")
    await state_becomes(page, "published")
    assert await page.inner_text("#takedown-due") != "—"
    await shot(page, "disclosure-record-published")

    await page.click("#act-correct summary")
    await page.fill("#c-penalty", "罚款人民币300元")
    await page.fill("#c-reason", "amount mistyped")
    await page.click("#act-correct button[type=submit]")
    await page.wait_for_selector("#done-notice")
    assert "300元" in await page.inner_text("#preview-text")
    assert "corrected; reason: amount mistyped" in await page.inner_text("#history")

    public = await served.page()
    await public.goto(served.base + "/public")
    content = await public.content()
    assert f'data-id="{rid}"' in content and "欧阳**" in content and "罚款人民币300元" in content
    assert not [v for v in (*PERSONAL, "张三") if v in content]
    assert await public.query_selector("nav.main") is None  # no staff navigation when signed out
    await shot(public, "public")

    await page.click("#act-revoke summary")
    await page.fill("#revoke-reason", "published in error: a minor's case")
    await page.click("#act-revoke button[type=submit]")
    await state_becomes(page, "revoked")
    await shot(page, "disclosure-record-revoked")
    await public.reload()
    assert f'data-id="{rid}"' not in await public.content()  # gone from the portal ...
    kinds = [e["kind"] for e in await case_entries(served) if e.get("disclosure") == rid]
    assert kinds == ["disclosure.created", "disclosure.approved", "disclosure.published", "disclosure.corrected",
                     "disclosure.revoked"]  # ... not from the log

    zh = await served.signed_in("dora", lang="zh-CN")
    await zh.goto(f"{served.base}/disclosure/{rid}")
    assert "已撤销" in await zh.inner_text("#record-state")
    await shot(zh, "disclosure-record-zh")
    await zh.goto(f"{served.base}/disclosure")
    await shot(zh, "disclosure-list-zh")
    await page.goto(f"{served.base}/disclosure")
    await shot(page, "disclosure-list")
    await page.click("#new-draft")
    await shot(page, "disclosure-new")


async def test_a_reviewer_passes_a_major_decision_through_the_checklist(served: Served) -> None:
    dora = await served.signed_in("dora")
    rid = await fill_draft(served, dora, "京朝城管罚字〔2026〕第0602号")
    await dora.click("#act-major summary")
    await dora.check("#act-major input[value=after_hearing]")
    await dora.click("#act-major button[type=submit]")
    await dora.wait_for_selector("#review-needed")
    dina = await served.signed_in("dina")
    await dina.goto(f"{served.base}/disclosure/{rid}")
    await dina.wait_for_selector("#review-needed")
    assert await dina.query_selector("#act-approve") is None  # not offered before a passed review
    await shot(dina, "disclosure-review-required")

    rex = await served.signed_in("rex")
    assert rex.url.endswith("/review")
    await rex.wait_for_selector(f"#review-queue tr[data-id='{rid}']")
    await shot(rex, "review-queue")
    await rex.click(f"#review-queue tr[data-id='{rid}'] a.button")
    await rex.wait_for_selector("#review-form")
    boxes = await rex.query_selector_all("#review-form input[name=checklist]")
    assert len(boxes) == 7
    for box in boxes:
        await box.check()
    await rex.fill("#opinion", "主体合法，程序合法，事实清楚，证据充分，适用法律正确。")
    await shot(rex, "review")
    await rex.click("#review-pass")
    await rex.wait_for_selector("#review-passed")
    assert await rex.get_attribute("#review-state", "data-review") == "passed"
    reviewed = [e for e in await case_entries(served) if e["kind"] == "review.passed"]
    assert reviewed[-1]["actor"] == "reviewer:rex" and reviewed[-1]["disclosure"] == rid

    zh = await served.signed_in("rex", lang="zh-CN")
    await zh.goto(f"{served.base}/review/{rid}")
    assert "法制审核通过" in await zh.inner_text("#review-state")
    await shot(zh, "review-zh")

    await approve_as_dina(served, rid)
    await dora.goto(f"{served.base}/disclosure/{rid}")
    await dora.click("#act-publish button")
    await state_becomes(dora, "published")


async def test_each_role_sees_only_its_disclosure_pages_and_actions(served: Served) -> None:
    dora = await served.signed_in("dora")
    rid = await fill_draft(served, dora, "京朝城管罚字〔2026〕第0603号")
    assert await dora.query_selector("nav.main a[data-nav='/admin']") is None
    response = await dora.goto(served.base + "/admin/retention")
    assert response is not None and response.status == 403
    response = await dora.goto(served.base + "/review")
    assert response is not None and response.status == 403

    rex = await served.signed_in("rex")
    assert await rex.query_selector("nav.main a[data-nav='/review']") is not None
    await rex.goto(f"{served.base}/disclosure/{rid}")
    assert await rex.query_selector("#view-only") is not None

    ivy = await served.signed_in("ivy")
    await ivy.goto(f"{served.base}/disclosure")
    assert await ivy.query_selector(f"#disclosures tr[data-id='{rid}']") is not None
    assert await ivy.query_selector("#new-draft") is None
    await ivy.goto(f"{served.base}/disclosure/{rid}")
    assert await ivy.query_selector("#view-only") is not None
    assert await ivy.query_selector("#actions form") is None  # no disclosure actions for investigators
    response = await ivy.goto(served.base + "/disclosure/new")
    assert response is not None and response.status == 403
    await ivy.goto(f"{served.base}/cases/{CASE}")
    assert await ivy.query_selector("#place-hold") is not None  # investigators hold their cases


async def test_admin_retention_and_law_change_pages(served: Served) -> None:
    ada = await served.signed_in("ada")
    await ada.click("nav.main a[data-nav='/admin/retention']")
    await ada.fill("#lookup input[name=case]", CASE)
    await ada.click("#lookup button")
    await ada.wait_for_selector("#case-objects")
    await ada.fill("#place-hold input[name=reason]", "litigation 诉讼保全")
    await ada.click("#place-hold button")
    await ada.wait_for_selector("#hold-list tr[data-active='1']")
    await shot(ada, "retention")
    await ada.fill("#hold-list tr[data-active='1'] input[name=reason]", "judgment final")
    await ada.click("#hold-list tr[data-active='1'] button")
    await ada.wait_for_selector("#done-notice")
    assert await ada.query_selector("#hold-list tr[data-active='1']") is None

    await ada.click("nav.main a[data-nav='/admin/law-changes']")
    await ada.fill("#law-compute input[name=effective]", "2026-09-21")
    await ada.click("#law-compute button")
    assert "2026-10-26" in await ada.inner_text("#law-deadline")
    await ada.fill("#law-title", "《北京市市容环境卫生条例》修订")
    await ada.fill("#law-categories", "市容环境")
    await ada.fill("#law-effective", "2031-03-01")
    await ada.click("#law-submit")
    assert "outside the working-day calendar" in await ada.inner_text("#law-error")
    await ada.fill("#law-effective", "2026-09-21")
    await ada.click("#law-submit")
    assert "2026-10-26" in await ada.inner_text("#done-notice")
    await shot(ada, "law-changes")

    zh = await served.signed_in("ada", lang="zh-CN")
    await zh.goto(f"{served.base}/admin/retention")
    await shot(zh, "retention-zh")
    await zh.goto(f"{served.base}/admin/law-changes")
    await shot(zh, "law-changes-zh")
    public = await served.page("zh-CN")
    await public.goto(served.base + "/public")
    assert "行政执法结果公示" in await public.inner_text("h1")
    assert not [v for v in PERSONAL if v in await public.content()]
    await shot(public, "public-zh")
