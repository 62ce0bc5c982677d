"""Disclosure that cannot leak, over HTTP: dates, re-created records, the portal's checkpoint as of
publication, evidence stages (issue 13 items 4 and 6, issue 14 item 5)."""

from __future__ import annotations

import json
from typing import Any

from storage import principals
from tests.api.conftest import Api

RECORD = {"decision_no": "城管罚字〔2026〕第31号", "party_type": "natural", "party_name": "张三",
          "violation": "占道经营", "legal_basis": "条例第三十六条", "penalty": "罚款人民币200元",
          "decision_date": "2026-09-20", "category": "市容环境"}


async def add_user(api: Api, name: str, role: str) -> None:
    _, api.tokens[name] = await principals.add_principal(api.locker.pool, name, role, "test")


async def call(api: Api, who: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
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
