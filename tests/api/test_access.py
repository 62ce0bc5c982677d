"""Who may call what (table-driven from the route table), and evidence reads: Range, purpose, logging."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from blake3 import blake3

from api.auth import TOKENS
from api.routes import ENDPOINTS
from tests.api.conftest import ROLES, Api

SAMPLE = {"case": "CASE-1", "blake3": "0" * 64, "upload": str(uuid.uuid4()), "name": "nobody", "seq": "0",
          "hold": "999", "id": "D-nothing", "action": "approve", "principal": "nobody",
          "project": "nothing", "render": str(uuid.uuid4())}


def concrete(path: str) -> str:
    for key, value in SAMPLE.items():
        path = path.replace("{" + key + "}", value)
    return path


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_role_matrix(file_api: Api, endpoint) -> None:  # type: ignore[no-untyped-def]
    path = concrete(endpoint.path)
    body = {"json": {}} if endpoint.body == "application/json" else {}
    status, _ = await file_api.call(endpoint.method, path, None, **body)
    if endpoint.roles is None:
        assert status not in (401, 403) and status < 500, f"public {endpoint.path} answered {status}"
        return
    assert status == 401, f"{endpoint.method} {endpoint.path} without a token answered {status}"
    status, _ = await file_api.call(endpoint.method, path, None, headers={"Authorization": "Bearer cst_wrong"},
                                    **body)
    assert status == 401
    for role in ROLES:
        status, reply = await file_api.call(endpoint.method, path, role, **body)
        if role in endpoint.roles:
            assert status not in (401, 403), f"{role} refused on {endpoint.method} {endpoint.path}: {reply}"
            assert status < 500, f"{role} got {status} on {endpoint.method} {endpoint.path}: {reply}"
        else:
            assert status == 403, f"{role} allowed on {endpoint.method} {endpoint.path} ({status})"
            assert reply["error"] == "forbidden"


async def test_revoked_token_stops_working(file_api: Api) -> None:
    file_api.app[TOKENS].ttl_s = 0  # no caching: revocation is immediate for this test
    status, _ = await file_api.call("GET", "/api/v1/cases", "reviewer")
    assert status == 200
    status, _ = await file_api.call("DELETE", "/api/v1/principals/reviewer", "admin")
    assert status == 200
    status, body = await file_api.call("GET", "/api/v1/cases", "reviewer")
    assert status == 401 and body["error"] == "unauthorized"


async def test_admin_creates_principal_token_shown_once(file_api: Api) -> None:
    new = {"name": "dock-9", "role": "station"}
    status, body = await file_api.call("POST", "/api/v1/principals", "admin", json=new)
    assert status == 201 and body["token"].startswith("cst_")
    status, listing = await file_api.call("GET", "/api/v1/principals", "admin")
    assert "dock-9" in [p["name"] for p in listing["principals"]]
    assert body["token"] not in json.dumps(listing)
    status, _ = await file_api.call("POST", "/api/v1/principals", "admin", json=new)
    assert status == 409


async def test_range_reads_exact_bytes_and_are_logged(api: Api) -> None:
    data = os.urandom(3 * 1024 * 1024 + 77)
    await api.upload(data)
    hexd = blake3(data).hexdigest()
    url = f"/api/v1/cases/CASE-1/objects/{hexd}"
    status, body = await api.call("GET", url, "investigator")
    assert status == 400 and "purpose" in body["message"]
    before, _ = await api.locker.log.head("CASE-1")
    for rng, want in [("bytes=0-99", data[:100]), ("bytes=1000-", data[1000:]), ("bytes=-50", data[-50:]),
                      (f"bytes=2000000-{len(data) + 99}", data[2000000:])]:
        status, got = await api.call("GET", f"{url}?purpose=court+preparation", "investigator",
                                     headers={"Range": rng})
        assert status == 206 and got == want, rng
    status, got = await api.call("GET", f"{url}?purpose=court+preparation", "investigator")
    assert status == 200 and got == data
    status, body = await api.call("GET", f"{url}?purpose=x", "investigator", headers={"Range": f"bytes={len(data)}-"})
    assert status == 416 and body["error"] == "range_not_satisfiable"
    rows = await api.locker.log.entries("CASE-1", before)
    accesses = [json.loads(r.body) for r in rows if r.kind == "evidence.accessed"]
    assert accesses and all(a["object"] == hexd and a["actor"] == "investigator:investigator" for a in accesses)
    # One entry covers the viewing session; the refused (416) read returned no bytes and logged nothing.
    assert [a["purpose"] for a in accesses] == ["court preparation"]


async def test_object_of_another_case_is_not_readable_through_this_one(file_api: Api) -> None:
    data = os.urandom(1000)
    await file_api.upload(data)
    await file_api.open_case("CASE-2")
    url = f"/api/v1/cases/CASE-2/objects/{blake3(data).hexdigest()}?purpose=p"
    status, _ = await file_api.call("GET", url, "investigator")
    assert status == 404


async def test_text_record_joins_the_case_log(file_api: Api) -> None:
    doc = "行政处罚决定书 decision notice\n".encode()
    url = "/api/v1/cases/CASE-1/records?stage=decision&file_name=notice.txt"
    status, body = await file_api.call("POST", url, "investigator", data=doc)
    assert status == 422 and "decision_no" in body["message"]  # a decision record names its decision
    status, body = await file_api.call("POST", url + "&decision_no=D-7", "investigator", data=doc)
    assert status == 409 and body["error"] == "determination_required"  # §四(二) first
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/determinations", "investigator", json={
        "decision_no": "D-7", "answers": {"public_interest": False, "social_impact": False, "major_rights": False,
                                          "after_hearing": False, "complex": False}})
    assert status == 201 and body["major"] is False
    status, body = await file_api.call("POST", url + "&decision_no=D-7", "investigator", data=doc,
                                       headers={"Content-Type": "text/plain"})
    assert status == 201, body
    entry = json.loads(body["receipt"]["entry"])
    assert (entry["kind"], entry["stage"], entry["stage_zh"]) == ("record.added", "decision", "审核决定")
    assert entry["decision_no"] == "D-7"
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/records?stage=lunch&file_name=a.txt",
                                       "investigator", data=b"x")
    assert status == 400 and "stage" in body["message"]
    status, listing = await file_api.call("GET", "/api/v1/cases/CASE-1/evidence", "disclosure")
    assert [e["kind"] for e in listing["evidence"]] == ["record.added"]


async def test_errors_are_json_everywhere(file_api: Api) -> None:
    status, body = await file_api.call("GET", "/api/v1/nothing-here")
    assert status == 404 and body["error"] == "not_found"
    status, body = await file_api.call("PATCH", "/api/v1/cases", "admin")
    assert status == 405 and body["error"] == "method_not_allowed"
    status, body = await file_api.call("GET", "/api/v1/cases/NOPE", "investigator")
    assert status == 404 and body["error"] == "case_not_found"
    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/proofs/inclusion?index=abc&size=1",
                                       "investigator")
    assert status == 400 and "integer" in body["message"]
    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/proofs/inclusion?index=5&size=9",
                                       "investigator")
    assert status == 422 and body["error"] == "bad_range"


async def test_health_metrics_openapi(file_api: Api) -> None:
    status, body = await file_api.call("GET", "/healthz")
    assert status == 200 and body == {"status": "ok", "database": "ok", "objects": "ok"}
    await file_api.upload(os.urandom(2000))
    status, text = await file_api.call("GET", "/metrics", "admin")
    assert status == 200 and b'custody_uploads_total{result="committed"} 1.0' in text
    assert b"custody_http_request_seconds_bucket" in text
    assert b'custody_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    await file_api.call("GET", "/healthz")
    status, text = await file_api.call("GET", "/metrics", "admin")
    assert b'custody_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert b'custody_http_request_seconds_count{route="/healthz"} 2.0' in text
    status, spec = await file_api.call("GET", "/api/v1/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == {(e.method, e.path) for e in ENDPOINTS}
    status, page = await file_api.call("GET", "/api/v1/docs")
    assert status == 200 and b"/api/v1/uploads" in page
