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
        await principals.add_principal(pool, name, role, "test")
    await locker.log.open_case(CASE, "investigator:ann", title="Billboard")
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
