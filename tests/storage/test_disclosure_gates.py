"""Disclosure that cannot leak, through the service layer: the secrets gate (need to know, state secrets,
the secrets treatment), separation of duties, the major-decision determination and the legal-review
gate, re-created records and the dates of publication and takedown."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from policy.errors import Restricted, StateSecret, TreatmentRequired
from services import disclosure, restriction
from services.locker import Locker
from storage import principals
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.principals import Principal
from tests import acting
from tests.acting import determined

HOST = "evidence.test"
CASE = "C-D1"
TODAY = dt.date(2026, 10, 8)
RECORD = {"decision_no": "城管罚字〔2026〕第9号", "party_type": "legal", "party_name": "某某科技有限公司",
          "violation": "擅自设置户外广告，广告内容含配方编号X-17", "legal_basis": "条例第三十六条",
          "penalty": "罚款人民币2000元", "decision_date": "2026-09-20", "category": "市容环境"}
USERS = {"ann": "investigator", "bob": "investigator", "dora": "disclosure", "dina": "disclosure",
         "rex": "reviewer", "ray": "reviewer", "root": "admin"}


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring)
    for name, role in USERS.items():
        await acting.add_principal(locker, name, role)
    await locker.log.open_case(CASE, "investigator:ann", title="Billboard")
    for decision_no in (RECORD["decision_no"], "另一号"):
        await determined(locker, CASE, decision_no)
    yield locker
    await store.close()


async def who(locker: Locker, name: str) -> Principal:
    holder = await principals.by_name(locker.pool, name)
    assert holder is not None
    return holder.principal


async def restrict(locker: Locker, level: str, *, grant: tuple[str, ...] = ()) -> None:
    await restriction.set_level(locker, CASE, level, who=await who(locker, "ann"), reason="the facts name it")
    for name in grant:
        await restriction.grant(locker, CASE, name, who=await who(locker, "ann"), reason="disclosure work")


async def kinds(locker: Locker) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in await locker.log.entries(CASE)]


async def test_a_state_secret_case_has_no_disclosure_record(locker: Locker) -> None:
    await restrict(locker, "state_secret", grant=("dora",))
    with pytest.raises(StateSecret, match="accredited classified information system"):
        await disclosure.create(locker, CASE, RECORD, who=await who(locker, "dora"))


async def test_a_record_whose_case_becomes_state_secret_cannot_be_approved_or_published(locker: Locker) -> None:
    d = await disclosure.create(locker, CASE, RECORD, who=await who(locker, "dora"))
    await restrict(locker, "state_secret", grant=("dora", "dina"))
    for action in ("approve", "publish"):
        with pytest.raises(StateSecret):
            await disclosure.transition(locker, d.id, action, who=await who(locker, "dina"), today=TODAY)
    assert (await disclosure.get(locker.pool, d.id)).state == "draft"


async def test_records_follow_their_case_need_to_know(locker: Locker) -> None:
    d = await disclosure.create(locker, CASE, RECORD, who=await who(locker, "dora"))
    await restrict(locker, "privacy", grant=("dora",))
    dina = await who(locker, "dina")
    with pytest.raises(Restricted):
        await disclosure.read(locker.pool, d.id, who=dina)
    assert await disclosure.records_for(locker.pool, who=dina) == ([], 1)
    assert (await disclosure.due_for(locker.pool, dt.date(2040, 1, 1), who=dina))[0].takedowns == []
    for step in ("approve", "withdraw"):
        with pytest.raises(Restricted):
            await disclosure.transition(locker, d.id, step, who=dina, today=TODAY, reason="x")
    with pytest.raises(Restricted):  # nor may anyone without need to know draft one
        await disclosure.create(locker, CASE, {**RECORD, "decision_no": "另一号"}, who=dina)
    shown, hidden = await disclosure.records_for(locker.pool, who=await who(locker, "dora"))
    assert [r.id for r in shown] == [d.id] and hidden == 0


async def test_a_privacy_case_is_approved_only_after_its_secrets_treatment(locker: Locker) -> None:
    await restrict(locker, "trade_secret", grant=("dora", "dina"))
    d = await disclosure.create(locker, CASE, RECORD, who=await who(locker, "dora"))
    with pytest.raises(TreatmentRequired, match="secrets treatment"):
        await disclosure.transition(locker, d.id, "approve", who=await who(locker, "dina"), today=TODAY)
    with pytest.raises(Restricted):  # made by someone who may read the case
        await disclosure.record_treatment(locker, d.id, {"reason": "x"}, who=await who(locker, "bob"))
    with pytest.raises(disclosure.PolicyError, match="does not occur"):
        await disclosure.record_treatment(locker, d.id, {"rewritten": [
            {"field": "violation", "passage": "不存在的话"}], "reason": "formula"}, who=await who(locker, "ann"))
    with pytest.raises(disclosure.PolicyError, match="reason"):
        await disclosure.record_treatment(locker, d.id, {"withheld": ["penalty"]}, who=await who(locker, "ann"))
    treated = await disclosure.record_treatment(locker, d.id, {
        "rewritten": [{"field": "violation", "passage": "配方编号X-17", "replacement": "（商业秘密，不予公开）"}],
        "withheld": ["legal_basis"], "reason": "the formula number is the company's trade secret"},
        who=await who(locker, "ann"))
    preview = treated.preview()
    assert "X-17" not in preview.text and "（商业秘密，不予公开）" in preview.text
    assert "legal_basis" in preview.excluded
    entry = (await kinds(locker))[-1]
    assert entry["kind"] == "disclosure.secrets_treated" and entry["actor"] == "investigator:ann"
    assert entry["withheld"] == ["legal_basis"] and "X-17" not in json.dumps(entry, ensure_ascii=False)
    approved = await disclosure.transition(locker, d.id, "approve", who=await who(locker, "dina"), today=TODAY)
    published = await disclosure.transition(locker, d.id, "publish", who=await who(locker, "dora"), today=TODAY)
    assert approved.state == "approved" and "X-17" not in (published.public_text or "")


async def test_a_withdrawn_or_revoked_record_is_re_created_linked_to_the_old_one(locker: Locker) -> None:
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    first = await disclosure.create(locker, CASE, RECORD, who=dora)
    with pytest.raises(disclosure.DecisionExists, match="withdraw"):
        await disclosure.create(locker, CASE, RECORD, who=dora)  # a live record: correct it instead
    await disclosure.transition(locker, first.id, "withdraw", who=dora, today=TODAY, reason="wrong party")
    second = await disclosure.create(locker, CASE, RECORD, who=dora)
    assert second.supersedes == first.id
    await disclosure.transition(locker, second.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, second.id, "publish", who=dora, today=TODAY)
    await disclosure.transition(locker, second.id, "revoke", who=dora, today=TODAY, reason="published in error")
    third = await disclosure.create(locker, CASE, RECORD, who=dora)
    assert third.supersedes == second.id
    created = [e for e in await kinds(locker) if e["kind"] == "disclosure.created"]
    assert [e.get("supersedes") for e in created] == [None, first.id, second.id]


async def test_no_publication_before_the_decision_date_and_civil_code_takedown(locker: Locker) -> None:
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, {**RECORD, "party_type": "natural", "party_name": "张三",
                                               "decision_date": "2025-03-15"}, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=dt.date(2025, 3, 14))
    with pytest.raises(disclosure.lifecycle.NotDue, match="dated 2025-03-15"):
        await disclosure.transition(locker, d.id, "publish", who=dora, today=dt.date(2025, 3, 14))
    published = await disclosure.transition(locker, d.id, "publish", who=dora, today=dt.date(2025, 3, 15))
    assert published.takedown_due == dt.date(2027, 3, 16)  # on display through 2027-03-15
    with pytest.raises(disclosure.lifecycle.NotDue):
        await disclosure.transition(locker, d.id, "take_down", who=dora, today=dt.date(2027, 3, 15),
                                    takedown_reason="period_expired")
    done = await disclosure.transition(locker, d.id, "take_down", who=dora, today=dt.date(2027, 3, 16),
                                       takedown_reason="period_expired")
    assert done.state == "taken_down"


async def test_the_portal_keeps_the_checkpoint_as_of_publication(locker: Locker) -> None:
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    published = await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    size = (await locker.log.head(CASE))[0]
    assert published.public_size == size
    for n in range(3):  # later activity in the case does not show on the portal
        await locker.log.append(CASE, disclosure.Draft("case.note", "investigator:ann", {"n": n}))
    [row] = await disclosure.published(locker.pool)
    assert row["checkpoint_size"] == size and row["case_id"] == CASE and CASE in row["checkpoint"]
    assert row["checkpoint_root"] == (await locker.log.checkpoint(CASE, size)).root.hex()
    corrected = await disclosure.transition(locker, d.id, "correct", who=dora, today=TODAY + dt.timedelta(days=3),
                                            reason="amount", changes={"penalty": "罚款人民币1000元"})
    [row] = await disclosure.published(locker.pool)
    assert row["checkpoint_size"] == corrected.public_size > size  # a change of the public text moves it
    assert row["corrected_on"] == TODAY + dt.timedelta(days=3)
    assert "2000元" in row["public_history"][0]["text"] and "1000元" in row["public_text"]
    await restrict(locker, "privacy")
    [row] = await disclosure.published(locker.pool)
    assert row["case_id"] is None and row["checkpoint"] is None and row["checkpoint_size"] == corrected.public_size


async def test_evidence_gets_the_case_current_stage(locker: Locker) -> None:
    from services import evidence
    from storage.objects import bytes_source

    ann = await who(locker, "ann")
    first = await evidence.import_file(locker, CASE, bytes_source(b"clip one"), who=ann, kind="evidence.ingested",
                                       fields={"file_name": "a.mp4"})
    await evidence.add_record(locker, CASE, bytes_source(b"inspection notes"), who=ann, stage="investigation",
                              file_name="notes.txt", media_type="text/plain")
    second = await evidence.import_file(locker, CASE, bytes_source(b"clip two"), who=ann, kind="evidence.ingested",
                                        fields={"file_name": "b.mp4"})
    stages = [json.loads(a.body)["stage"] for a in (first, second)]
    assert stages == ["initiation", "investigation"]
    with pytest.raises(disclosure.PolicyError, match="stage must be one of"):
        await evidence.import_file(locker, CASE, bytes_source(b"clip three"), who=ann, kind="evidence.ingested",
                                   fields={"file_name": "c.mp4", "stage": "later"})


async def test_separation_of_duties(locker: Locker) -> None:
    from policy.errors import DutiesNotSeparated

    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    with pytest.raises(DutiesNotSeparated, match="drafted"):
        await disclosure.transition(locker, d.id, "approve", who=dora, today=TODAY)
    approved = await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    assert approved.approved_by == "disclosure:dina"
    with pytest.raises(DutiesNotSeparated, match="approved"):
        await disclosure.transition(locker, d.id, "publish", who=dina, today=TODAY)
    published = await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    assert published.published_by == "disclosure:dora"


async def test_the_setting_lets_one_person_approve_and_publish_but_never_approve_their_draft(
        locker: Locker) -> None:
    from policy.errors import DutiesNotSeparated

    one = Locker(locker.pool, locker.store, locker.log, locker.keys, separate_duties=False)
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(one, CASE, RECORD, who=dora)
    with pytest.raises(DutiesNotSeparated):
        await disclosure.transition(one, d.id, "approve", who=dora, today=TODAY)
    await disclosure.transition(one, d.id, "approve", who=dina, today=TODAY)
    assert (await disclosure.transition(one, d.id, "publish", who=dina, today=TODAY)).state == "published"


async def test_ending_a_major_decision_takes_two_people(locker: Locker) -> None:
    from policy.errors import DutiesNotSeparated
    from policy.review import CHECKLIST

    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await disclosure.flag_major(locker, d.id, ["after_hearing"], who=dora)
    await disclosure.record_review(locker, d.id, who=await who(locker, "rex"), outcome="passed",
                                   checklist=dict.fromkeys(CHECKLIST, True), opinion="程序合法，事实清楚")
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    asked = await disclosure.transition(locker, d.id, "take_down", who=dora, today=TODAY,
                                        takedown_reason="decision_revoked", explanation="复议机关撤销了原决定")
    assert asked.state == "published" and asked.pending_end["by"] == "disclosure:dora"
    with pytest.raises(DutiesNotSeparated, match="another person"):
        await disclosure.transition(locker, d.id, "take_down", who=dora, today=TODAY)
    done = await disclosure.transition(locker, d.id, "take_down", who=dina, today=TODAY)
    assert done.state == "taken_down" and done.notice == "复议机关撤销了原决定" and done.pending_end is None
    entries = [e for e in await kinds(locker) if e["kind"].startswith("disclosure.")]
    assert [e["kind"] for e in entries[-2:]] == ["disclosure.end_requested", "disclosure.taken_down"]
    assert entries[-1]["requested_by"] == "disclosure:dora" and entries[-1]["actor"] == "disclosure:dina"


ALL_CHECKS = {"authority": True, "procedure": True, "facts": True, "law": True, "competence": True,
              "documents": True, "transfer": True}


async def test_the_handler_determines_major_from_the_facts_before_the_decision(locker: Locker) -> None:
    from policy.errors import DeterminationRequired, NotPermitted, ReviewRequired
    from policy.review import MAJOR_CRITERIA
    from services import decisions, evidence
    from storage.objects import bytes_source

    ann, dora = await who(locker, "ann"), await who(locker, "dora")
    no = "城管罚字〔2026〕第77号"
    with pytest.raises(DeterminationRequired):
        await disclosure.create(locker, CASE, {**RECORD, "decision_no": no}, who=dora)
    with pytest.raises(DeterminationRequired):
        await evidence.add_record(locker, CASE, bytes_source(b"decision"), who=ann, stage="decision",
                                  file_name="decision.pdf", media_type="application/pdf", decision_no=no)
    hearing = {"hearing_held": True, "penalties": ["fine", "suspension"], "fine_yuan": 200_000}
    no_answers = dict.fromkeys(MAJOR_CRITERIA, False)
    with pytest.raises(NotPermitted):  # the handler's, not another investigator's
        await decisions.determine(locker, CASE, no, answers=no_answers, facts=hearing, who=await who(locker, "bob"))
    with pytest.raises(disclosure.PolicyError, match="suggest the decision is major"):
        await decisions.determine(locker, CASE, no, answers=no_answers, facts=hearing, who=ann)
    found = await decisions.determine(locker, CASE, no, facts=hearing, who=ann,
                                      answers={**no_answers, "after_hearing": True, "major_rights": True})
    assert found.major and found.proposed == ["major_rights", "after_hearing"]
    with pytest.raises(ReviewRequired, match="cannot be recorded"):
        await evidence.add_record(locker, CASE, bytes_source(b"decision"), who=ann, stage="decision",
                                  file_name="decision.pdf", media_type="application/pdf", decision_no=no)
    d = await disclosure.create(locker, CASE, {**RECORD, "decision_no": no}, who=dora)
    assert d.major == ["major_rights", "after_hearing"] and d.review_state == "pending"
    with pytest.raises(ReviewRequired):
        await disclosure.transition(locker, d.id, "approve", who=await who(locker, "dina"), today=TODAY)
    await disclosure.record_review(locker, d.id, who=await who(locker, "rex"), outcome="passed",
                                   checklist=ALL_CHECKS, opinion="听证程序合法，罚款数额适当")
    await evidence.add_record(locker, CASE, bytes_source(b"decision"), who=ann, stage="decision",
                              file_name="decision.pdf", media_type="application/pdf", decision_no=no)
    entry = [e for e in await kinds(locker) if e["kind"] == "decision.determined"][-1]
    assert entry["proposed"] == ["major_rights", "after_hearing"] and entry["major"] is True


async def major_draft(locker: Locker) -> disclosure.Disclosure:
    from tests.acting import determined as determine_by_hand

    no = "城管罚字〔2026〕第88号"
    await determine_by_hand(locker, CASE, no, major=("after_hearing",))
    return await disclosure.create(locker, CASE, {**RECORD, "decision_no": no}, who=await who(locker, "dora"))


async def test_reviews_need_an_opinion_and_a_reviewer_who_never_handled_the_case(locker: Locker) -> None:
    from policy.errors import SelfReview
    from services import handover

    d = await major_draft(locker)
    with pytest.raises(disclosure.PolicyError, match="opinion"):
        await disclosure.record_review(locker, d.id, who=await who(locker, "rex"), outcome="passed",
                                       checklist=ALL_CHECKS, opinion=" ")
    # bob handles the case for a while: he may never review it, even after handing it back.
    await handover.hand_over(locker, CASE, "bob", who=await who(locker, "ann"), reason="leave")
    await handover.hand_over(locker, CASE, "ann", who=await who(locker, "bob"), reason="back")
    ann, bob = await who(locker, "ann"), await who(locker, "bob")
    assert await disclosure.decisions.handlers_ever(locker, CASE) == {ann.id, bob.id}
    from services.disclosure import review as review_rules

    with pytest.raises(SelfReview, match="has handled this case"):
        review_rules.may_review_decision("bob", bob.id, await disclosure.decisions.handlers_ever(locker, CASE))
    passed = await disclosure.record_review(locker, d.id, who=await who(locker, "rex"), outcome="passed",
                                            checklist=ALL_CHECKS, opinion="合法")
    row = await locker.pool.fetchrow("SELECT reviewer, reviewer_id, case_id, decision_no FROM reviews")
    assert passed.review_state == "passed" and row["reviewer_id"] == (await who(locker, "rex")).id
    assert (row["case_id"], row["decision_no"]) == (CASE, d.decision_no)


async def test_a_substantive_correction_of_a_reviewed_major_decision_needs_a_new_review(locker: Locker) -> None:
    from policy.errors import ReviewRequired

    d = await major_draft(locker)
    rex, dora, dina = await who(locker, "rex"), await who(locker, "dora"), await who(locker, "dina")
    await disclosure.record_review(locker, d.id, who=rex, outcome="passed", checklist=ALL_CHECKS, opinion="合法")
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    await disclosure.transition(locker, d.id, "correct", who=dora, today=TODAY, reason="typo",
                                changes={"category": "广告管理"})  # not substantive: no review
    with pytest.raises(ReviewRequired, match="new passed legal review"):
        await disclosure.transition(locker, d.id, "correct", who=dora, today=TODAY, reason="amount",
                                    changes={"penalty": "罚款人民币5000元"})
    await disclosure.record_review(locker, d.id, who=rex, outcome="passed", checklist=ALL_CHECKS,
                                   opinion="更正后的罚款数额经复核无误")
    fixed = await disclosure.transition(locker, d.id, "correct", who=dora, today=TODAY, reason="amount",
                                        changes={"penalty": "罚款人民币5000元"})
    assert fixed.corrected_on == TODAY
    with pytest.raises(ReviewRequired):  # that review is used up
        await disclosure.transition(locker, d.id, "correct", who=dora, today=TODAY, reason="again",
                                    changes={"penalty": "罚款人民币6000元"})


async def test_a_dispute_waits_for_the_coordinator(locker: Locker) -> None:
    from foundation.errors import Forbidden
    from policy.errors import ReviewRequired

    await acting.add_principal(locker, "head", "coordinator")
    d = await major_draft(locker)
    rex, dora, dina = await who(locker, "rex"), await who(locker, "dora"), await who(locker, "dina")
    await disclosure.record_review(locker, d.id, who=rex, outcome="failed", checklist={"facts": False},
                                   opinion="证据不足")
    await disclosure.record_review(locker, d.id, who=dora, outcome="disputed", checklist={}, opinion="笔录在卷")
    with pytest.raises(ReviewRequired):  # the dispute blocks
        await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    with pytest.raises(Forbidden):
        await disclosure.record_review(locker, d.id, who=rex, outcome="coordinated", checklist={}, opinion="x",
                                       decision="proceed")
    decided = await disclosure.record_review(locker, d.id, who=await who(locker, "head"), outcome="coordinated",
                                             checklist={}, opinion="笔录在卷，同意作出决定", decision="proceed")
    assert decided.review_state == "passed"
    assert (await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)).state == "approved"
    entry = [e for e in await kinds(locker) if e["kind"] == "review.coordinated"][-1]
    assert entry["decision"] == "proceed" and entry["actor"] == "coordinator:head"


async def test_a_change_of_functions_touches_every_record_and_an_update_names_its_change(locker: Locker) -> None:
    from services.calendar import load_calendar

    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    change = await disclosure.record_law_change(
        locker, load_calendar(None), title="职能调整", effective=dt.date(2026, 9, 21), categories=["*"],
        description="the bureau's functions changed", who=await who(locker, "root"))
    assert change["affected"] == [d.id]  # category 市容环境, touched by "*"
    for law_change, message in ((None, "names the law change"), (change["id"] + 99, "unknown")):
        with pytest.raises(disclosure.DisclosureError, match=message):
            await disclosure.transition(locker, d.id, "update", who=dora, today=TODAY, reason="functions",
                                        changes={"legal_basis": "新条例第五条"}, law_change=law_change)
    updated = await disclosure.transition(locker, d.id, "update", who=dora, today=TODAY, reason="functions",
                                          changes={"legal_basis": "新条例第五条"}, law_change=change["id"])
    assert "新条例第五条" in (updated.public_text or "")


async def test_a_law_change_lists_the_unclassified_records_to_check_by_hand(locker: Locker) -> None:
    from services.calendar import load_calendar

    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    d = await disclosure.create(locker, CASE, {k: v for k, v in RECORD.items() if k != "category"}, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    change = await disclosure.record_law_change(
        locker, load_calendar(None), title="条例修订", effective=dt.date(2026, 9, 21), categories=["市容环境"],
        description="", who=await who(locker, "root"))
    assert change["affected"] == [] and change["unclassified"] == [d.id]


async def test_adding_a_calendar_year_is_logged_in_the_governance_log(locker: Locker, tmp_path: Path) -> None:
    from policy.cases import GOVERNANCE_CASE
    from services.calendar import add_year, load_calendar
    from services.permissions import operator
    from tests.policy.test_workdays import YEAR_2027

    notice = tmp_path / "2027.toml"
    notice.write_text(YEAR_2027, encoding="utf-8")
    from foundation.errors import Forbidden

    with pytest.raises(Forbidden):  # an administrator's or the operator's
        await add_year(locker, notice, tmp_path / "cal", who=await who(locker, "dora"))
    year = await add_year(locker, notice, tmp_path / "cal", who=operator())
    assert year.year == 2027 and 2027 in [c.year for c in load_calendar(tmp_path / "cal").calendars]
    [entry] = [json.loads(r.body) for r in await locker.log.entries(GOVERNANCE_CASE) if r.kind == "calendar.year_added"]
    assert entry["year"] == 2027 and entry["source"] == year.source and entry["actor"].startswith("operator:")
