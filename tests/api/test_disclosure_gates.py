"""Disclosure that cannot leak, over HTTP: dates, re-created records, the portal's checkpoint as of
publication, evidence stages (issue 13 items 4 and 6, issue 14 item 5)."""

from __future__ import annotations

import json
from typing import Any

from services import decisions
from tests import acting
from tests.acting import determined
from tests.api.conftest import Api

RECORD = {"decision_no": "城管罚字〔2026〕第31号", "party_type": "natural", "party_name": "张三",
          "violation": "占道经营", "legal_basis": "条例第三十六条", "penalty": "罚款人民币200元",
          "decision_date": "2026-09-20", "category": "市容环境"}


async def add_user(api: Api, name: str, role: str) -> None:
    _, api.tokens[name] = await acting.add_principal(api.locker, name, role)


async def call(api: Api, who: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    if path == "/api/v1/disclosures" and body and not await decisions.determination(
            api.locker.pool, body["case"], body["decision_no"]):
        await determined(api.locker, body["case"], body["decision_no"])
    return await api.call("POST", path, who, json=body or {})


async def test_re_create_after_withdrawal_and_the_public_checkpoint(file_api: Api) -> None:
    status, first = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    assert status == 201
    status, body = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    assert status == 409 and body["error"] == "decision_exists"
    assert (await call(file_api, "disclosure", f"/api/v1/disclosures/{first['id']}/withdraw",
                       {"reason": "wrong party"}))[0] == 200
    status, second = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    assert status == 201 and second["supersedes"] == first["id"]
    assert (await call(file_api, "dina", f"/api/v1/disclosures/{second['id']}/approve"))[0] == 200
    status, published = await call(file_api, "disclosure", f"/api/v1/disclosures/{second['id']}/publish")
    assert status == 200, published
    await file_api.upload(b"later activity in the case")
    _, public = await file_api.call("GET", "/public/api/records")
    [row] = public["records"]
    assert row["checkpoint_size"] == published["public_size"] and row["case_id"] == "CASE-1"
    status, _ = await file_api.call("PUT", "/api/v1/cases/CASE-1/restriction", "investigator",
                                    json={"level": "privacy", "reason": "a minor is named"})
    _, public = await file_api.call("GET", "/public/api/records")
    [row] = public["records"]
    assert "CASE-1" not in str(public) and row["checkpoint"] is None and row["checkpoint_root"]
    page = await file_api.call("GET", "/public")
    assert "CASE-1" not in page[1].decode()


async def test_a_decision_is_not_published_before_its_date(file_api: Api) -> None:
    status, d = await call(file_api, "disclosure", "/api/v1/disclosures",
                           {"case": "CASE-1", **RECORD, "decision_date": "2099-01-01"})
    assert (await call(file_api, "dina", f"/api/v1/disclosures/{d['id']}/approve"))[0] == 200
    status, body = await call(file_api, "disclosure", f"/api/v1/disclosures/{d['id']}/publish")
    assert status == 409 and body["error"] == "not_due" and "2099-01-01" in body["message"]


async def test_an_upload_gets_a_stage(file_api: Api) -> None:
    status, body = await file_api.declare(b"a clip", "CASE-1", stage="later")
    assert status == 422 and "stage must be one of" in body["message"]
    await file_api.upload(b"a clip")
    entries = [json.loads(r.body) for r in await file_api.locker.log.entries("CASE-1")]
    assert entries[-1]["kind"] == "evidence.ingested" and entries[-1]["stage"] == "initiation"


async def test_separation_of_duties_over_http(file_api: Api) -> None:
    status, d = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    status, body = await call(file_api, "disclosure", f"/api/v1/disclosures/{d['id']}/approve")
    assert status == 403 and body["error"] == "separation_of_duties"
    assert (await call(file_api, "dina", f"/api/v1/disclosures/{d['id']}/approve"))[0] == 200
    status, body = await call(file_api, "dina", f"/api/v1/disclosures/{d['id']}/publish")
    assert status == 403 and body["error"] == "separation_of_duties"
    status, body = await call(file_api, "disclosure", f"/api/v1/disclosures/{d['id']}/publish")
    assert status == 200 and body["published_by"] == "disclosure:disclosure"


async def test_the_review_gate_where_the_decision_is_made(file_api: Api) -> None:
    """Issue 13 item 3 over HTTP: the handler's determination (proposed from the facts), the decision
    record refused until a review passes, a passed review needs an opinion, the coordinator decides a dispute."""
    no = "城管罚字〔2026〕第99号"
    facts = {"hearing_held": True, "penalties": ["fine", "suspension"], "fine_yuan": 200_000}
    answers = {"public_interest": False, "social_impact": False, "major_rights": True, "after_hearing": True,
               "complex": False}
    status, body = await file_api.call("POST", "/api/v1/disclosures", "disclosure",
                                       json={"case": "CASE-1", **RECORD, "decision_no": no})
    assert status == 409 and body["error"] == "determination_required"
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/determinations", "investigator", json={
        "decision_no": no, "facts": facts, "answers": {**answers, "major_rights": False, "after_hearing": False}})
    assert status == 422 and "suggest the decision is major" in body["message"]
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/determinations", "investigator",
                                       json={"decision_no": no, "facts": facts, "answers": answers})
    assert status == 201 and body["major"] and body["proposed"] == ["major_rights", "after_hearing"]
    record = f"/api/v1/cases/CASE-1/records?stage=decision&file_name=decision.txt&decision_no={no}"
    status, body = await file_api.call("POST", record, "investigator", data=b"decision")
    assert status == 409 and body["error"] == "review_required"
    status, d = await file_api.call("POST", "/api/v1/disclosures", "disclosure",
                                    json={"case": "CASE-1", **RECORD, "decision_no": no})
    assert status == 201 and d["major"] == ["major_rights", "after_hearing"]
    reviews = f"/api/v1/disclosures/{d['id']}/reviews"
    checks = dict.fromkeys(("authority", "procedure", "facts", "law", "competence", "documents", "transfer"), True)
    status, body = await file_api.call("POST", reviews, "reviewer", json={"outcome": "passed", "checklist": checks})
    assert status == 422 and "opinion" in body["message"]
    status, _ = await file_api.call("POST", reviews, "reviewer", json={
        "outcome": "failed", "checklist": {**checks, "facts": False}, "opinion": "听证笔录缺失"})
    status, _ = await file_api.call("POST", reviews, "disclosure", json={"outcome": "disputed",
                                                                         "opinion": "听证笔录在卷第3页"})
    assert status == 201
    status, body = await file_api.call("POST", record, "investigator", data=b"decision")
    assert status == 409  # the dispute blocks until the coordinator decides
    status, body = await file_api.call("POST", reviews, "reviewer", json={
        "outcome": "coordinated", "decision": "proceed", "opinion": "x"})
    assert status == 403
    status, body = await file_api.call("POST", reviews, "coordinator", json={
        "outcome": "coordinated", "decision": "proceed", "opinion": "听证笔录在卷，同意作出决定"})
    assert status == 201 and body["review_state"] == "passed"
    status, body = await file_api.call("POST", record, "investigator", data=b"decision")
    assert status == 201, body


async def test_an_update_must_name_a_known_law_change(file_api: Api) -> None:
    status, d = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    await call(file_api, "dina", f"/api/v1/disclosures/{d['id']}/approve")
    await call(file_api, "disclosure", f"/api/v1/disclosures/{d['id']}/publish")
    status, change = await call(file_api, "admin", "/api/v1/law-changes", {
        "title": "职能调整", "effective": "2026-09-21", "categories": ["*"]})
    assert status == 201 and change["affected"] == [d["id"]]
    update = f"/api/v1/disclosures/{d['id']}/update"
    body = {"reason": "functions", "changes": {"legal_basis": "新条例第五条"}}
    assert (await call(file_api, "disclosure", update, body))[0] == 422
    assert (await call(file_api, "disclosure", update, {**body, "law_change": change["id"] + 99}))[0] == 422
    assert (await call(file_api, "disclosure", update, {**body, "law_change": change["id"]}))[0] == 200
