"""Publication fails closed (issue 13 §2): suspected personal data left in a public text blocks approval
until staff mask it or clear it as not personal data with a reason; both are entries of the case log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from services import disclosure, publication_check
from tests.acting import determined, principal
from tests.api.conftest import Api

STAFF = principal("disclosure:disclosure")
APPROVER = principal("disclosure:dina")  # the drafter never approves (§二)
RECORD = {
    "decision_no": "长潞城管罚字〔2026〕第0107号", "party_type": "natural", "party_name": "王小明",
    "violation": ("当事人王小明于2026年5月6日在英雄中路123号门前占道经营，证人李四、钱七在场，"
                  "联系人赵丽华（电话138 1234-5678）。现场检查记录编号7302145，"
                  "收据流水号20261234567890123456。"),
    "legal_basis": "《长治市城市市容和环境卫生管理条例》第二十条", "penalty": "罚款人民币200元",
    "decision_date": "2026-05-20",
}


async def _draft(api: Api, **overrides: Any) -> str:
    await determined(api.locker, "CASE-1", overrides.get("decision_no", RECORD["decision_no"]))
    status, body = await api.call("POST", "/api/v1/disclosures", "disclosure",
                                  json={"case": "CASE-1", **RECORD, **overrides})
    assert status == 201, body
    text = body["preview"]["text"]
    for raw in ("王小明", "李四", "钱七", "赵丽华", "1234-5678", "123号"):
        assert raw not in text, raw  # masked on its own: names found in the text, the phone, the house number
    return str(body["id"])


async def test_approval_blocked_until_each_finding_is_resolved_over_http(file_api: Api) -> None:
    api = file_api
    rid = await _draft(api)
    status, body = await api.call("POST", f"/api/v1/disclosures/{rid}/approve", "dina", json={})
    assert status == 409 and body["error"] == "personal_data_suspected", body
    assert {f["text"] for f in body["findings"]} == {"7302145", "20261234567890123456"}

    status, listed = await api.call("GET", f"/api/v1/disclosures/{rid}/findings", "disclosure")
    assert status == 200 and listed["open"] == 2
    status, _ = await api.call("GET", f"/api/v1/disclosures/{rid}/findings", "investigator")
    assert status == 403  # the disclosure desk resolves findings

    status, body = await api.call("POST", f"/api/v1/disclosures/{rid}/findings", "disclosure",
                                  json={"finding": "20261234567890123456", "resolution": "not_personal",
                                        "reason": ""})
    assert status == 422  # a clearance needs its reason
    status, body = await api.call("POST", f"/api/v1/disclosures/{rid}/findings", "disclosure",
                                  json={"finding": "20261234567890123456", "resolution": "not_personal",
                                        "reason": "the receipt's serial number, printed by the bureau"})
    assert status == 201 and body["open"] == 1
    status, body = await api.call("POST", f"/api/v1/disclosures/{rid}/findings", "disclosure",
                                  json={"finding": "7302145", "resolution": "mask", "reason": "may be a phone"})
    assert status == 201 and body["open"] == 0 and body["findings"] == [body["findings"][0]]

    status, body = await api.call("POST", f"/api/v1/disclosures/{rid}/approve", "dina", json={})
    assert status == 200 and body["state"] == "approved"
    assert "7302145" not in body["preview"]["text"] and "20261234567890123456" in body["preview"]["text"]

    entries = [json.loads(r.body) for r in await api.locker.log.entries("CASE-1")]
    resolved = [e for e in entries if e["kind"] == "disclosure.finding_resolved"]
    assert [(e["resolution"], e["actor"]) for e in resolved] == [("not_personal", "disclosure:disclosure"),
                                                                ("mask", "disclosure:disclosure")]
    assert resolved[0]["finding"] == "20261234567890123456" and resolved[0]["reason"].startswith("the receipt")
    assert "7302145" not in json.dumps(resolved[1])  # a masked value is logged by hash, never as itself
    assert resolved[1]["value_blake3"] and resolved[1]["masked_as"] == "*******"


async def test_service_gate_covers_publish_and_correction(file_api: Api) -> None:
    locker = file_api.locker
    today = dt.date(2026, 5, 21)
    rid = await _draft(file_api, violation="当事人王小明于2026年5月6日在英雄中路占道经营。")
    await disclosure.transition(locker, rid, "approve", who=APPROVER, today=today)
    await disclosure.transition(locker, rid, "publish", who=STAFF, today=today)
    # A correction that brings a new finding in is refused, and the public text stays as it was.
    with pytest.raises(publication_check.PersonalDataSuspected) as refused:
        await disclosure.transition(locker, rid, "correct", who=STAFF, today=today, reason="witness added",
                                    changes={"violation": "当事人王小明占道经营，投诉人微博 @wangxm88 转发。"})
    assert refused.value.extra["findings"][0]["kind"] == "at"
    d = await disclosure.get(locker.pool, rid)
    assert "wangxm88" not in (d.public_text or "")
    # Masking it in the same correction lets it through.
    d = await disclosure.transition(
        locker, rid, "correct", who=STAFF, today=today, reason="witness added",
        changes={"violation": "当事人王小明占道经营，投诉人微博 @wangxm88 转发。",
                 "masked_values": ["@wangxm88"]})
    assert d.public_text is not None and "@" not in d.public_text and "王小明" not in d.public_text


async def test_a_clearance_is_for_its_own_record_and_mask_only_for_drafts(file_api: Api) -> None:
    locker = file_api.locker
    today = dt.date(2026, 5, 21)
    first = await _draft(file_api, violation="当事人王小明占道经营，检查记录编号7302145。")
    await publication_check.resolve(locker, first, "7302145", resolution="not_personal",
                                    reason="a form number", who=STAFF)
    second = await _draft(file_api, decision_no="长潞城管罚字〔2026〕第0108号",
                          violation="当事人王小明占道经营，检查记录编号7302145。")
    with pytest.raises(publication_check.PersonalDataSuspected):
        await disclosure.transition(locker, second, "approve", who=APPROVER, today=today)
    await disclosure.transition(locker, first, "approve", who=APPROVER, today=today)
    with pytest.raises(publication_check.Conflict):  # approved: masking now would change approved text
        await publication_check.resolve(locker, first, "7302145", resolution="mask", reason="x", who=STAFF)
    with pytest.raises(publication_check.Invalid):
        await publication_check.resolve(locker, second, "not in the text", resolution="not_personal",
                                        reason="x", who=STAFF)
