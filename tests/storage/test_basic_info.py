"""Basic enforcement information (issue 13 item 7, §二 行政执法基本信息): managed pages with the decisions'
lifecycle, in the governance log, updated after a law change within 20 working days."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from foundation.errors import Conflict, Forbidden
from policy.cases import GOVERNANCE_CASE
from policy.errors import DutiesNotSeparated
from policy.log_state import Finding
from services import basic_info, calendar, disclosure
from services.locker import Locker
from services.scrub import scrub
from tests.storage.test_disclosure_gates import TODAY, who
from tests.storage.test_disclosure_gates import locker as locker  # the fixture
from tests.storage.test_scrub import superuser

BODY = "本局依据《中华人民共和国行政处罚法》第十八条相对集中行使城市管理领域行政处罚权。"


async def test_a_page_is_drafted_approved_published_and_updated(locker: Locker) -> None:
    dora, dina, ann = await who(locker, "dora"), await who(locker, "dina"), await who(locker, "ann")
    with pytest.raises(Forbidden):
        await basic_info.create(locker, kind="powers", title="执法职权", body=BODY, who=ann)
    with pytest.raises(basic_info.BasicInfoError, match="kind"):
        await basic_info.create(locker, kind="gossip", title="x", body=BODY, who=dora)
    with pytest.raises(basic_info.BasicInfoError, match="personal data"):
        await basic_info.create(locker, kind="bodies", title="执法主体", body="联系人电话13812345678", who=dora)
    page = await basic_info.create(locker, kind="powers", title="执法职权及依据", body=BODY, category="市容环境",
                                   who=dora)
    assert page.state == "draft" and await basic_info.public(locker) == []
    with pytest.raises(DutiesNotSeparated):
        await basic_info.act(locker, page.id, "approve", who=dora, today=TODAY)
    with pytest.raises(Conflict):
        await basic_info.act(locker, page.id, "publish", who=dora, today=TODAY)
    await basic_info.act(locker, page.id, "approve", who=dina, today=TODAY)
    with pytest.raises(DutiesNotSeparated):
        await basic_info.act(locker, page.id, "publish", who=dina, today=TODAY)
    await basic_info.act(locker, page.id, "publish", who=dora, today=TODAY)
    [shown] = await basic_info.public(locker)
    assert shown["body"] == BODY and shown["published_on"] == TODAY and shown["kind"] == "powers"

    change = await disclosure.record_law_change(
        locker, calendar.load_calendar(None), title="条例修订", effective=dt.date(2026, 9, 21),
        categories=["市容环境"], description="", who=await who(locker, "root"))
    assert change["basic_info"] == {"affected": [page.id], "awaiting_publication": []}
    [due] = await basic_info.updates_due(locker, who=dora)
    assert due["page_id"] == page.id and due["due"] == change["update_due"]
    with pytest.raises(basic_info.BasicInfoError, match="does not touch"):
        await basic_info.act(locker, page.id, "update", who=dora, today=TODAY, reason="新条例",
                             body=BODY + "（已修订）", law_change=change["id"] + 99)
    updated = await basic_info.act(locker, page.id, "update", who=dora, today=TODAY, reason="新条例",
                                   body=BODY.replace("第十八条", "第十八条、新条例第五条"), law_change=change["id"])
    assert "新条例第五条" in (updated.public_body or "") and updated.public_history[0]["text"] == BODY
    assert await basic_info.updates_due(locker, who=dora) == []
    kinds = [json.loads(r.body)["kind"] for r in await locker.log.entries(GOVERNANCE_CASE)]
    assert [k for k in kinds if k.startswith("basic_info.")] == [
        "basic_info.created", "basic_info.approved", "basic_info.published", "basic_info.update_required",
        "basic_info.updated"]
    await basic_info.act(locker, page.id, "withdraw", who=dina, today=TODAY, reason="职能划出")
    assert await basic_info.public(locker) == []


async def test_a_page_not_yet_published_gets_its_deadline_at_publication(locker: Locker) -> None:
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    page = await basic_info.create(locker, kind="random_inspection", title="随机抽查事项清单",
                                   body="户外广告设置情况检查，抽查比例5%。", who=dora)
    change = await disclosure.record_law_change(
        locker, calendar.load_calendar(None), title="职能调整", effective=dt.date(2026, 9, 1), categories=["*"],
        description="", who=await who(locker, "root"))
    assert change["basic_info"] == {"affected": [], "awaiting_publication": [page.id]}
    await basic_info.act(locker, page.id, "approve", who=dina, today=TODAY)
    await basic_info.act(locker, page.id, "publish", who=dora, today=dt.date(2026, 10, 12))
    [due] = await basic_info.updates_due(locker, who=dora)
    assert due["due"] == dt.date(2026, 11, 9)


async def test_scrub_holds_the_pages_to_the_governance_log(locker: Locker) -> None:
    """The portal shows ``public_body``: a text no entry published is reported, as is a page no entry made."""
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    page = await basic_info.create(locker, kind="powers", title="执法职权", body=BODY, who=dora)
    await basic_info.act(locker, page.id, "approve", who=dina, today=TODAY)
    await basic_info.act(locker, page.id, "publish", who=dora, today=TODAY)
    await basic_info.act(locker, page.id, "update", who=dora, today=TODAY, reason="更正", body=BODY + "（更正）")
    other = await basic_info.create(locker, kind="remedies", title="救济途径", body="可依法申请行政复议。", who=dora)
    await basic_info.act(locker, other.id, "withdraw", who=dina, today=TODAY, reason="重复")
    assert await page_findings(locker) == []
    await superuser(locker.pool, "UPDATE basic_info_pages SET public_body = '本局不公开任何信息。' WHERE id = $1",
                    page.id)
    await superuser(locker.pool, "UPDATE basic_info_pages SET state = 'published' WHERE id = $1", other.id)
    await superuser(locker.pool, """INSERT INTO basic_info_pages (id, kind, title, body, state, public_body, created_by)
                                    VALUES ('B-forged', 'powers', '伪造', '伪造', 'published', '伪造', 'nobody')""")
    found = await page_findings(locker)
    assert sorted((f.code, f.message.split(": ")[1]) for f in found) == sorted([
        ("basic_info_page_mismatch", f"basic-information page {other.id}"),
        ("basic_info_page_mismatch", f"basic-information page {page.id}"),
        ("basic_info_page_unlogged", "basic-information page B-forged is in the table but no log entry made it")])
    assert "（更正）" in next(f.message for f in found if page.id in f.message)


async def page_findings(locker: Locker) -> list[Finding]:
    """Scrub's findings about pages (this fixture's log keeps no checkpoint archive: not the subject)."""
    return [f for f in await scrub(locker, GOVERNANCE_CASE) if f.code.startswith("basic_info_page")]


async def test_scrub_holds_law_changes_to_the_governance_log(locker: Locker) -> None:
    """A law change's deadline binds every record it touches: a deadline moved in the table is reported."""
    change = await disclosure.record_law_change(
        locker, calendar.load_calendar(None), title="条例修订", effective=dt.date(2026, 9, 21),
        categories=["市容环境"], description="第五条", who=await who(locker, "root"))
    assert [f for f in await scrub(locker, GOVERNANCE_CASE) if f.code.startswith("law_change")] == []
    await superuser(locker.pool, "UPDATE law_changes SET update_due = update_due + 365 WHERE id = $1", change["id"])
    found = [f for f in await scrub(locker, GOVERNANCE_CASE) if f.code.startswith("law_change")]
    assert [f.code for f in found] == ["law_change_mismatch"] and "update_due" in found[0].message
