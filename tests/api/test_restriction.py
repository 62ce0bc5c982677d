"""Restricted-access cases over the API (RULES §三): need to know on every route that names a case."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from blake3 import blake3

from api import access
from api.routes import ENDPOINTS
from policy.review import MAJOR_CRITERIA
from services import accounts, restriction
from services.permissions import operator
from services.restriction import CaseAccess
from storage.changes import CaseChanges
from storage.objects import bytes_source
from tests import acting
from tests.acting import determined, principal
from tests.api.conftest import Api

CASE = "R-1"
SECRET = b"restricted clip " * 4000


@dataclass(frozen=True)
class Probe:
    """One call of a ``{case}`` route, and the normal answer of the grantee (first) and the handler (then)."""

    path: str
    grantee: int
    handler: int
    kw: dict[str, Any] = field(default_factory=dict)


_BASE = f"/api/v1/cases/{CASE}"
PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/cases/{case}"): Probe(_BASE, 200, 200),
    ("GET", "/api/v1/cases/{case}/evidence"): Probe(f"{_BASE}/evidence", 200, 200),
    ("GET", "/api/v1/cases/{case}/objects/{blake3}"): Probe(
        f"{_BASE}/objects/{blake3(SECRET).hexdigest()}?purpose=hearing", 200, 200),
    ("POST", "/api/v1/cases/{case}/records"): Probe(
        f"{_BASE}/records?stage=execution&file_name=note.txt", 201, 200, {"data": b"note"}),
    # the determination is the handler's own: a grantee may read the case but not determine its decisions
    ("POST", "/api/v1/cases/{case}/determinations"): Probe(f"{_BASE}/determinations", 403, 201, {"json": {
        "decision_no": "罚字〔2026〕第9号", "answers": dict.fromkeys(MAJOR_CRITERIA, False), "reason": "waived"}}),
    ("GET", "/api/v1/cases/{case}/checkpoint"): Probe(f"{_BASE}/checkpoint", 200, 200),
    ("GET", "/api/v1/cases/{case}/entries"): Probe(f"{_BASE}/entries", 200, 200),
    ("GET", "/api/v1/cases/{case}/proofs/inclusion"): Probe(f"{_BASE}/proofs/inclusion?index=0&size=1", 200, 200),
    ("GET", "/api/v1/cases/{case}/proofs/consistency"): Probe(f"{_BASE}/proofs/consistency?old=1&new=2", 200, 200),
    ("GET", "/api/v1/cases/{case}/receipts/{seq}"): Probe(f"{_BASE}/receipts/0", 200, 200),
    ("GET", "/api/v1/cases/{case}/retention"): Probe(f"{_BASE}/retention", 200, 200),
    ("PUT", "/api/v1/cases/{case}/retention"): Probe(f"{_BASE}/retention", 200, 200,
                                                     {"json": {"class": "case", "reason": "appeal"}}),
    ("POST", "/api/v1/cases/{case}/close"): Probe(f"{_BASE}/close", 200, 422, {"json": {"reason": "decided"}}),
    ("GET", "/api/v1/cases/{case}/access"): Probe(f"{_BASE}/access", 200, 200),
    ("PUT", "/api/v1/cases/{case}/restriction"): Probe(f"{_BASE}/restriction", 200, 422,
                                                       {"json": {"level": "state_secret", "reason": "annex"}}),
    ("POST", "/api/v1/cases/{case}/grants"): Probe(f"{_BASE}/grants", 201, 409,
                                                  {"json": {"principal": "reviewer", "reason": "legal review"}}),
    ("DELETE", "/api/v1/cases/{case}/grants/{principal}"): Probe(f"{_BASE}/grants/disclosure", 200, 404,
                                                                 {"json": {"reason": "done"}}),
    # A grantee reads the case but does not handle it: only the handler (or an admin) hands it over.
    ("POST", "/api/v1/cases/{case}/handover"): Probe(f"{_BASE}/handover", 403, 200,
                                                     {"json": {"to": "grantee", "reason": "handler on leave"}}),
    ("GET", "/api/v1/cases/{case}/shares"): Probe(f"{_BASE}/shares", 200, 200),
    ("POST", "/api/v1/cases/{case}/shares"): Probe(f"{_BASE}/shares", 201, 201, {"json": {
        "organisation": "City procuratorate", "person": "Prosecutor Li", "purpose": "review", "days": 7}}),
    ("POST", "/api/v1/cases/{case}/shares/{id}/revoke"): Probe(f"{_BASE}/shares/999/revoke", 404, 404,
                                                               {"json": {"reason": "done"}}),
    ("GET", "/api/v1/cases/{case}/redactions"): Probe(f"{_BASE}/redactions", 200, 200),
    ("POST", "/api/v1/cases/{case}/redactions"): Probe(f"{_BASE}/redactions", 201, 201, {"json": {
        "source": blake3(SECRET).hexdigest(),
        "tracks": [{"keyframes": [{"t_ms": 0, "x": 0, "y": 0, "w": 8, "h": 8}]}]}}),
    # SECRET is not a video: the detector says so (422) once need to know is satisfied
    ("POST", "/api/v1/cases/{case}/redactions/suggest"): Probe(f"{_BASE}/redactions/suggest", 422, 422,
                                                              {"json": {"source": blake3(SECRET).hexdigest()}}),
    ("POST", "/api/v1/cases/{case}/redactions/{project}/renders"): Probe(f"{_BASE}/redactions/none/renders", 404,
                                                                         404, {"json": {}}),
    ("GET", "/api/v1/cases/{case}/renders/{render}"): Probe(
        f"{_BASE}/renders/00000000-0000-0000-0000-000000000003", 404, 404),
    ("GET", "/api/v1/cases/{case}/bookmarks"): Probe(f"{_BASE}/bookmarks", 200, 200),
    ("POST", "/api/v1/cases/{case}/bookmarks"): Probe(f"{_BASE}/bookmarks", 201, 201, {"json": {
        "blake3": blake3(SECRET).hexdigest(), "at_ms": 1000, "note": "here"}}),
    ("PUT", "/api/v1/cases/{case}/bookmarks/{id}"): Probe(f"{_BASE}/bookmarks/999", 404, 404,
                                                         {"json": {"note": "there"}}),
    ("DELETE", "/api/v1/cases/{case}/bookmarks/{id}"): Probe(f"{_BASE}/bookmarks/999", 404, 404),
    # organising (issue 18, item 3): a tag not on the list, a tag the case does not have, a hold on a selection,
    # an assignment from a case that is not an intake case
    ("GET", "/api/v1/cases/{case}/tags"): Probe(f"{_BASE}/tags", 200, 200),
    ("POST", "/api/v1/cases/{case}/tags"): Probe(f"{_BASE}/tags", 404, 404, {"json": {"tag": "nope"}}),
    ("DELETE", "/api/v1/cases/{case}/tags/{name}"): Probe(f"{_BASE}/tags/nope", 409, 409),
    ("POST", "/api/v1/cases/{case}/bulk"): Probe(f"{_BASE}/bulk", 200, 200, {"json": {
        "action": "hold", "items": [blake3(SECRET).hexdigest()], "reason": "appeal"}}),
    ("POST", "/api/v1/cases/{case}/assign"): Probe(f"{_BASE}/assign", 422, 422, {"json": {
        "blake3": blake3(SECRET).hexdigest(), "to_case": "X-1", "reason": "r"}}),
}


async def restricted_case(api: Api, level: str = "privacy") -> None:
    """R-1, handled by ``investigator``, holding SECRET, restricted; ``grantee`` and ``disclosure`` granted."""
    for name in ("outsider", "grantee"):
        _, api.tokens[name] = await acting.add_principal(api.locker, name, "investigator")
    await api.open_case(CASE)
    await api.upload(SECRET, case=CASE)
    status, body = await api.call("PUT", f"{_BASE}/restriction", "investigator",
                                  json={"level": level, "reason": "a minor is filmed"})
    assert status == 200 and body["restriction"] == level and body["previous"] == "none", body
    for who in ("grantee", "disclosure"):
        status, body = await api.call("POST", f"{_BASE}/grants", "investigator",
                                      json={"principal": who, "reason": "works the case"})
        assert status == 201, body


def test_every_case_route_is_probed() -> None:
    """A new ``{case}`` route needs its probe here, so the need-to-know test covers it."""
    assert set(PROBES) == {(e.method, e.path) for e in ENDPOINTS if "{case}" in e.path}


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_need_to_know_on_every_case_route(file_api: Api, route: tuple[str, str]) -> None:
    await restricted_case(file_api)
    method, probe = route[0], PROBES[route]
    status, body = await file_api.call(method, probe.path, "outsider", **probe.kw)
    assert status == 403 and body["error"] == "restricted", (route, status, body)
    assert body["restriction"] == "privacy" and "grant" in body["message"]
    for who, expected in (("grantee", probe.grantee), ("investigator", probe.handler)):
        status, body = await file_api.call(method, probe.path, who, **probe.kw)
        assert status == expected, (route, who, status, body)


async def test_an_unrestricted_case_stays_open_to_every_reader(file_api: Api) -> None:
    for who in ("investigator", "reviewer", "admin", "disclosure"):
        status, body = await file_api.call("GET", "/api/v1/cases/CASE-1", who)
        assert status == 200 and body["restriction"] == "none" and "notice" not in body, who


async def test_admin_has_no_bypass_but_may_grant_themselves(file_api: Api) -> None:
    await restricted_case(file_api)
    status, body = await file_api.call("GET", _BASE, "admin")
    assert status == 403 and body["error"] == "restricted"
    status, body = await file_api.call("GET", f"{_BASE}/access", "admin")  # to manage it, an admin sees who has it
    assert status == 200 and body["may_read"] is False and body["handler"] == "investigator:investigator"
    assert sorted(g["principal"] for g in body["grants"]) == ["disclosure", "grantee"]
    status, body = await file_api.call("POST", f"{_BASE}/grants", "admin", json={"principal": "admin", "reason": " "})
    assert status == 422 and body["error"] == "reason_required"
    status, body = await file_api.call("POST", f"{_BASE}/grants", "admin",
                                       json={"principal": "admin", "reason": "complaint audit"})
    assert status == 201 and body["granted_by"] == "admin:admin"
    status, body = await file_api.call("GET", _BASE, "admin")
    assert status == 200 and body["restriction"] == "privacy"
    [entry] = [json.loads(r.body) for r in await file_api.locker.log.entries(CASE)
               if r.kind == "access.granted" and r.actor == "admin:admin"]
    assert (entry["principal"], entry["reason"]) == ("admin", "complaint audit")


async def test_a_revoked_grant_stops_working(file_api: Api) -> None:
    await restricted_case(file_api)
    assert (await file_api.call("GET", _BASE, "grantee"))[0] == 200
    # Revoked by another server process: this one hears the case change from the database (its cached
    # answer goes when the notification arrives, milliseconds after the commit).
    await restriction.revoke(file_api.locker, CASE, "grantee", who=principal("admin:other"),
                             reason="moved to another unit")
    for _ in range(200):
        status, body = await file_api.call("GET", _BASE, "grantee")
        if status != 200:
            break
        await asyncio.sleep(0.01)
    assert status == 403 and body["error"] == "restricted"
    # Revoked through this process: at once.
    status, _ = await file_api.call("POST", f"{_BASE}/grants", "investigator",
                                    json={"principal": "grantee", "reason": "back on the case"})
    assert status == 201 and (await file_api.call("GET", _BASE, "grantee"))[0] == 200
    status, _ = await file_api.call("DELETE", f"{_BASE}/grants/grantee", "investigator", json={"reason": "off again"})
    assert status == 200
    assert (await file_api.call("GET", _BASE, "grantee"))[0] == 403


async def test_lowering_needs_an_admin_and_a_state_secret_carries_the_notice(file_api: Api) -> None:
    await restricted_case(file_api)
    status, body = await file_api.call("PUT", f"{_BASE}/restriction", "investigator",
                                       json={"level": "state_secret", "reason": "classified annex"})
    assert status == 200 and body["restriction"] == "state_secret" and body["previous"] == "privacy"
    assert "涉密信息系统" in body["notice"]["zh"] and "classified information system" in body["notice"]["en"]
    status, body = await file_api.call("GET", _BASE, "investigator")
    assert status == 200 and body["restriction"] == "state_secret" and "涉密信息系统" in body["notice"]["zh"]
    status, body = await file_api.call("GET", f"{_BASE}/access", "grantee")
    assert status == 200 and body["label"] == {"en": "state secret", "zh": "国家秘密"} and body["notice"]
    status, body = await file_api.call("PUT", f"{_BASE}/restriction", "investigator",
                                       json={"level": "none", "reason": "annex moved"})
    assert status == 403 and body["error"] == "not_permitted"
    status, body = await file_api.call("PUT", f"{_BASE}/restriction", "admin", json={"level": "none"})
    assert status == 422
    status, body = await file_api.call("PUT", f"{_BASE}/restriction", "admin",
                                       json={"level": "none", "reason": "annex moved to the classified system"})
    assert status == 200 and body["restriction"] == "none" and "notice" not in body
    assert (await file_api.call("GET", _BASE, "outsider"))[0] == 200
    kinds = [(json.loads(r.body)["level"], r.actor) for r in await file_api.locker.log.entries(CASE)
             if r.kind == "access.restricted"]
    assert kinds == [("privacy", "investigator:investigator"), ("state_secret", "investigator:investigator"),
                     ("none", "admin:admin")]


async def test_grants_go_to_active_users_only(file_api: Api) -> None:
    await restricted_case(file_api)
    await accounts.revoke(file_api.locker, "outsider", who=operator())
    for who in ("station", "outsider", "nobody"):
        status, body = await file_api.call("POST", f"{_BASE}/grants", "investigator",
                                           json={"principal": who, "reason": "r"})
        assert status == 422, (who, body)
    status, body = await file_api.call("POST", f"{_BASE}/grants", "grantee",  # a grantee may grant
                                       json={"principal": "reviewer", "reason": "legal review"})
    assert status == 201


async def test_search_lists_an_unreadable_case_by_id_and_level_only(file_api: Api) -> None:
    await restricted_case(file_api)
    status, body = await file_api.call("GET", "/api/v1/cases", "outsider")
    rows = {row["id"]: row for row in body["cases"]}
    assert status == 200 and rows[CASE] == {"id": CASE, "restriction": "privacy", "restricted": True}
    assert rows["CASE-1"]["restriction"] == "none" and "title" in rows["CASE-1"]
    status, body = await file_api.call("GET", "/api/v1/cases", "grantee")
    assert {row["id"]: row for row in body["cases"]}[CASE]["evidence"] == 1
    # Matching by officer would tell whom the case concerns: only readers find it that way.
    for who, found in (("outsider", False), ("grantee", True), ("investigator", True), ("admin", False)):
        _, body = await file_api.call("GET", "/api/v1/cases?officer=officer-7", who)
        assert (CASE in [row["id"] for row in body["cases"]]) is found, who


async def test_verification_withholds_what_the_caller_may_not_read(file_api: Api) -> None:
    await restricted_case(file_api)
    hexd = blake3(SECRET).hexdigest()
    await file_api.locker.add_object("CASE-1", bytes_source(SECRET), kind="evidence.ingested",
                                     actor="station:station", fields={"file_name": "copy.mp4"})
    status, body = await file_api.call("GET", f"/api/v1/verify/{hexd}", "outsider")
    assert status == 200 and body["found"] and body["withheld"] == 1
    assert [m["case"] for m in body["matches"]] == ["CASE-1"]
    status, body = await file_api.call("GET", f"/api/v1/verify/{hexd}", "grantee")
    assert body["withheld"] == 0 and sorted(m["case"] for m in body["matches"]) == ["CASE-1", CASE]
    status, body = await file_api.call("POST", "/api/v1/verify", "outsider", data=SECRET)
    assert status == 200 and body["withheld"] == 1 and len(body["matches"]) == 1
    for method, path, kw in (("GET", f"/api/v1/verify/{hexd}?case={CASE}", {}),
                             ("POST", f"/api/v1/verify?case={CASE}", {"data": SECRET})):
        status, body = await file_api.call(method, path, "outsider", **kw)
        assert status == 403 and body["error"] == "restricted", path
        status, body = await file_api.call(method, path, "grantee", **kw)
        assert status == 200 and [m["case"] for m in body["matches"]] == [CASE], path
        assert "withheld" not in body


async def test_object_reverify_needs_a_readable_case(file_api: Api) -> None:
    await restricted_case(file_api)
    only_here = os.urandom(2000)
    await file_api.upload(only_here, case=CASE)
    path = f"/api/v1/objects/{blake3(only_here).hexdigest()}/verify"
    status, body = await file_api.call("POST", path, "outsider")
    assert status == 403 and body["error"] == "restricted"
    status, body = await file_api.call("POST", path, "investigator")
    assert status == 200 and body["match"] is True


async def test_holds_of_a_restricted_case(file_api: Api) -> None:
    await restricted_case(file_api)
    status, hold = await file_api.call("POST", "/api/v1/holds", "grantee", json={"case": CASE, "reason": "suit"})
    assert status == 201
    status, body = await file_api.call("POST", "/api/v1/holds", "outsider", json={"case": CASE, "reason": "x"})
    assert status == 403 and body["error"] == "restricted"
    status, body = await file_api.call("GET", "/api/v1/holds", "outsider")
    assert status == 200 and body == {"holds": [], "withheld": 1}
    status, body = await file_api.call("GET", f"/api/v1/holds?case={CASE}", "outsider")
    assert status == 403
    status, body = await file_api.call("GET", "/api/v1/holds", "grantee")
    assert [h["reason"] for h in body["holds"]] == ["suit"] and body["withheld"] == 0
    lift = f"/api/v1/holds/{hold['id']}/lift"
    status, body = await file_api.call("POST", lift, "admin", json={"reason": "settled"})
    assert status == 403 and body["error"] == "restricted"
    status, body = await file_api.call("POST", lift, "grantee", json={"reason": "settled"})
    assert status == 200


async def test_disclosure_records_follow_their_case_need_to_know(file_api: Api) -> None:
    """Issue 13 item 1, issue 14 item 1: nothing derived from a restricted case — raw fields, the masked
    preview, review opinions, the secrets treatment — reaches a user without need to know."""
    record = {"case": "CASE-1", "decision_no": "罚字〔2026〕第7号", "party_type": "natural", "party_name": "欧阳娜娜",
              "party_phone": "13812345678", "violation": "占道经营", "legal_basis": "条例第二十四条",
              "penalty": "罚款500元", "decision_date": "2026-09-20"}
    await determined(file_api.locker, "CASE-1", record["decision_no"])
    status, created = await file_api.call("POST", "/api/v1/disclosures", "disclosure", json=record)
    assert status == 201 and created["record"]["party_phone"] == "13812345678"
    rid = created["id"]
    status, _ = await file_api.call("POST", f"/api/v1/disclosures/{rid}/major", "disclosure",
                                    json={"criteria": ["major_rights"]})
    status, _ = await file_api.call("POST", f"/api/v1/disclosures/{rid}/reviews", "reviewer", json={
        "outcome": "failed", "checklist": {"facts": False}, "opinion": "当事人欧阳娜娜的询问笔录缺失"})
    assert status == 201
    status, body = await file_api.call("PUT", "/api/v1/cases/CASE-1/restriction", "investigator",
                                       json={"level": "privacy", "reason": "a minor is named"})
    assert status == 200
    answers = []
    for method, path, body in [
        ("GET", f"/api/v1/disclosures/{rid}", None), ("GET", f"/api/v1/disclosures/{rid}/links", None),
        ("POST", f"/api/v1/disclosures/{rid}/correct", {"reason": "typo", "changes": {"penalty": "罚款300元"}}),
        ("POST", f"/api/v1/disclosures/{rid}/approve", {}),
        ("POST", f"/api/v1/disclosures/{rid}/secrets-treatment", {"reason": "x"}),
    ]:
        status, answer = await file_api.call(method, path, "disclosure", json=body)
        assert status == 403 and answer["error"] == "restricted", (path, answer)
        answers.append(answer)
    status, listed = await file_api.call("GET", "/api/v1/disclosures", "disclosure")
    assert status == 200 and listed["disclosures"] == [] and listed["withheld"] == 1
    status, due = await file_api.call("GET", "/api/v1/disclosure-due?today=2040-01-01", "disclosure")
    _, spec = await file_api.call("GET", "/api/v1/openapi.json")
    leaked = json.dumps([answers, listed, due, spec], ensure_ascii=False)
    for secret in ("13812345678", "欧阳", "询问笔录", "占道经营"):
        assert secret not in leaked, secret
    # The handler reads it all, and a grantee may record the treatment the approval needs.
    status, body = await file_api.call("GET", f"/api/v1/disclosures/{rid}", "investigator")
    assert body["record"]["party_phone"] == "13812345678" and body["reviews"][0]["opinion"].startswith("当事人")
    status, body = await file_api.call("POST", f"/api/v1/disclosures/{rid}/secrets-treatment", "investigator",
                                       json={"withheld": ["violation"], "reason": "the facts describe a minor"})
    assert status == 201 and body["secrets_treatment"]["withheld"] == ["violation"]
    assert "占道经营" not in body["preview"]["text"] and "violation" in body["preview"]["excluded"]


async def test_a_state_secret_case_is_never_disclosed(file_api: Api) -> None:
    status, _ = await file_api.call("PUT", "/api/v1/cases/CASE-1/restriction", "investigator",
                                    json={"level": "state_secret", "reason": "classified annex"})
    assert status == 200
    status, body = await file_api.call("POST", "/api/v1/disclosures", "investigator", json={})
    assert status == 403
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/grants", "investigator",
                                       json={"principal": "disclosure", "reason": "publication"})
    assert status in (200, 201), body
    await determined(file_api.locker, "CASE-1", "罚字〔2026〕第8号")
    status, body = await file_api.call("POST", "/api/v1/disclosures", "disclosure", json={
        "case": "CASE-1", "decision_no": "罚字〔2026〕第8号", "party_type": "legal", "party_name": "某公司",
        "violation": "x", "legal_basis": "y", "penalty": "z", "decision_date": "2026-09-20"})
    assert status == 403 and body["error"] == "state_secret" and "classified" in body["message"]
    _, public = await file_api.call("GET", "/public/api/records")
    assert public["records"] == []


async def test_grantee_reads_are_logged_and_refusals_counted(file_api: Api) -> None:
    await restricted_case(file_api)
    url = f"{_BASE}/objects/{blake3(SECRET).hexdigest()}?purpose=hearing+preparation"
    status, data = await file_api.call("GET", url, "grantee")
    assert status == 200 and data == SECRET
    accesses = [json.loads(r.body) for r in await file_api.locker.log.entries(CASE) if r.kind == "evidence.accessed"]
    assert [(a["actor"], a["purpose"]) for a in accesses] == [("investigator:grantee", "hearing preparation")]
    for _ in range(3):
        assert (await file_api.call("GET", url, "outsider"))[0] == 403
    _, metrics = await file_api.call("GET", "/metrics", "admin")
    assert b'custody_access_denied_total{restriction="privacy"} 3.0' in metrics



async def test_a_handover_moves_need_to_know_with_the_case(file_api: Api) -> None:
    await restricted_case(file_api)
    handover = f"{_BASE}/handover"
    for who, body, status, error in [
        ("investigator", {"to": "dock", "reason": "r"}, 422, "policy"),            # no such user
        ("investigator", {"to": "station", "reason": "r"}, 422, "policy"),         # a docking station
        ("investigator", {"to": "reviewer", "reason": "r"}, 422, "policy"),        # not an investigator
        ("investigator", {"to": "investigator", "reason": "r"}, 422, "nothing_changed"),
        ("investigator", {"to": "grantee", "reason": "  "}, 422, "reason_required"),
        ("outsider", {"to": "outsider", "reason": "r"}, 403, "restricted"),        # may not even read it
        ("admin", {"to": "grantee", "reason": "r"}, 403, "restricted"),            # admins read by grant only
    ]:
        got, answer = await file_api.call("POST", handover, who, json=body)
        assert (got, answer["error"]) == (status, error), (who, body, answer)
    got, answer = await file_api.call("POST", handover, "investigator",
                                      json={"to": "outsider", "reason": "transferred to squad 2"})
    assert got == 200 and answer == {"case": CASE, "previous": "investigator:investigator",
                                     "handler": "investigator:outsider"}, answer
    entries = [json.loads(r.body) for r in await file_api.locker.log.entries(CASE)]
    assert entries[-1]["kind"] == "case.handed_over" and entries[-1]["reason"] == "transferred to squad 2"
    # The new handler reads the restricted case; the old one, holding no grant, no longer does.
    assert (await file_api.call("GET", _BASE, "outsider"))[0] == 200
    status, body = await file_api.call("GET", _BASE, "investigator")
    assert status == 403 and body["error"] == "restricted"


def test_access_is_kept_long_only_while_every_change_is_heard(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: now[0])
    state = CaseAccess("privacy", "h", True, "id-h")
    cache = access.AccessCache(5.0)
    heard = CaseChanges()
    cache.hear(heard)
    mark = cache.mark()
    cache.put("C-1", "ann", state, mark)  # not listening: kept for the short time only
    heard.live = True
    cache.put("C-2", "ann", state, mark)  # listening, no change since the read began: kept long
    mark = cache.mark()
    heard.changed("C-3")  # a change heard while C-3's state was being read: kept briefly, as unheard
    cache.put("C-3", "ann", state, mark)
    now[0] += 10
    assert [cache.get(c, "ann") for c in ("C-1", "C-2", "C-3")] == [None, state, None]
    heard.changed("C-2")  # the case changed: dropped at once
    assert cache.get("C-2", "ann") is None
    cache.put("C-2", "ann", state, cache.mark())
    heard.reset()  # the listener stopped hearing: everything goes
    assert cache.get("C-2", "ann") is None
    now[0] += access.HEARD_SECONDS
    cache.put("C-4", "ann", state, cache.mark())
    now[0] += access.HEARD_SECONDS + 1
    assert cache.get("C-4", "ann") is None  # a safety net: even heard, not forever
