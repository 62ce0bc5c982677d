"""A station writes only to intake or open, unrestricted evidence cases and learns nothing else (issue 14, item 3)."""

from __future__ import annotations

from blake3 import blake3

from tests import acting
from tests.api.conftest import Api


async def test_a_station_gets_one_answer_for_every_case_it_may_not_write_to(file_api: Api) -> None:
    api = file_api
    for case_id in ("CASE-SECRET", "CASE-CLOSED"):
        await api.open_case(case_id)
    status, body = await api.call("PUT", "/api/v1/cases/CASE-SECRET/restriction", "investigator",
                                  json={"level": "privacy", "reason": "a minor is filmed"})
    assert status == 200, body
    status, body = await api.call("POST", "/api/v1/cases/CASE-CLOSED/close", "investigator", json={"reason": "done"})
    assert status == 200, body
    answers = []
    for case_id in ("governance", "CASE-CLOSED", "NO-SUCH-CASE"):
        status, body = await api.declare(b"clip " + case_id.encode(), case_id)
        answers.append((status, body["error"], body["message"].replace(case_id, "X")))
    assert len(set(answers)) == 1 and answers[0][0] == 404, answers  # nothing tells the three apart
    _, log = await api.call("GET", "/api/v1/cases/governance/entries", "admin")
    assert b"clip" not in log
    receipt = await api.upload(b"an open case still takes uploads", case="CASE-1")
    assert receipt["state"] == "committed"
    # a restricted case still takes new footage, and the station gets only its own receipt
    secret = await api.upload(b"footage for the restricted case", case="CASE-SECRET")
    assert secret["state"] == "committed" and secret["receipt"]["case"] == "CASE-SECRET"
    status, body = await api.call("POST", f"/api/v1/evidence/{'ab' * 32}/no-proxy", "station",
                                  json={"case": "CASE-CLOSED", "error": "ffmpeg failed"})
    assert status == 404 and body["error"] == answers[0][1]


async def test_a_station_gets_no_receipt_for_bytes_someone_else_logged(file_api: Api) -> None:
    data = b"footage the first station uploaded"
    first = await file_api.upload(data, station="station")
    assert first["state"] == "committed"
    _, file_api.tokens["station-b"] = await acting.add_principal(file_api.locker, "station-b", "station")
    status, body = await file_api.declare(data, "CASE-1", station="station-b")
    assert status == 409 and body["error"] == "already_evidence", body
    assert "receipt" not in body and "officer-7" not in str(body) and blake3(data).hexdigest() not in str(body)
    status, body = await file_api.declare(data, "CASE-1", station="station")  # its own upload: the receipt again
    assert status == 200 and body["receipt"]["case"] == "CASE-1"
