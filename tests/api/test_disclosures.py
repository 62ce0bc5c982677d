"""Disclosure (公示) lifecycle, the legal-review gate (法制审核), law changes and the public portal, over HTTP."""

from __future__ import annotations

import json
import os
from typing import Any

from blake3 import blake3

from policy.review import CHECKLIST
from tests.acting import determined
from tests.api.conftest import Api

RAW = {
    "party_name": "欧阳娜娜", "party_id_no": "11010519491231002X", "party_phone": "13812345678",
    "party_address": "北京市朝阳区建国路88号3单元502",
}
RECORD = {
    "decision_no": "京朝城管罚字〔2026〕第0421号", "party_type": "natural", **RAW,
    "violation": "欧阳娜娜于2026年9月3日在建国路占道经营，车辆京A12345停放于人行道，联系电话13812345678。",
    "legal_basis": "《北京市市容环境卫生条例》第二十四条", "penalty": "罚款人民币500元",
    "decision_date": "2026-09-20", "category": "市容环境",
}
ALL_CHECKS = dict.fromkeys(CHECKLIST, True)


async def draft(api: Api, case: str = "CASE-1", **overrides: Any) -> dict[str, Any]:
    await determined(api.locker, case, overrides.get("decision_no", RECORD["decision_no"]))
    status, body = await api.call("POST", "/api/v1/disclosures", "disclosure",
                                  json={"case": case, **RECORD, **overrides})
    assert status == 201, body
    return body


async def step(api: Api, rid: str, action: str, who: str | None = None, **body: Any) -> tuple[int, Any]:
    """One step; by default the drafter ("disclosure") does everything but approving, which is dina's (§二)."""
    who = who or ("dina" if action == "approve" else "disclosure")
    return await api.call("POST", f"/api/v1/disclosures/{rid}/{action}", who, json=body)


async def case_kinds(api: Api, case: str = "CASE-1") -> list[dict[str, Any]]:
    rows = await api.locker.log.entries(case)
    return [json.loads(r.body) for r in rows]


async def test_publish_correct_revoke_with_every_step_in_the_case_log(api: Api) -> None:
    d = await draft(api)
    assert d["state"] == "draft" and "欧阳**" in d["preview"]["text"] and "欧阳娜娜" not in d["preview"]["text"]
    status, body = await step(api, d["id"], "publish")
    assert status == 409 and body["error"] == "illegal_transition"  # a draft is approved first
    assert (await step(api, d["id"], "approve"))[0] == 200
    status, body = await step(api, d["id"], "publish")
    assert status == 200 and body["state"] == "published" and body["takedown_due"]
    first_text = body["public_text"]

    status, body = await step(api, d["id"], "correct", changes={"penalty": "罚款人民币300元"})
    assert status == 422  # a correction needs its reason
    status, body = await step(api, d["id"], "correct", reason="amount mistyped",
                              changes={"penalty": "罚款人民币300元"})
    assert status == 200 and "300元" in body["public_text"]
    entries = await case_kinds(api)
    corrected = [e for e in entries if e["kind"] == "disclosure.corrected"][-1]
    assert corrected["previous_public_text"] == first_text and corrected["reason"] == "amount mistyped"
    assert corrected["changed"] == ["penalty"] and len(corrected["record_blake3"]) == 64
    log_text = json.dumps(entries, ensure_ascii=False)
    for value in RAW.values():  # the permanent log carries hashes of the raw record, never its personal data
        assert value not in log_text, value

    status, body = await step(api, d["id"], "revoke", reason="published in error: minor's case")
    assert status == 200 and body["state"] == "revoked"
    kinds = [e["kind"] for e in entries + await case_kinds(api)]
    for kind in ("disclosure.created", "disclosure.approved", "disclosure.published", "disclosure.corrected",
                 "disclosure.revoked"):
        assert kind in kinds
    _, public = await api.call("GET", "/public/api/records")
    assert all(r["id"] != d["id"] for r in public["records"])  # gone from the portal, not from the log


async def test_takedown_because_the_decision_fell_needs_an_explanation_which_is_published(api: Api) -> None:
    d = await draft(api)
    await step(api, d["id"], "approve")
    await step(api, d["id"], "publish")
    status, body = await step(api, d["id"], "take-down", reason="court judgment", takedown_reason="decision_revoked")
    assert status == 422 and body["error"] == "reason_required"
    status, body = await step(api, d["id"], "take-down", reason="court judgment", takedown_reason="decision_revoked",
                              explanation="该处罚决定已被人民法院判决撤销。")
    assert status == 200 and body["state"] == "taken_down"
    _, public = await api.call("GET", "/public/api/records")
    assert [n["notice"] for n in public["notices"]] == ["该处罚决定已被人民法院判决撤销。"]


async def test_period_expired_takedown_refused_before_the_due_date(api: Api) -> None:
    d = await draft(api)
    await step(api, d["id"], "approve")
    await step(api, d["id"], "publish")
    status, body = await step(api, d["id"], "take-down", reason="tidy", takedown_reason="period_expired")
    assert status == 409, body
    _, due = await api.call("GET", f"/api/v1/disclosure-due?today={d['decision_date']}", "disclosure")
    assert due["takedowns"] == []
    _, later = await api.call("GET", "/api/v1/disclosure-due?today=2031-01-01", "disclosure")
    assert [r["id"] for r in later["takedowns"]] == [d["id"]]


async def test_review_gate(api: Api) -> None:
    # A handler is an active investigator, never free text: a reviewer cannot be put in charge of a case
    # (and so can never review their own; the policy's self-review bar stays as a second line).
    status, body = await api.call("POST", "/api/v1/cases", "investigator",
                                  json={"id": "CASE-R", "handler": "reviewer"})
    assert status == 422 and "handled by an investigator" in body["message"], body
    status, body = await api.call("POST", "/api/v1/cases", "investigator", json={"id": "CASE-R", "handler": "nobody"})
    assert status == 422 and "no active user" in body["message"], body
    status, body = await api.call("POST", "/api/v1/cases", "investigator", json={"id": "CASE-R"})
    assert status == 201, body
    d = await draft(api, case="CASE-R", decision_no="R-1")
    status, body = await api.call("POST", f"/api/v1/disclosures/{d['id']}/major", "disclosure",
                                  json={"criteria": []})
    assert status == 422  # at least one §四(二) criterion
    status, body = await api.call("POST", f"/api/v1/disclosures/{d['id']}/major", "disclosure",
                                  json={"criteria": ["after_hearing"]})
    assert status == 200 and body["review_state"] == "pending"

    status, body = await step(api, d["id"], "approve")
    assert status == 409 and body["error"] == "review_required" and "法制审核" in body["message"]

    review = f"/api/v1/disclosures/{d['id']}/reviews"
    status, body = await api.call("POST", review, "disclosure", json={"outcome": "passed", "checklist": ALL_CHECKS})
    assert status == 403  # only the reviewer role records a legal review

    await api.call("POST", "/api/v1/cases", "investigator", json={"id": "CASE-S"})
    d = await draft(api, case="CASE-S", decision_no="S-1")
    await api.call("POST", f"/api/v1/disclosures/{d['id']}/major", "disclosure", json={"criteria": ["complex"]})
    review = f"/api/v1/disclosures/{d['id']}/reviews"
    status, body = await api.call("POST", review, "reviewer", json={"outcome": "failed", "checklist": {
        **ALL_CHECKS, "facts": False}, "opinion": "证据不足：缺少现场笔录。"})
    assert status == 201 and body["review_state"] == "failed"
    assert (await step(api, d["id"], "approve"))[0] == 409
    status, body = await api.call("POST", review, "disclosure",
                                  json={"outcome": "disputed", "opinion": "笔录已在卷，见第3页。"})
    assert status == 201 and body["review_state"] == "disputed"
    status, body = await api.call("POST", review, "reviewer",
                                  json={"outcome": "passed", "checklist": ALL_CHECKS, "opinion": "补正后通过。"})
    assert status == 201 and body["review_state"] == "passed"
    assert (await step(api, d["id"], "approve"))[0] == 200
    assert (await step(api, d["id"], "publish"))[0] == 200
    entries = await case_kinds(api, "CASE-S")
    kinds = [e["kind"] for e in entries]
    # the raw record and each opinion are text records of the case (§三), stored with it
    assert kinds.count("record.added") == 4
    assert ["review.failed", "review.disputed", "review.passed"] == [k for k in kinds if k.startswith("review.")]
    _, full = await api.call("GET", f"/api/v1/disclosures/{d['id']}", "reviewer")
    assert [r["outcome"] for r in full["reviews"]] == ["failed", "disputed", "passed"]


async def test_law_change_sets_a_twenty_working_day_deadline(api: Api) -> None:
    d = await draft(api)
    await step(api, d["id"], "approve")
    await step(api, d["id"], "publish")
    status, body = await api.call("POST", "/api/v1/law-changes", "disclosure", json={})
    assert status == 403
    status, body = await api.call("POST", "/api/v1/law-changes", "admin", json={
        "title": "《北京市市容环境卫生条例》修订", "effective": "2026-09-21", "categories": ["市容环境"]})
    assert status == 201 and body["update_due"] == "2026-10-26" and body["affected"] == [d["id"]]
    _, due = await api.call("GET", "/api/v1/disclosure-due?today=2026-10-27", "disclosure")
    assert [(u["disclosure_id"], u["overdue"]) for u in due["updates"]] == [(d["id"], True)]
    status, body = await step(api, d["id"], "update", reason="new article numbering",
                              changes={"legal_basis": "《北京市市容环境卫生条例》（2026年修订）第二十六条"},
                              law_change=body["id"])
    assert status == 200
    _, due = await api.call("GET", "/api/v1/disclosure-due?today=2026-10-27", "disclosure")
    assert due["updates"] == []
    status, body = await api.call("POST", "/api/v1/law-changes", "admin", json={
        "title": "x", "effective": "2031-03-01", "categories": ["市容环境"]})
    assert status == 422 and "calendar" in body["message"]


async def test_public_portal_shows_no_raw_personal_data(api: Api) -> None:
    d = await draft(api, other_names=["张三"],
                    violation=RECORD["violation"] + "证人张三（身份证110105491231002）在场。")
    await step(api, d["id"], "approve")
    await step(api, d["id"], "publish")
    status, raw = await api.call("GET", "/public/api/records")
    assert status == 200
    text = json.dumps(raw, ensure_ascii=False)
    assert d["id"] in text and "欧阳**" in text
    for value in (*RAW.values(), "张三", "110105491231002", "京A12345"):
        assert value not in text, value
    [record] = raw["records"]
    assert record["checkpoint_root"] and record["checkpoint_size"] > 0


async def test_linked_evidence_check(api: Api) -> None:
    data = os.urandom(200_000)
    await api.upload(data, recorded_at="2026-09-03T10:00:00Z")
    d = await draft(api)
    await step(api, d["id"], "approve")
    await step(api, d["id"], "publish")
    status, body = await api.call("GET", f"/api/v1/disclosures/{d['id']}/links", "disclosure")
    assert status == 200 and body["ok"], body
    [item] = [i for i in body["items"] if i["blake3"] == blake3(data).hexdigest()]
    assert item["exists"] and item["verifies"] and item["proof_valid"] and item["retention_covers"]
    assert {i["kind"] for i in body["items"]} == {"evidence.ingested", "record.added"}  # + the raw record
    _, ret = await api.call("GET", "/api/v1/cases/CASE-1/retention", "investigator")
    assert all(o["retain_until"] >= body["takedown_due"] for o in ret["objects"])  # kept to the takedown date


async def test_holds_and_retention_over_http(api: Api) -> None:
    data = os.urandom(10_000)
    receipt = await api.upload(data, recorded_at="2020-01-01T00:00:00Z")
    b3 = json.loads(receipt["receipt"]["entry"])["blake3"]
    status, _ = await api.call("POST", "/api/v1/holds", "disclosure", json={"case": "CASE-1", "reason": "x"})
    assert status == 403
    status, hold = await api.call("POST", "/api/v1/holds", "investigator",
                                  json={"case": "CASE-1", "blake3": b3, "reason": "complaint"})
    assert status == 201
    status, report = await api.call("POST", "/api/v1/retention/run", "admin", json={"dry_run": True})
    assert status == 200 and [h["blake3"] for h in report["held"]] == [b3] and report["would_dispose"] == []
    status, _ = await api.call("POST", f"/api/v1/holds/{hold['id']}/lift", "investigator", json={"reason": "done"})
    assert status == 200
    status, report = await api.call("POST", "/api/v1/retention/run", "admin", json={})
    assert [d["blake3"] for d in report["disposed"]] == [b3]
    kinds = [e["kind"] for e in await case_kinds(api)]
    assert kinds[-3:] == ["hold.placed", "hold.lifted", "retention.disposed"]
    status, body = await api.call("GET", f"/api/v1/cases/CASE-1/objects/{b3}?purpose=audit", "investigator")
    assert status == 410 and "disposed" in body["message"]

    await api.open_case("CASE-2")  # the same bytes recorded again later are live evidence again
    await api.upload(data, case="CASE-2", recorded_at="2026-11-20T00:00:00Z")
    status, got = await api.call("GET", f"/api/v1/cases/CASE-2/objects/{b3}?purpose=audit", "investigator")
    assert status == 200 and got == data


async def test_the_public_list_pages_and_searches_the_published_text_only(file_api: Api, monkeypatch: Any) -> None:
    import api.disclosures

    monkeypatch.setattr(api.disclosures, "PUBLIC_PAGE", 2)
    made = []
    for i in range(5):
        d = await draft(file_api, decision_no=f"京朝城管罚字〔2026〕第07{i:02d}号",
                        violation=f"在公共场所占道经营 第{i}起" + ("，兜售烟花_50%" if i == 3 else ""))
        await step(file_api, d["id"], "approve")
        await step(file_api, d["id"], "publish")
        made.append(d["id"])
    pages = [await file_api.call("GET", f"/public/api/records?page={n}") for n in (1, 2, 3)]
    assert [len(body["records"]) for _, body in pages] == [2, 2, 1]
    assert [body["has_next"] for _, body in pages] == [True, True, False]
    assert sorted(r["id"] for _, body in pages for r in body["records"]) == sorted(made)
    # Search matches the published (masked) text literally: '_' and '%' are characters, not wildcards.
    _, found = await file_api.call("GET", "/public/api/records?q=烟花_50%25")
    assert [r["id"] for r in found["records"]] == [made[3]]
    _, none = await file_api.call("GET", "/public/api/records?q=" + "欧阳" + RAW["party_phone"][-4:])
    assert none["records"] == []  # the raw phone is not in the public text, so not findable
    for bad in ("page=0", "page=x", "q=" + "x" * 101):
        status, body = await file_api.call("GET", f"/public/api/records?{bad}")
        assert status == 400 and body["error"] == "bad_request", bad
