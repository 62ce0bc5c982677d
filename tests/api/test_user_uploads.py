"""Users through the stations' upload path (issue 18 item 2, the browser's intake, also over the API): the
permission `evidence.add`, need to know, open cases only, no proxies, records filed as `record.add` files them."""

from __future__ import annotations

import json
import os

from blake3 import blake3

from tests import acting
from tests.api.conftest import Api


async def declare(api: Api, who: str, data: bytes, **meta: object) -> tuple[int, dict[str, object]]:
    spec = {"case": "CASE-1", "blake3": blake3(data).hexdigest(), "size": len(data), "file_name": "photo.jpg",
            "media_type": "image/jpeg", **meta}
    status, body = await api.call("POST", "/api/v1/uploads", who, json=spec)
    return status, body


async def test_an_investigator_uploads_a_photo_logged_under_their_name(file_api: Api) -> None:
    data = os.urandom(5 * 1024 * 1024 + 7)
    done = await file_api.upload(data, station="investigator")
    assert done["state"] == "committed"
    entry = next(e for e in await file_api.locker.log.entries("CASE-1") if e.kind == "evidence.ingested")
    assert entry.actor == "investigator:investigator"
    rows = await file_api.locker.log.entries_for_object(blake3(data).hexdigest(), "CASE-1")
    assert [r.kind for r in rows] == ["evidence.ingested"]
    # The same bytes again: that entry's receipt, said to be already there; nothing stored twice.
    status, again = await declare(file_api, "admin", data)
    assert status == 200 and again["already"] is True and again["receipt"]["leaf_index"] == rows[0].seq


async def test_roles_without_evidence_add_are_refused(file_api: Api) -> None:
    for role in ("disclosure", "reviewer", "coordinator"):
        status, body = await declare(file_api, role, b"x" * 10)
        assert status == 403 and body["error"] == "forbidden", (role, body)


async def test_what_a_user_may_not_upload_into(file_api: Api) -> None:
    api = file_api
    for case_id in ("CASE-SECRET", "CASE-CLOSED"):
        await api.open_case(case_id)
    _, ian = await acting.add_principal(api.locker, "ian", "investigator")
    api.tokens["ian"] = ian
    status, body = await api.call("PUT", "/api/v1/cases/CASE-SECRET/restriction", "admin",
                                  json={"level": "privacy", "reason": "a minor is filmed"})
    assert status == 200, body
    status, body = await api.call("POST", "/api/v1/cases/CASE-CLOSED/close", "admin", json={"reason": "done"})
    assert status == 200, body
    data = b"a scanned record"
    cases = {"governance": (422, "governance log"), "CASE-CLOSED": (409, "closed"), "NO-SUCH-CASE": (404, ""),
             "CASE-SECRET": (403, "")}
    for case_id, (want, words) in cases.items():
        status, body = await declare(api, "ian", data, case=case_id)
        assert status == want and words in str(body["message"]), (case_id, status, body)
    status, body = await api.call("POST", "/api/v1/uploads", "ian", json={
        "blake3": blake3(data).hexdigest(), "size": len(data), "file_name": "a.jpg"})
    assert status == 422 and "name the case" in body["message"]
    status, body = await declare(api, "ian", data, kind="proxy", original_blake3="ab" * 32,
                                 ffmpeg={"command": "ffmpeg", "version": "6"})
    assert status == 422 and "stations" in body["message"]
    status, body = await declare(api, "ian", data, station="station")
    assert status == 403 and "not a docking station" in body["message"]
    # A decision-stage record names a cleared decision (§四), exactly as POST …/records asks.
    status, body = await declare(api, "ian", data, kind="record", stage="decision")
    assert status in (409, 422) and "decision" in body["message"], body
    assert not await api.locker.log.entries_for_object(blake3(data).hexdigest(), "CASE-1")


async def test_a_record_carries_its_stage_and_title(file_api: Api) -> None:
    data = b"%PDF-1.4 scanned inquiry record"
    done = await file_api.upload(data, station="investigator", kind="record",
                                 stage="investigation", title="询问笔录", file_name="inquiry.pdf")
    assert done["state"] == "committed"
    rows = await file_api.locker.log.entries_for_object(blake3(data).hexdigest(), "CASE-1")
    assert [r.kind for r in rows] == ["record.added"]
    entry = json.loads(rows[0].body)
    assert (entry["stage"], entry["stage_zh"], entry["title"], entry["file_name"]) == (
        "investigation", "调查取证", "询问笔录", "inquiry.pdf")
    assert "station" not in entry and entry["actor"] == "investigator:investigator"
